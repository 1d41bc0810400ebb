"""Errors raised by the SigmaMind provider: one hierarchy under :class:`SigmaMindError`.

Every error carries what a user needs to act (the HTTP status, the server's own short message, the
request path, the campaign) and never the API key. :func:`error_for_response` is the one place that
maps an HTTP answer to a class; callers decide on the class (or :attr:`SigmaMindError.retryable`),
never on message text.
"""

from __future__ import annotations

import json

from airflow_provider_sigmamind.compat import AirflowException, AirflowFailException
from airflow_provider_sigmamind.text import one_line
from airflow_provider_sigmamind.transport import BodyTooLarge, TLSFailure, TransportFailure, Unfinished

__all__ = [
    "SigmaMindAuthError",
    "SigmaMindCampaignStatusError",
    "SigmaMindContactListError",
    "SigmaMindError",
    "SigmaMindInvalidInputError",
    "SigmaMindNotFoundError",
    "SigmaMindRateLimitError",
    "SigmaMindRejectedError",
    "SigmaMindResponseError",
    "SigmaMindServerError",
    "SigmaMindTLSError",
    "SigmaMindTransportError",
    "error_for_response",
    "malformed_answer",
    "subject_of",
    "transport_error",
]

#: Longest server message quoted in an error (bodies are never logged whole).
SNIPPET_LIMIT = 200


class SigmaMindError(AirflowException):
    """Base class of every error this provider raises.

    :param message: what went wrong, for a person.
    :param status_code: the HTTP status, when there was an answer.
    :param server_message: a short snippet of the server's own explanation.
    :param path: the request path (never holds the key: the key only ever travels in a header).
    :param campaign_id: the campaign concerned, when there is one.
    :param retry_after: seconds the server asked us to wait, when it said so.
    :param attempts: how many requests were made before giving up.
    :param retryable: overrides the class's :attr:`retryable` for this one error.
    """

    #: Whether another attempt may succeed (the retry policy reads this, nothing else does).
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        server_message: str | None = None,
        path: str | None = None,
        campaign_id: str | None = None,
        retry_after: float | None = None,
        attempts: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable
        self.message = message
        self.status_code = status_code  # type: ignore[assignment]  # the HTTP status SigmaMind answered
        self.server_message = server_message
        self.path = path
        self.campaign_id = campaign_id
        self.retry_after = retry_after
        self.attempts = attempts

    def __str__(self) -> str:
        return self.message

    def add_detail(self, detail: str) -> SigmaMindError:
        """Append ``detail`` to the message (in place) and return the error, ready to re-raise."""
        self.message = f"{self.message}{detail}"
        self.args = (self.message,)
        return self

    def gave_up(self, attempts: int, elapsed: float) -> SigmaMindError:
        """Record that retrying stopped here, saying after how many attempts and how long."""
        self.attempts = attempts
        noun = "attempt" if attempts == 1 else "attempts"
        return self.add_detail(f" (gave up after {attempts} {noun} in {elapsed:.1f}s)")


class SigmaMindInvalidInputError(SigmaMindError, ValueError):
    """Input rejected before any request was sent: a bad campaign id, parameter or connection."""


class SigmaMindAuthError(SigmaMindError):
    """SigmaMind refused the API key (HTTP 401 or 403)."""


class SigmaMindNotFoundError(SigmaMindError):
    """The campaign (or other resource) does not exist for this API key (HTTP 404)."""


class SigmaMindRejectedError(SigmaMindError):
    """SigmaMind rejected the request as invalid (HTTP 400, 409, 422 and other permanent 4xx)."""


class SigmaMindRateLimitError(SigmaMindError):
    """Rate limited (HTTP 429) until the retry budget or deadline ran out."""

    retryable = True


class SigmaMindServerError(SigmaMindError):
    """SigmaMind (or a proxy in front of it) failed (HTTP 5xx or 408) until the retry budget ran out."""

    retryable = True


class SigmaMindTransportError(SigmaMindError):
    """No usable answer: connection refused or reset, timeout, or a body that never finished."""

    retryable = True


class SigmaMindTLSError(SigmaMindTransportError):
    """The TLS handshake or certificate check failed: not retried, since it will not fix itself."""

    retryable = False


class SigmaMindResponseError(SigmaMindError):
    """An answer that is not what the API sends: HTML, truncated or non-object JSON, no status,
    another campaign, a redirect (not followed, so the key stays put) or an oversized body."""


class SigmaMindCampaignStatusError(SigmaMindError, AirflowFailException):
    """The campaign reached a status that makes the awaited one impossible.

    Also an :class:`~airflow.sdk.exceptions.AirflowFailException`, so task retries are not wasted
    on a campaign that cannot change its mind.
    """


class SigmaMindContactListError(SigmaMindError, AirflowFailException):
    """The campaign's contact list has row errors (``errors``) and the task was told to fail on them."""


_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def subject_of(method: str, path: str, campaign_id: str | None) -> str:
    """What a request was about, as error messages name it: the campaign, else the method and path."""
    return f"campaign {campaign_id!r}" if campaign_id is not None else f"{method} {path}"


def is_transient_status(status_code: int) -> bool:
    """True for the HTTP statuses worth another attempt: 408, 429, 500, 502, 503, 504."""
    return status_code in _TRANSIENT_STATUS


def server_message(body: bytes, content_type: str | None) -> str | None:
    """A short, single-line snippet of the server's explanation, or ``None``.

    Prefers the API's own ``message``/``error`` fields; falls back to the start of a text body.
    HTML pages are summarised by their type only: they are proxies' pages, not explanations.
    """
    if not body:
        return None
    text = body[: 4 * SNIPPET_LIMIT].decode("utf-8", "replace")
    if (content_type and "json" in content_type.lower()) or text.lstrip().startswith("{"):
        try:
            data = json.loads(body[:65536])
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
            data = None
        if isinstance(data, dict):
            for key in ("message", "error", "detail"):
                if isinstance(data.get(key), str) and data[key].strip():
                    return one_line(data[key], SNIPPET_LIMIT)
    if (content_type and "html" in content_type.lower()) or text.lstrip().lower().startswith("<"):
        return "an HTML page"
    return one_line(text, SNIPPET_LIMIT)


def error_for_response(
    status_code: int,
    *,
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str | None = None,
    campaign_id: str | None = None,
    retry_after: float | None = None,
) -> SigmaMindError:
    """Map a non-2xx answer to the error a user should see."""
    snippet = server_message(body, content_type)
    subject = subject_of(method, path, campaign_id)
    cls: type[SigmaMindError]
    if status_code in (401, 403):
        cls = SigmaMindAuthError
        what = (
            "SigmaMind rejected the API key" if status_code == 401 else "the API key may not access this"
        ) + f" for {subject}; check the connection's API Key field"
    elif status_code == 404:
        cls = SigmaMindNotFoundError
        what = f"{subject} was not found" if campaign_id is not None else f"{subject}: not found"
    elif status_code == 429:
        cls = SigmaMindRateLimitError
        what = f"SigmaMind rate limit hit for {subject}"
    elif status_code >= 500 or status_code == 408:
        cls = SigmaMindServerError  # 501, 505, 511, ...: server errors that another attempt will not fix
        what = f"SigmaMind server error for {subject}"
    elif 300 <= status_code < 400:
        cls = SigmaMindResponseError
        what = (
            f"SigmaMind answered {subject} with a redirect, which is not followed so the API key is not sent elsewhere"
        )
    elif status_code >= 400:
        cls = SigmaMindRejectedError
        what = f"SigmaMind rejected the request for {subject}"
    else:
        cls = SigmaMindResponseError
        what = f"unexpected answer for {subject}"
    message = f"{what} (HTTP {status_code} on {method} {path})"
    if snippet:
        message += f": {snippet}"
    return cls(
        message,
        status_code=status_code,
        server_message=snippet,
        path=path,
        campaign_id=campaign_id,
        retry_after=retry_after,
        retryable=is_transient_status(status_code) if cls.retryable else None,
    )


def malformed_answer(
    description: str, *, status_code: int, method: str, path: str, campaign_id: str | None = None
) -> SigmaMindResponseError:
    """The error for an answer that is not what the API sends (not JSON, not a campaign, not a list).

    :param description: what was wrong, for a person; the status and request are added.
    """
    return SigmaMindResponseError(
        f"{description} (HTTP {status_code} on {method} {path})",
        status_code=status_code,
        path=path,
        campaign_id=campaign_id,
    )


def transport_error(
    failure: TransportFailure, *, method: str, path: str, campaign_id: str | None, timeout: float
) -> SigmaMindError:
    """The error a user sees when no whole answer came back (both request paths).

    :param failure: what the transport reported.
    :param timeout: the seconds the attempt was given, named when they ran out.
    """
    subject = subject_of(method, path, campaign_id)
    where = f"{subject} ({method} {path})"
    if isinstance(failure, BodyTooLarge):
        return SigmaMindResponseError(
            f"SigmaMind's answer for {subject} is {failure.cause}; not read further ({method} {path})",
            status_code=failure.status,
            path=path,
            campaign_id=campaign_id,
        )
    if isinstance(failure, Unfinished):
        message = f"SigmaMind's answer did not finish within the request timeout ({timeout:.3g}s) for {where}"
    elif isinstance(failure, TLSFailure):
        message = f"TLS failed while reaching SigmaMind for {where}: {failure.cause}"
    else:
        message = f"could not get an answer from SigmaMind for {where}: {failure.cause}"
    cls = SigmaMindTLSError if isinstance(failure, TLSFailure) else SigmaMindTransportError
    return cls(message, path=path, campaign_id=campaign_id)


def no_time_left(*, method: str, path: str, campaign_id: str | None) -> SigmaMindTransportError:
    """The error for an attempt that could not start: the call's deadline had passed."""
    return SigmaMindTransportError(
        f"no time left to reach SigmaMind for {subject_of(method, path, campaign_id)} ({method} {path})",
        path=path,
        campaign_id=campaign_id,
    )
