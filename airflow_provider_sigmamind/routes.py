"""Connection lookups shared by the hooks of one event loop: one lookup per connection per minute.

Reading a connection costs a trigger more CPU than a poll (the lookup, in a triggerer a round trip
to the supervisor, then checking and masking the key): a triggerer starting ten thousand triggers
for one connection would spend more than a core on lookups alone. The hooks of one event loop with
the same connection id and the same settings (``timeout``, ``max_retries``, ``retry_policy``) share
one lookup (single flight) and its :class:`~airflow_provider_sigmamind.api_call.Route` for
:data:`ROUTE_TTL` seconds; a connection edited meanwhile is read again after that. A failed lookup
is not kept.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING

from airflow_provider_sigmamind.coalesce import copy_error
from airflow_provider_sigmamind.exceptions import SigmaMindError

if TYPE_CHECKING:
    from airflow_provider_sigmamind.api_call import Route

__all__ = ["ROUTE_TTL", "SharedRoutes", "shared_routes"]

#: Seconds a looked-up connection is reused by the other hooks of the loop.
ROUTE_TTL = 60.0


class SharedRoutes:
    """Per event loop: settings -> (when looked up, the lookup's task)."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Hashable, tuple[float, asyncio.Task[Route]]]
        ] = weakref.WeakKeyDictionary()

    async def get(self, key: Hashable, lookup: Callable[[], Awaitable[Route]]) -> Route:
        """The route for ``key``, from a lookup of the last :data:`ROUTE_TTL` seconds or a new one.

        :param key: the connection id and the hook's settings.
        :param lookup: reads the connection (the hook's own lookup).
        """
        loop = asyncio.get_running_loop()
        table = self._by_loop.get(loop)
        if table is None:
            table = self._by_loop[loop] = {}
        now = loop.time()
        entry = table.get(key)
        if entry is None or now - entry[0] >= ROUTE_TTL or (entry[1].done() and entry[1].exception() is not None):
            if len(table) > 64:  # settings seldom vary; drop what has expired
                for stale in [k for k, (at, _) in table.items() if now - at >= ROUTE_TTL]:
                    del table[stale]
            entry = table[key] = (now, loop.create_task(_run(lookup)))
        # shield: a hook cancelled while waiting must not cancel the lookup of the others
        try:
            return await asyncio.shield(entry[1])
        except SigmaMindError as err:  # each hook its own copy (add_detail changes an error in place)
            raise copy_error(err) from None


async def _run(lookup: Callable[[], Awaitable[Route]]) -> Route:
    return await lookup()


shared_routes = SharedRoutes()
