"""The HTTP seam: send one request, get back its status, headers and a bounded body.

A transport knows nothing of campaigns, keys or retries. It takes a :class:`Request` whose URL,
headers and body bytes are already built, and returns an :class:`Answer` or raises a
:class:`TransportFailure`. Everything that must be the same on both paths is decided here, above
the two adapters (:mod:`.sync` on ``requests``, :mod:`.aio` on ``aiohttp``), which are the only
modules that import an HTTP library:

- the whole attempt, from waiting for a connection to the last byte, is bounded by ``timeout``;
- redirects are never followed (the key stays with the configured host) and no cookie is kept;
- the body is read raw and decompressed here (:mod:`.body`), never past :data:`MAX_RESPONSE_BYTES`
  of compressed or decompressed bytes;
- proxies (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``) and the CA bundle (the connection's
  ``ca_bundle``, else ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``, else certifi's) are chosen by
  :mod:`.network`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from airflow_provider_sigmamind.defaults import MAX_RESPONSE_BYTES

__all__ = [
    "MAX_RESPONSE_BYTES",
    "Answer",
    "BodyTooLarge",
    "Request",
    "TLSFailure",
    "TransportFailure",
    "Unfinished",
]


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, ready to send.

    :param method: ``GET``, ``POST``, ``PATCH``...
    :param url: the whole URL, query included.
    :param headers: every header to send (the key among them: never log these; left out of the repr,
        which a traceback that shows local variables prints).
    :param body: the body bytes, or ``None``.
    :param timeout: seconds the whole attempt may take, from waiting for a connection to the last byte.
    :param proxy: the proxy URL to go through, or ``None`` (see :func:`.network.proxy_for`).
    :param ca_file: the CA bundle to verify the server with (see :func:`.network.ca_file_for`).
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes | None
    timeout: float
    proxy: str | None
    ca_file: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole answer: status, headers (case-insensitive) and the decoded body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportFailure(Exception):  # a failure, named for what happened
    """No whole answer came back: refused, reset, closed early, or no route (worth another attempt).

    :param cause: a short description of what happened, never a library's message wholesale.
    """

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class Unfinished(TransportFailure):
    """The attempt's time ran out before the whole answer arrived."""


class TLSFailure(TransportFailure):
    """The TLS handshake or certificate check failed (not worth another attempt)."""


class BodyTooLarge(TransportFailure):
    """The body was larger than :data:`MAX_RESPONSE_BYTES`, compressed or decompressed.

    :param status: the HTTP status of the answer whose body was refused.
    """

    def __init__(self, status: int) -> None:
        super().__init__(f"the body is larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB")
        self.status = status
