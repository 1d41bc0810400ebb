"""Just enough HTTP/1.1 for the SigmaMind simulator: read requests, render response heads, multipart."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
_REQUEST_LINE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP/(1\.[01])")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PARAM = re.compile(r'([\w*-]+)=(?:"([^"]*)"|([^;\s]*))')


class ProtocolError(Exception):
    """A request the server cannot read: answered with ``status``, then the connection closes.

    :param status: the HTTP status to answer with.
    :param message: what was wrong.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    """One parsed request.

    :param method: the method, as sent.
    :param target: the request target exactly as on the request line (path and query, undecoded).
    :param version: ``1.1`` or ``1.0``.
    :param headers: header names and values as received.
    :param body: the body (de-chunked).
    """

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Return the last value of a header, matched case-insensitively; None if absent.

        :param name: the header name.
        """
        name = name.lower()
        values = [value for key, value in self.headers if key.lower() == name]
        return values[-1] if values else None

    @property
    def segments(self) -> list[str]:
        """The path split on ``/``, then each segment percent-decoded (``%2F`` stays inside its segment)."""
        return [unquote(part) for part in self.target.partition("?")[0].split("/")]

    @property
    def keep_alive(self) -> bool:
        """Whether the client wants the connection kept open after this request."""
        tokens = {token.strip().lower() for token in (self.header("connection") or "").split(",")}
        if self.version == "1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


@dataclass
class Response:
    """A complete answer.

    :param status: the HTTP status.
    :param body: the body.
    :param headers: extra headers.
    :param content_type: the body's Content-Type.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    """Read one request; None when the client closed the connection between requests.

    :param reader: the connection's reader.
    :param writer: the connection's writer (for ``100 Continue``).
    """
    head = b""
    while not head.strip():
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise ProtocolError(400, "incomplete request head") from None
            return None
        except asyncio.LimitOverrunError:
            raise ProtocolError(431, "request head too large") from None
    lines = head.decode("latin-1").strip("\r\n").split("\r\n")
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise ProtocolError(400, "malformed request line")
    request = Request(method=match[1], target=match[2], version=match[3])
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise ProtocolError(400, "malformed header line")
        request.headers.append((name, value.strip(" \t")))
    request.body = await _read_body(request, reader, writer)
    return request


async def _read_body(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """Read the body announced by Content-Length or chunked Transfer-Encoding.

    :param request: the request whose head was read.
    :param reader: the connection's reader.
    :param writer: the connection's writer.
    """
    chunked = "chunked" in (request.header("transfer-encoding") or "").lower()
    length_text = request.header("content-length")
    if not chunked and length_text is None:
        return b""
    length = 0
    if length_text is not None and not chunked:
        if not (length_text.isascii() and length_text.isdigit()) or len(length_text) > 12:
            raise ProtocolError(400, "invalid Content-Length")
        length = int(length_text)
        if length > MAX_BODY:
            raise ProtocolError(413, "request body too large")
    if (request.header("expect") or "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if not chunked:
        return await reader.readexactly(length)
    body = bytearray()
    while True:
        size_line = (await reader.readuntil(b"\r\n")).split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise ProtocolError(400, "invalid chunk size") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return bytes(body)
        if len(body) + size > MAX_BODY:
            raise ProtocolError(413, "request body too large")
        body += (await reader.readexactly(size + 2))[:-2]


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """Render a response status line and headers, with Date and Server added.

    :param status: the HTTP status.
    :param headers: header names and values.
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [
        f"HTTP/1.1 {status} {reason}",
        f"Date: {formatdate(usegmt=True)}",
        "Server: sigmamind-simulator",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_multipart(body: bytes, content_type: str) -> dict[str, bytes]:
    """Parse a ``multipart/form-data`` body into its fields by name (the last of a repeated name wins).

    :param body: the request body.
    :param content_type: the request's Content-Type header.
    """
    kind, _, params = content_type.partition(";")
    boundary = {key.lower(): quoted or bare for key, quoted, bare in _PARAM.findall(params)}.get("boundary")
    if kind.strip().lower() != "multipart/form-data" or not boundary:
        raise ValueError("Content-Type must be multipart/form-data with a boundary")
    fields: dict[str, bytes] = {}
    for chunk in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            return fields
        head, separator, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator or not data.endswith(b"\r\n"):
            raise ValueError("malformed multipart part")
        disposition = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value
        names = {key.lower(): quoted or bare for key, quoted, bare in _PARAM.findall(disposition)}
        if "name" not in names:
            raise ValueError("multipart part without a name")
        fields[names["name"]] = data[:-2]
    raise ValueError("multipart body has no closing boundary")
