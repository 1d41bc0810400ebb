"""One ``aiohttp.ClientSession`` per event loop, shared by every hook of that loop, reference-counted.

A triggerer runs thousands of triggers in one loop; they share one session, so they hold at most
:data:`ASYNC_MAX_CONNECTIONS` sockets between them, and thousands of waiting requests queue in
aiohttp's connector (O(1) each). Requests carry their own headers (the key among them), timeouts,
proxy and TLS context, and the session keeps no cookies, so hooks for different connections can
share it safely. The last hook to let go (:meth:`SharedSessions.release`) closes it.

A hook used in a second event loop (a second ``asyncio.run``) gets that loop's session; its lease
on the first is given up, and when the first loop is already closed its session is dropped without
awaiting anything (its sockets went with the loop).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ASYNC_MAX_CONNECTIONS", "Lease", "SharedSessions", "shared_sessions"]

#: Most sockets one event loop holds open, however many triggers poll through it.
ASYNC_MAX_CONNECTIONS = 100


def _new_session() -> aiohttp.ClientSession:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=ASYNC_MAX_CONNECTIONS, limit_per_host=ASYNC_MAX_CONNECTIONS)
    session = aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),  # no state between calls, as on the sync path
        auto_decompress=False,  # bodies are decompressed with a bound by transport.body
        trust_env=False,  # proxies and CA bundle are chosen by transport.network
        timeout=aiohttp.ClientTimeout(total=None),  # every request brings its own
        # No skip_auto_headers: every request carries Accept, Accept-Encoding and User-Agent, and a
        # Content-Type with any body (api_call.py), so aiohttp adds none of its own; naming them
        # would cost each request a header table of its own, alive until the answer.
    )
    # aiohttp silently resends an idempotent request once when a reused connection drops before the
    # answer; requests does not. One attempt is one request on both paths, counted by our retry
    # policy, so that resend is switched off (no public switch exists; the attribute is set in
    # ClientSession.__init__ of every aiohttp 3.x that has the feature).
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
    return session


@dataclass(eq=False)
class Lease:
    """A loop's session and how many hooks hold it: every hook in one loop holds the same lease."""

    loop: asyncio.AbstractEventLoop
    session: aiohttp.ClientSession
    users: int = 0


class SharedSessions:
    """The sessions of every event loop of the process, one each, counted by lease."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Lease] = weakref.WeakKeyDictionary()

    def acquire(self) -> Lease:
        """A hold on the running loop's session, created on first use."""
        loop = asyncio.get_running_loop()
        with self._lock:
            lease = self._by_loop.get(loop)
            if lease is None or lease.session.closed:
                lease = self._by_loop[loop] = Lease(loop, _new_session())
            lease.users += 1
            return lease

    def _let_go(self, lease: Lease) -> bool:
        """Count one user less; True when that was the last and the session must be closed."""
        with self._lock:
            lease.users -= 1
            if lease.users > 0:
                return False
            if self._by_loop.get(lease.loop) is lease:
                del self._by_loop[lease.loop]
            return True

    async def release(self, lease: Lease) -> None:
        """Give a hold back from its own loop; the last one closes the session."""
        if self._let_go(lease):
            await lease.session.close()

    def abandon(self, lease: Lease) -> None:
        """Give a hold back from outside its loop (which may be closed): nothing is awaited."""
        if self._let_go(lease) and lease.loop.is_closed():
            lease.session.detach()  # its sockets were closed with the loop

    def lease(self, held: Lease | None) -> Lease:
        """A hook's lease for the running loop: ``held`` if it is this loop's, else a new one (a
        ``held`` from an earlier loop, an earlier ``asyncio.run``, is given up).

        The hook keeps the lease itself, not an object around it: at thousands of waits, each object
        a hook holds is one more that every full collection walks."""
        if held is not None:
            if held.loop is asyncio.get_running_loop():
                return held
            self.abandon(held)
        return self.acquire()

    async def give_back(self, held: Lease | None) -> None:
        """A hook's lease given back, from its own loop or another; nothing to do without one."""
        if held is None:
            return
        if held.loop is asyncio.get_running_loop():
            await self.release(held)
        else:
            self.abandon(held)

    def open_sessions(self) -> int:
        """How many sessions the running loop holds (0 or 1; for tests and benchmarks)."""
        with self._lock:
            lease = self._by_loop.get(asyncio.get_running_loop())
            return int(lease is not None and not lease.session.closed)


shared_sessions = SharedSessions()
