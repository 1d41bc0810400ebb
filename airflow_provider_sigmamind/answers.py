"""Everything after the bytes arrive, written once for both request paths.

:func:`interpret` takes a whole :class:`~airflow_provider_sigmamind.transport.Answer`: it blanks
the API key out of the body in every spelling a server could echo it in, maps a non-2xx status to
its :class:`~airflow_provider_sigmamind.exceptions.SigmaMindError`, and decodes a 2xx body as strict
JSON (standard tokens, finite numbers), or says what it is instead.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_sigmamind.exceptions import (
    error_for_response,
    malformed_answer,
    server_message,
    subject_of,
)
from airflow_provider_sigmamind.models import Call, Campaign, PayloadError, parse_call, parse_campaign
from airflow_provider_sigmamind.retry import parse_retry_after
from airflow_provider_sigmamind.transport import Answer

if TYPE_CHECKING:
    from airflow_provider_sigmamind.config import SigmaMindConfig

__all__ = ["answer_of", "call_from_json", "campaign_from_json", "decode_json", "interpret", "without_key"]

#: What replaces the key wherever an answer echoes it.
BLANK = b"***"


def _hex(code: int, width: int) -> bytes:
    """A pattern for ``code`` in hexadecimal, either case."""
    digits = f"{code:0{width}x}"
    return b"".join(f"[{d}{d.upper()}]".encode() if d.isalpha() else d.encode() for d in digits)


@functools.lru_cache(maxsize=16)
def _key_pattern(api_key: str) -> re.Pattern[bytes]:
    """The key, each character as itself, JSON-escaped (``\\u002f``, ``\\/``) or percent-encoded (``%2F``)."""
    parts = []
    for char in api_key:
        code = ord(char)
        spellings = [re.escape(char.encode()), rb"\\u" + _hex(code, 4), b"%" + _hex(code, 2)]
        if char in '/"\\':
            spellings.append(re.escape(b"\\" + char.encode()))
        parts.append(b"(?:" + b"|".join(spellings) + b")")
    return re.compile(b"".join(parts))


def without_key(body: bytes, api_key: str) -> bytes:
    """``body`` with the API key blanked out (``***``) in every spelling: a server or proxy that
    echoes the key back must not get it into an error message, a log or an XCom."""
    if not body or not api_key:
        return body
    if b"\\" not in body and b"%" not in body:  # every spelling but the plain one has one of these
        return body.replace(api_key.encode(), BLANK)
    return _key_pattern(api_key).sub(BLANK, body)


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large for a number")
    return value


#: One decoder, built once (``json.loads`` with hooks builds a new one per call).
_STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def decode_json(
    status_code: int, body: bytes, content_type: str | None, *, method: str, path: str, campaign_id: str | None
) -> Any:
    """Decode a 2xx body as strict JSON; anything else becomes a :class:`SigmaMindResponseError`.

    Strict: ``NaN``, ``Infinity`` and numbers too large for a float are refused, so every mode
    sees the same malformed answer instead of a value that breaks later.
    """
    if status_code == 204 or (not body and method == "DELETE"):
        return None
    try:
        return _STRICT_JSON.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
        if not body.strip():
            what = "an empty body"
        elif (content_type and "html" in content_type.lower()) or body.lstrip()[:1] == b"<":
            what = "an HTML page (a proxy or maintenance page?)"
        elif body.lstrip()[:1] in (b"{", b"["):
            what = "truncated or invalid JSON"
        else:
            what = f"text that is not JSON: {server_message(body, content_type)!r}"
        raise malformed_answer(
            f"SigmaMind answered {subject_of(method, path, campaign_id)} with {what}",
            status_code=status_code,
            method=method,
            path=path,
            campaign_id=campaign_id,
        ) from None


def interpret(answer: Answer, *, api_key: str, method: str, path: str, campaign_id: str | None) -> Any:
    """Turn a whole answer into decoded JSON, or raise the error it means."""
    body = without_key(answer.body, api_key)
    del api_key  # out of this frame's locals before an error is raised here (a traceback may show them)
    content_type = answer.headers.get("Content-Type")
    if not 200 <= answer.status < 300:
        raise error_for_response(
            answer.status,
            method=method,
            path=path,
            body=body,
            content_type=content_type,
            campaign_id=campaign_id,
            retry_after=parse_retry_after(answer.headers.get("Retry-After")),
        )
    return decode_json(answer.status, body, content_type, method=method, path=path, campaign_id=campaign_id)


def campaign_from_json(data: Any, *, status_code: int, method: str, path: str, campaign_id: str | None) -> Campaign:
    """Parse a decoded body as a campaign, as a :class:`SigmaMindResponseError` if it is not one."""
    try:
        return parse_campaign(data, expected_id=campaign_id)
    except PayloadError as exc:
        raise malformed_answer(
            f"SigmaMind's answer for {subject_of(method, path, campaign_id)} is not a usable campaign: {exc}",
            status_code=status_code,
            method=method,
            path=path,
            campaign_id=campaign_id,
        ) from None


def call_from_json(data: Any, *, path: str, call_id: str) -> Call:
    """Parse the body of ``GET /v1/calls/{callId}``, as a :class:`SigmaMindResponseError` if it is not that call."""
    try:
        return parse_call(data, expected_id=call_id)
    except PayloadError as exc:
        raise malformed_answer(
            f"SigmaMind's answer for call {call_id!r} is not a usable call: {exc}",
            status_code=200,
            method="GET",
            path=path,
        ) from None


def answer_of(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    config: SigmaMindConfig,
    method: str,
    path: str,
    campaign_id: str | None,
) -> Any:
    """:func:`interpret` in the call form of 0.1 (``hooks.sigmamind.answer_of``), kept for its callers."""
    return interpret(
        Answer(status_code, headers, body), api_key=config.api_key, method=method, path=path, campaign_id=campaign_id
    )
