"""Writing answers on the wire for the SigmaMind simulator: whole responses, and the faults that misbehave.

No state here: the server (:mod:`~airflow_provider_sigmamind.simulator.server`) decides what to
answer, these functions write it to the connection.
"""

from __future__ import annotations

import asyncio
import functools
import zlib
from collections.abc import Callable

from airflow_provider_sigmamind.simulator.campaigns import error_body
from airflow_provider_sigmamind.simulator.faults import SAMPLE_CAMPAIGN, Fault
from airflow_provider_sigmamind.simulator.protocol import Request, Response, response_head
from airflow_provider_sigmamind.simulator.recording import RecordEntry

__all__ = ["head", "send", "serve_fault"]

_TRICKLE_LENGTH = 100_000
_CHUNK = 64 * 1024


@functools.lru_cache(maxsize=4)
def _gzip_zeros(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed (about 1 kB per MB), built chunk by chunk."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(_CHUNK)
    parts = [packer.compress(zeros[: min(_CHUNK, size - done)]) for done in range(0, size, _CHUNK)]
    return b"".join([*parts, packer.flush()])


def head(
    status: int,
    request: Request | None,
    content_type: str | None,
    length: int | None,
    extra: list[tuple[str, str]],
) -> bytes:
    """Render a response head with Connection, Content-Type and Content-Length.

    :param status: the HTTP status.
    :param request: the request (None if it could not be read: the connection closes).
    :param content_type: the body's type, or None for no body.
    :param length: the Content-Length, or None for no body.
    :param extra: more headers.
    """
    keep_alive = request is not None and request.keep_alive
    headers = [("Connection", "keep-alive" if keep_alive else "close")]
    if content_type is not None and length is not None:
        headers += [("Content-Type", content_type), ("Content-Length", str(length))]
    return response_head(status, headers + extra)


async def send(
    writer: asyncio.StreamWriter,
    request: Request | None,
    response: Response,
    entry: RecordEntry | None,
) -> bool:
    """Write a complete response; return whether the connection stays open.

    :param writer: the connection's writer.
    :param request: the request (None if it could not be read).
    :param response: the answer.
    :param entry: the request's record, if recorded.
    """
    if entry is not None:
        entry.status = response.status
    if response.status in (204, 304):
        writer.write(head(response.status, request, None, None, response.headers))
    else:
        start = head(response.status, request, response.content_type, len(response.body), response.headers)
        writer.write(start + response.body)
    await writer.drain()
    return request is not None and request.keep_alive


async def serve_fault(
    fault: Fault,
    request: Request,
    entry: RecordEntry,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    answer: Callable[[], Response],
) -> bool:
    """Serve any fault but ``slow`` (which waits, then reaches the API); return whether the connection stays open.

    :param fault: the fault.
    :param request: the request.
    :param entry: its record.
    :param reader: the connection's reader.
    :param writer: the connection's writer.
    :param answer: the API's normal answer, for the faults that cut it short (``reset_mid_body``).
    """
    if fault.kind == "drop":
        return False
    if fault.kind == "answer_late":
        response = answer()
        await asyncio.sleep(fault.delay)
        return await send(writer, request, response, entry)
    if fault.kind == "reset_mid_body":
        response = answer()
        status = 200 if response.status == 204 else response.status
        length = max(len(response.body), 2)
        entry.status = status
        writer.write(head(status, request, response.content_type, length, response.headers))
        writer.write(response.body[: length // 2])
        await writer.drain()
        return False
    if fault.kind == "trickle":
        await trickle(fault.interval, request, entry, reader, writer)
        return False
    if fault.kind == "huge":
        await huge(fault.size, request, entry, writer)
        return request.keep_alive
    if fault.kind == "trickle_head":
        entry.status = 200
        start = head(200, request, "application/json", len(SAMPLE_CAMPAIGN), [])
        for index in range(len(start)):
            if reader.at_eof() or writer.is_closing():
                return False
            writer.write(start[index : index + 1])
            await writer.drain()
            await asyncio.sleep(fault.interval)
        writer.write(SAMPLE_CAMPAIGN)
        await writer.drain()
        return False
    if fault.kind == "gzip_bomb":
        entry.status = 200
        packed = _gzip_zeros(fault.size)
        extra = [("Content-Encoding", "gzip")]
        writer.write(head(200, request, "application/json", len(packed), extra) + packed)
        await writer.drain()
        return request.keep_alive
    body = fault.payload
    if body is None:
        body = error_body(fault.code, "Simulated fault", entry.request.path)
    response = Response(fault.code, body, list(fault.headers), fault.content_type)
    return await send(writer, request, response, entry)


async def trickle(
    interval: float,
    request: Request,
    entry: RecordEntry,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """Send 200 headers claiming a large body, then one byte per interval until a side closes.

    :param interval: seconds between bytes.
    :param request: the request.
    :param entry: its record.
    :param reader: the connection's reader (to notice the client closing).
    :param writer: the connection's writer.
    """
    entry.status = 200
    writer.write(head(200, request, "application/json", _TRICKLE_LENGTH, []))
    await writer.drain()
    position = 0
    while not reader.at_eof() and not writer.is_closing():
        await asyncio.sleep(interval)
        writer.write(SAMPLE_CAMPAIGN[position : position + 1])
        await writer.drain()
        position = (position + 1) % len(SAMPLE_CAMPAIGN)


async def huge(size: int, request: Request, entry: RecordEntry, writer: asyncio.StreamWriter) -> None:
    """Stream a JSON-looking body of ``size`` bytes without building it in memory.

    :param size: body size in bytes.
    :param request: the request.
    :param entry: its record.
    :param writer: the connection's writer.
    """
    prefix, suffix = b'{"campaignId": "camp_huge", "padding": "', b'"}'
    if size < len(prefix) + len(suffix):
        prefix, suffix = b" " * size, b""
    entry.status = 200
    writer.write(head(200, request, "application/json", size, []) + prefix)
    padding, filler = size - len(prefix) - len(suffix), b"x" * _CHUNK
    while padding > 0:
        writer.write(filler[: min(padding, _CHUNK)])
        padding -= _CHUNK
        await writer.drain()
    writer.write(suffix)
    await writer.drain()
