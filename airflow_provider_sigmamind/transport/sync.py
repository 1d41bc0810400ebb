"""The sync adapter: one ``requests.Session`` per hook, every attempt bounded as a whole.

``requests`` bounds each socket operation, not the attempt: a server that trickles its headers one
byte at a time never trips a read timeout. So every attempt is also registered with one watchdog
thread per process, which shuts the attempt's socket down when its time is up; the blocked read
then returns at once and the attempt ends as :class:`~airflow_provider_sigmamind.transport.Unfinished`.
"""

from __future__ import annotations

import contextlib
import heapq
import http.cookiejar
import itertools
import math
import os
import socket
import threading
import time
from http.client import HTTPException
from typing import TYPE_CHECKING, Any

from airflow_provider_sigmamind.defaults import CONNECT_TIMEOUT
from airflow_provider_sigmamind.transport import (
    Answer,
    Request,
    TransportFailure,
    Unfinished,
)
from airflow_provider_sigmamind.transport.body import BoundedBody
from airflow_provider_sigmamind.transport.errors import failure_of

if TYPE_CHECKING:
    import requests

__all__ = ["SyncTransport"]


class NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing (and skips parsing ``Set-Cookie``): no state between calls."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


class _Attempt:
    """One attempt's deadline and the connection it is using (set when urllib3 hands one out)."""

    __slots__ = ("conn", "done", "expired", "expires")

    def __init__(self, expires: float) -> None:
        self.expires = expires
        self.conn: Any = None
        self.done = False
        self.expired = False


class _Watchdog:
    """One thread that shuts down the socket of every attempt still running at its deadline.

    Cheap on the hot path: registering is a heap push under a lock, and the thread is only woken
    when a new deadline is earlier than the one it sleeps until (rarely: timeouts are alike).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Attempt]] = []
        self._order = itertools.count()
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None

    def watch(self, attempt: _Attempt) -> None:
        with self._cond:
            heapq.heappush(self._heap, (attempt.expires, next(self._order), attempt))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sigmamind-deadlines", daemon=True)
                self._thread.start()
            elif attempt.expires < self._wake_at:
                self._cond.notify()

    def finish(self, attempt: _Attempt) -> None:
        with self._cond:
            attempt.done = True

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    attempt = heapq.heappop(self._heap)[2]
                    if not attempt.done:
                        _expire(attempt)
                self._wake_at = self._heap[0][0] if self._heap else math.inf
                self._cond.wait(None if not self._heap else self._wake_at - now)


def _expire(attempt: _Attempt) -> None:
    attempt.expired = True
    sock = getattr(attempt.conn, "sock", None)
    if sock is not None:
        # The plain socket's shutdown, also for TLS sockets: the reading thread owns the TLS state.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


_watchdog = _Watchdog()
_current = threading.local()


def _reset_after_fork() -> None:
    global _watchdog, _current
    _watchdog, _current = _Watchdog(), threading.local()


os.register_at_fork(after_in_child=_reset_after_fork)


def _watched_pools() -> dict[str, type]:
    """urllib3 pool classes that tell the current attempt which connection it got."""
    import urllib3

    def get_conn(self: Any, timeout: float | None = None) -> Any:
        conn = super(type(self), self)._get_conn(timeout)
        attempt = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.conn = conn
        return conn

    http_pool = type("WatchedHTTPConnectionPool", (urllib3.HTTPConnectionPool,), {"_get_conn": get_conn})
    https_pool = type("WatchedHTTPSConnectionPool", (urllib3.HTTPSConnectionPool,), {"_get_conn": get_conn})
    return {"http": http_pool, "https": https_pool}


def _session() -> requests.Session:
    import requests
    import requests.adapters

    class _NoRedirects(requests.Session):
        """Redirects are never followed, nor read: requests would read a redirect's body whole
        (to free the connection for the next hop), undecoded limits and all."""

        def resolve_redirects(self, *args: Any, **kwargs: Any) -> Any:
            return iter(())

    pools = _watched_pools()

    class Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            manager.pool_classes_by_scheme = pools
            return manager

    session = _NoRedirects()
    session.trust_env = False  # proxies and CA bundle are chosen by transport.network, as on the async path
    session.cookies = NoCookies()  # type: ignore[assignment]
    session.headers.clear()
    for scheme in ("http://", "https://"):
        session.mount(scheme, Adapter())
    return session


class SyncTransport:
    """Send requests through one ``requests`` session (keep-alive), each attempt bounded as a whole."""

    def __init__(self) -> None:
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        """The session, created on first use."""
        if self._session is None:
            self._session = _session()
        return self._session

    def close(self) -> None:
        """Close the session and its pooled connections."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def send(self, request: Request) -> Answer:
        """Send ``request`` once.

        :raises TransportFailure: (or a subclass) when no whole answer came back in time.
        """
        import requests
        import urllib3

        attempt = _Attempt(time.monotonic() + request.timeout)
        _current.attempt = attempt
        _watchdog.watch(attempt)
        try:
            with self.session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                timeout=(min(CONNECT_TIMEOUT, request.timeout), request.timeout),
                allow_redirects=False,
                stream=True,
                verify=request.ca_file,
                proxies={"http": request.proxy, "https": request.proxy} if request.proxy else None,
            ) as response:
                answer = Answer(response.status_code, response.headers, _read(response))
        except TransportFailure:
            raise
        # urllib3's and http.client's own errors too: requests lets some through while a body is read.
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, HTTPException, OSError) as exc:
            if attempt.expired or isinstance(exc, requests.exceptions.Timeout):
                raise Unfinished("") from None
            raise failure_of(exc) from None
        finally:
            _current.attempt = None
            _watchdog.finish(attempt)
        if attempt.expired:  # cut off mid-head, http.client may take what it got for a whole answer
            raise Unfinished("")
        return answer


def _read(response: requests.Response) -> bytes:
    """The body, raw from the socket and decompressed by :class:`BoundedBody`."""
    headers = response.headers
    body = BoundedBody(response.status_code, headers.get("Content-Encoding"), declared=headers.get("Content-Length"))
    for chunk in response.raw.stream(65536, decode_content=False):
        body.feed(chunk)
    return body.finish()
