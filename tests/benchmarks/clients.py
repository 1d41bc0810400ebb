"""The bare HTTP clients the fan-out benchmark sets beside the provider, each as one poll function.

Each factory is an async context manager yielding ``poll(campaign_id)``: one GET of
``/v1/campaigns/{id}`` with the key, its JSON decoded, nothing else (no retries, no checks, no
size limit, no error mapping). They are what a trigger built directly on the library would do, so
that the provider's figures can be read against the library it is built on and against a floor.

``raw_streams`` is that floor: HTTP/1.1 over ``asyncio.open_connection`` with keep-alive, reading
exactly ``Content-Length`` bytes. It is benchmark code only and must never be used for the real API
(no TLS, proxies, chunking, compression or redirects).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

Poll = Callable[[str], Coroutine[Any, Any, Any]]
ClientFactory = Callable[[str, str], Any]  # (base URL, API key) -> async context manager of a Poll

#: The most connections each bare client holds to the simulator (httpx's and aiohttp's default).
MAX_CONNECTIONS = 100


def _headers(api_key: str) -> dict[str, str]:
    return {"X-API-Key": api_key, "Accept": "application/json"}


@asynccontextmanager
async def shared_httpx(base_url: str, api_key: str) -> AsyncIterator[Poll]:
    """One ``httpx.AsyncClient`` shared by every poll, httpx's defaults."""
    import httpx

    headers = _headers(api_key)
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:

        async def poll(campaign_id: str) -> Any:
            response = await client.get(f"/v1/campaigns/{campaign_id}")
            response.raise_for_status()
            return response.json()

        yield poll


@asynccontextmanager
async def shared_aiohttp(base_url: str, api_key: str) -> AsyncIterator[Poll]:
    """One ``aiohttp.ClientSession`` shared by every poll, aiohttp's defaults."""
    import aiohttp

    async with aiohttp.ClientSession(base_url=base_url, headers=_headers(api_key)) as session:

        async def poll(campaign_id: str) -> Any:
            async with session.get(f"/v1/campaigns/{campaign_id}") as response:
                response.raise_for_status()
                return await response.json()

        yield poll


@asynccontextmanager
async def aiohttp_per_poll(base_url: str, api_key: str) -> AsyncIterator[Poll]:
    """The naive baseline: a new ``aiohttp.ClientSession`` for every poll, closed after it.

    As ``HttpSensorTrigger`` and several providers' triggers do. aiohttp builds its SSL context
    once per process, so a new session does not reload the CA bundle (a new ``httpx.AsyncClient``
    would, about 23 ms of CPU each).
    """
    import aiohttp

    headers = _headers(api_key)

    async def poll(campaign_id: str) -> Any:
        async with (
            aiohttp.ClientSession(base_url=base_url, headers=headers) as session,
            session.get(f"/v1/campaigns/{campaign_id}") as response,
        ):
            response.raise_for_status()
            return await response.json()

    yield poll


class _RawConnections:
    """Kept-alive HTTP/1.1 connections to one host: a LIFO free list behind a semaphore."""

    def __init__(self, host: str, port: int, api_key: str) -> None:
        self.host, self.port = host, port
        self.head = f"\r\nHost: {host}:{port}\r\nX-API-Key: {api_key}\r\nAccept: application/json\r\n\r\n"
        self.free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.gate = asyncio.Semaphore(MAX_CONNECTIONS)

    async def get(self, path: str) -> bytes:
        async with self.gate:
            request = f"GET {path} HTTP/1.1{self.head}".encode()
            while self.free:  # a kept-alive connection the server may have closed meanwhile
                reader, writer = self.free.pop()
                try:
                    return await self._exchange(reader, writer, request)
                except (ConnectionError, asyncio.IncompleteReadError):
                    writer.close()
            reader, writer = await asyncio.open_connection(self.host, self.port)
            return await self._exchange(reader, writer, request)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bytes:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        length = 0
        keep_alive = True
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep_alive = False
        body = await reader.readexactly(length)
        if keep_alive:
            self.free.append((reader, writer))
        else:
            writer.close()
        status = int(status_line.split(b" ", 2)[1])
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        return body

    def close(self) -> None:
        for _reader, writer in self.free:
            writer.close()
        self.free.clear()


@asynccontextmanager
async def raw_streams(base_url: str, api_key: str) -> AsyncIterator[Poll]:
    """The floor: a minimal keep-alive HTTP/1.1 GET over asyncio streams (benchmark-only code)."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    connections = _RawConnections(host, int(port), api_key)

    async def poll(campaign_id: str) -> Any:
        return json.loads(await connections.get(f"/v1/campaigns/{campaign_id}"))

    try:
        yield poll
    finally:
        connections.close()
