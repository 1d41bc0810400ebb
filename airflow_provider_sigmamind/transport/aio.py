"""The async adapter: requests through the running loop's shared ``aiohttp`` session.

aiohttp is what Airflow's own async HTTP hook and the dbt Cloud and HTTP providers use, and it costs
about half the CPU per request of httpx (docs/performance.md). Each attempt is bounded as a whole
(waiting for a connection, connecting, sending and every byte read) by
:class:`~airflow_provider_sigmamind.deadlines.within`, not by aiohttp's ``total`` timeout, whose timer
per request outlives the request by the whole timeout (see there); aiohttp bounds only connecting.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

from airflow_provider_sigmamind.deadlines import within
from airflow_provider_sigmamind.defaults import CONNECT_TIMEOUT
from airflow_provider_sigmamind.transport import (
    Answer,
    Request,
    TransportFailure,
    Unfinished,
)
from airflow_provider_sigmamind.transport.body import BoundedBody
from airflow_provider_sigmamind.transport.errors import CLOSED_EARLY, failure_of
from airflow_provider_sigmamind.transport.network import ssl_context

if TYPE_CHECKING:
    import aiohttp
    import yarl

__all__ = ["send"]


@functools.lru_cache(maxsize=64)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=min(CONNECT_TIMEOUT, seconds))


def _url(url: str) -> yarl.URL:
    """``url`` sent as built: an encoded id segment stays encoded.

    Not cached here: a triggerer polling more campaigns than a cache holds would miss at every poll
    (waits ask in a cycle), and a kept URL per campaign is heap the collector walks; building one
    costs about 2 us of a poll's 500 or so."""
    import yarl

    return yarl.URL(url, encoded=True)


async def send(session: aiohttp.ClientSession, request: Request) -> Answer:
    """Send ``request`` once through ``session``.

    :raises TransportFailure: (or a subclass) when no whole answer came back in time.
    """
    https = request.url.startswith("https:")
    try:
        with within(request.timeout):
            # Awaited, not entered with ``async with``: the context manager's ``__aenter__`` would be
            # one more coroutine alive through every request; ``release()`` below is what its exit does.
            response = await session.request(
                request.method,
                _url(request.url),
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
                # Rounded so that the cache of timeout objects stays small; a millisecond is nothing here.
                timeout=_timeout(round(request.timeout, 3)),
                proxy=request.proxy,
                ssl=ssl_context(request.ca_file) if https else True,
            )
            try:
                headers = response.headers
                declared = headers.get("Content-Length")
                body = BoundedBody(response.status, headers.get("Content-Encoding"), declared=declared)
                if declared is not None:  # and not over the limit (BoundedBody refused it): read at once
                    body.feed(await response.content.read())
                else:
                    async for chunk in response.content.iter_any():
                        body.feed(chunk)
                return Answer(response.status, headers, body.finish())
            finally:
                response.release()  # the connection goes back to the pool, or is closed if not read to the end
    except TransportFailure:
        raise
    except TimeoutError:  # within()'s, and aiohttp's own (a new connection's) are TimeoutError subclasses
        raise Unfinished("") from None
    except (OSError, asyncio.IncompleteReadError) as exc:
        raise failure_of(exc) from None
    except Exception as exc:
        failure = _client_failure(exc)
        if failure is None:
            raise  # not aiohttp's: a bug, raised as it is
        raise failure from None


def _client_failure(exc: Exception) -> TransportFailure | None:
    """What an exception of aiohttp's own means; ``None`` for any other.

    Imported here, not around every request: the request path stays free of import statements.
    """
    import aiohttp

    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return TransportFailure(CLOSED_EARLY)
    if isinstance(exc, aiohttp.ClientError):
        return failure_of(exc)
    return None
