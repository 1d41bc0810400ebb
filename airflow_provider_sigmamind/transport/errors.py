"""What went wrong on the way, in a few words, from the standard library's exceptions behind a
library's own: the same words on both request paths, never a library's message wholesale."""

from __future__ import annotations

import http.client
import socket
import ssl

from airflow_provider_sigmamind.transport import TLSFailure, TransportFailure

__all__ = ["CLOSED_EARLY", "causes", "describe", "failure_of"]

#: A connection that ended before the whole answer came: closed, reset or dropped, whichever the
#: library reports (libraries tell these apart differently, so the paths say the same words).
CLOSED_EARLY = "connection closed or reset before the answer was complete"


def causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions behind it, outermost first: causes, contexts, and the exception a
    library wrapped as an argument (as requests, urllib3 and aiohttp do)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        wrapped = next((arg for arg in current.args if isinstance(arg, BaseException)), None)
        current = current.__cause__ or current.__context__ or wrapped
    return seen


def describe(exc: BaseException) -> str:
    """A short description of a transport failure: ``connection refused``, ``connection reset``..."""
    chain = causes(exc)
    tls = [cause for cause in chain if isinstance(cause, ssl.SSLError | ssl.CertificateError)]
    if tls:
        # The innermost TLS error that says why (libraries wrap it in TLS-typed errors of their own).
        for error in reversed(tls):
            reason = getattr(error, "reason", None)
            if reason:
                detail = getattr(error, "verify_message", None)
                return f"{reason}: {detail}" if detail else str(reason)
        return type(tls[-1]).__name__
    for cause in chain:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            return CLOSED_EARLY
        if isinstance(cause, socket.gaierror):
            return "the host name could not be resolved"
        if isinstance(cause, http.client.IncompleteRead | http.client.RemoteDisconnected):
            return CLOSED_EARLY
    return type(exc).__name__


def failure_of(exc: BaseException) -> TransportFailure:
    """The failure a library's exception means: :class:`TLSFailure` when TLS is behind it (not worth
    another attempt), else :class:`TransportFailure`."""
    tls = any(isinstance(cause, ssl.SSLError | ssl.CertificateError) for cause in causes(exc))
    return (TLSFailure if tls else TransportFailure)(describe(exc))
