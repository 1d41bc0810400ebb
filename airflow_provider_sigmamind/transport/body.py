"""Bodies: what is sent, built once for both paths, and what is read, bounded the same on both.

Both adapters read the raw bytes the server sent and hand them to :class:`BoundedBody`, which
decompresses ``gzip`` (the one encoding we ask for; ``deflate`` is understood too) step by step, so a small body
that would expand to gigabytes is refused after :data:`MAX_RESPONSE_BYTES`, not inflated first.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Mapping
from typing import Any

from airflow_provider_sigmamind.transport import MAX_RESPONSE_BYTES, BodyTooLarge, TransportFailure

__all__ = ["ACCEPT_ENCODING", "BoundedBody", "json_body", "multipart_body"]

#: What we ask servers to compress with: what :class:`BoundedBody` decompresses with a bound.
ACCEPT_ENCODING = "gzip"


class BoundedBody:
    """Collect a body's raw chunks, decompressing them, refusing more than ``limit`` bytes either way.

    :param status: the answer's HTTP status (named in :class:`BodyTooLarge`).
    :param encoding: the ``Content-Encoding`` header, or ``None``.
    :param limit: the most bytes accepted, raw or decompressed.
    :param declared: the ``Content-Length`` header, or ``None``: a body declared larger than the
        limit is refused before any of it is read.
    """

    __slots__ = ("_decompressor", "_limit", "_parts", "_raw", "_size", "_status")

    def __init__(
        self, status: int, encoding: str | None, limit: int = MAX_RESPONSE_BYTES, *, declared: str | None = None
    ) -> None:
        length = (declared or "").strip()
        if length.isascii() and length.isdigit() and int(length) > limit:  # "²" is a digit to isdigit()
            raise BodyTooLarge(status)
        self._status = status
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._raw = 0
        codec = (encoding or "").strip().lower()
        if codec in ("", "identity"):
            self._decompressor: Any = None
        elif codec in ("gzip", "x-gzip"):
            self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif codec == "deflate":  # zlib-wrapped, as the RFC says; never asked for, but understood
            self._decompressor = zlib.decompressobj()
        else:
            raise TransportFailure(f"the answer is encoded as {codec!r}, which was not asked for")

    def feed(self, chunk: bytes) -> None:
        """Add one raw chunk.

        :raises BodyTooLarge: once the raw or decompressed bytes exceed the limit.
        """
        self._raw += len(chunk)
        if self._raw > self._limit:
            raise BodyTooLarge(self._status)
        if self._decompressor is None:
            if chunk:
                self._parts.append(chunk)  # its size is the raw size, checked above
            return
        try:
            while chunk:
                # Never more than one byte past the limit at a time: refused before it is inflated.
                self._add(self._decompressor.decompress(chunk, self._limit - self._size + 1))
                chunk = self._decompressor.unconsumed_tail
        except zlib.error:
            raise TransportFailure("the compressed body is corrupt") from None

    def _add(self, data: bytes) -> None:
        if data:
            self._size += len(data)
            if self._size > self._limit:
                raise BodyTooLarge(self._status)
            self._parts.append(data)

    def finish(self) -> bytes:
        """The whole decoded body."""
        if self._decompressor is not None:
            self.feed(b"")
            if not self._decompressor.eof and self._raw:
                raise TransportFailure("the compressed body ended before its end")
        parts = self._parts
        return parts[0] if len(parts) == 1 else b"".join(parts)


def json_body(value: Any) -> tuple[bytes, str]:
    """``value`` as a JSON body and its content type.

    :raises ValueError: for values JSON cannot carry (NaN, infinities, objects).
    """
    return json.dumps(value, allow_nan=False, separators=(",", ":")).encode("utf-8"), "application/json"


def multipart_body(fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body of text fields and files, and its content type.

    :param fields: field name -> text value.
    :param files: field name -> (file name, content, content type).
    """
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'.encode())
        parts.append(value.encode("utf-8") + b"\r\n")
    for name, (file_name, content, content_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"; '
            f'filename="{_quoted(file_name)}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        parts.append(head.encode("utf-8"))
        parts.append(content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _quoted(text: str) -> str:
    """A name for a ``Content-Disposition`` parameter: quotes and line breaks escaped as browsers do."""
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
