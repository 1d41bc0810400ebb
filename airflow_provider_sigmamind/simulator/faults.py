"""Faults the SigmaMind simulator can serve instead of a normal answer."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Variants accepted by :meth:`Fault.malformed`.
MALFORMED_KINDS = ("html", "empty", "truncated", "array", "scalar", "not_json")

SAMPLE_CAMPAIGN = json.dumps(
    {
        "campaignId": "camp_XiQEBcj9cc5TFRB4",
        "campaignName": "Q4 Outreach Campaign",
        "campaignStatus": "live",
        "scheduledDate": None,
        "concurrentCalls": 5,
        "errors": [],
        "scheduled": False,
    }
).encode()

_MALFORMED_BODIES: dict[str, tuple[bytes, str]] = {
    "html": (
        b"<html><head><title>502 Bad Gateway</title></head>"
        b"<body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>",
        "text/html",
    ),
    "empty": (b"", "application/json"),
    "truncated": (SAMPLE_CAMPAIGN[: len(SAMPLE_CAMPAIGN) // 2], "application/json"),
    "array": (b"[" + SAMPLE_CAMPAIGN + b"]", "application/json"),
    "scalar": (b"42", "application/json"),
    "not_json": (b"Service temporarily unavailable, try again later", "application/json"),
}


def _checked_headers(headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Return headers as a tuple of pairs, refusing values that would break the response head.

    :param headers: header names and values, or None.
    """
    pairs = tuple((str(name), str(value)) for name, value in (headers or {}).items())
    for name, value in pairs:
        if any(ch in name + value for ch in "\r\n\0") or ":" in name or not name:
            raise ValueError(f"invalid header {name!r}")
        (name + value).encode("latin-1")
    return pairs


def _as_bytes(body: bytes | str | dict[str, Any] | list[Any] | None) -> bytes | None:
    """Encode a fault body: bytes as is, str as UTF-8, dict or list as JSON, None stays None.

    :param body: the body to encode.
    """
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


@dataclass(frozen=True)
class Fault:
    """One misbehaviour of the API, served instead of (or around) the normal answer.

    Build faults with the classmethods (``Fault.rate_limit()``, ``Fault.drop()``, ...), then queue
    them with ``SigmaMindSimulator.inject`` or put them in a campaign's ``script``.
    Only ``slow`` (without ``then``), ``answer_late`` and ``reset_mid_body`` let the request reach the API: all other
    faults answer in its place, so a faulted create or update changes nothing.

    :param kind: the constructor that made the fault (``"rate_limit"``, ``"drop"``, ...).
    :param code: HTTP status served.
    :param payload: the body served; None means the API's error JSON for ``code``.
    :param content_type: Content-Type of the body.
    :param headers: extra response headers.
    :param delay: seconds to wait (``slow``).
    :param then: fault served after the delay (``slow``); None answers normally.
    :param interval: seconds between bytes (``trickle``, ``trickle_head``).
    :param size: body size in bytes (``huge``; inflated, for ``gzip_bomb``).
    """

    kind: str
    code: int = 200
    payload: bytes | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    then: Fault | None = None
    interval: float = 0.0
    size: int = 0

    @classmethod
    def status(
        cls,
        code: int,
        body: bytes | str | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """Answer with any status from 200 to 599.

        :param code: the HTTP status.
        :param body: body to serve (dict is sent as JSON); None sends the API's error JSON shape.
        :param headers: extra response headers.
        """
        if not 200 <= int(code) <= 599:
            raise ValueError("code must be between 200 and 599")
        return cls("status", code=int(code), payload=_as_bytes(body), headers=_checked_headers(headers))

    @classmethod
    def rate_limit(cls, retry_after: str | int | float | None = 1) -> Fault:
        """Answer 429 with a ``Retry-After`` header.

        :param retry_after: seconds (int or float), or a str sent verbatim (an HTTP-date, garbage...);
            None sends no header.
        """
        headers: dict[str, str] = {}
        if isinstance(retry_after, float) and retry_after.is_integer():
            headers["Retry-After"] = str(int(retry_after))
        elif retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return cls("rate_limit", code=429, headers=_checked_headers(headers))

    @classmethod
    def server_error(cls, code: int = 503) -> Fault:
        """Answer a 5xx with the API's error JSON.

        :param code: a status from 500 to 599.
        """
        if not 500 <= int(code) <= 599:
            raise ValueError("code must be between 500 and 599")
        return cls("server_error", code=int(code))

    @classmethod
    def slow(cls, delay: float, then: Fault | None = None) -> Fault:
        """Wait, then answer normally (or serve ``then``).

        :param delay: seconds to wait before answering.
        :param then: fault to serve after the delay; None answers normally.
        """
        if delay < 0:
            raise ValueError("delay must be >= 0")
        return cls("slow", delay=float(delay), then=then)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without sending anything."""
        return cls("drop")

    @classmethod
    def reset_mid_body(cls) -> Fault:
        """Process the request, send the head and half the body, then close the connection."""
        return cls("reset_mid_body")

    @classmethod
    def answer_late(cls, delay: float) -> Fault:
        """Process the request at once, then wait ``delay`` seconds before answering (a create that took
        effect while its client died waiting).

        :param delay: seconds between processing the request and sending the answer.
        """
        if delay < 0:
            raise ValueError("delay must be >= 0")
        return cls("answer_late", delay=float(delay))

    @classmethod
    def trickle(cls, interval: float = 0.5) -> Fault:
        """Send 200 headers claiming a 100 kB body, then one byte per interval until either side closes.

        :param interval: seconds between two bytes.
        """
        if interval <= 0:
            raise ValueError("interval must be > 0")
        return cls("trickle", interval=float(interval))

    @classmethod
    def trickle_head(cls, interval: float = 0.5) -> Fault:
        """Send the response head itself one byte per interval (a read timeout per byte never trips).

        :param interval: seconds between two bytes.
        """
        if interval <= 0:
            raise ValueError("interval must be > 0")
        return cls("trickle_head", interval=float(interval))

    @classmethod
    def gzip_bomb(cls, size: int) -> Fault:
        """Answer 200 with a small gzip body (``Content-Encoding: gzip``) that inflates to ``size`` bytes.

        :param size: the inflated size in bytes.
        """
        if size < 0:
            raise ValueError("size must be >= 0")
        return cls("gzip_bomb", size=int(size))

    @classmethod
    def malformed(cls, kind: str) -> Fault:
        """Answer 200 with a body that is not a campaign object.

        :param kind: ``html`` (an HTML error page, text/html), ``empty``, ``truncated`` (JSON cut in
            half), ``array``, ``scalar`` (``42``) or ``not_json`` (plain text); all but ``html`` are
            labelled application/json.
        """
        if kind not in _MALFORMED_BODIES:
            raise ValueError(f"kind must be one of {', '.join(MALFORMED_KINDS)}")
        body, content_type = _MALFORMED_BODIES[kind]
        return cls("malformed", payload=body, content_type=content_type)

    @classmethod
    def body(cls, body: bytes | str, content_type: str = "application/json", status: int = 200) -> Fault:
        """Serve exactly this body.

        :param body: the body (str is sent as UTF-8).
        :param content_type: its Content-Type.
        :param status: the HTTP status, 200 to 599.
        """
        if not 200 <= int(status) <= 599:
            raise ValueError("status must be between 200 and 599")
        _checked_headers({"Content-Type": content_type})
        return cls("body", code=int(status), payload=_as_bytes(body), content_type=content_type)

    @classmethod
    def huge(cls, size: int) -> Fault:
        """Answer 200 with a JSON-looking body of ``size`` bytes, streamed in chunks.

        :param size: body size in bytes.
        """
        if size < 0:
            raise ValueError("size must be >= 0")
        return cls("huge", size=int(size))

    @classmethod
    def redirect(cls, location: str, code: int = 302) -> Fault:
        """Answer a redirect to ``location`` (the simulator never follows it).

        :param location: the Location header, e.g. ``http://evil.example/steal``.
        :param code: a status from 300 to 399.
        """
        if not 300 <= int(code) <= 399:
            raise ValueError("code must be between 300 and 399")
        return cls("redirect", code=int(code), headers=_checked_headers({"Location": location}))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from JSON: ``{"fault": kind, **arguments of that constructor}``.

        ``slow`` takes ``then`` as a nested fault object. Raises ValueError on anything else.

        :param data: the decoded JSON object.
        """
        args = dict(data)
        kind = args.pop("fault", None)
        builders: dict[str, Callable[..., Fault]] = {
            "status": cls.status,
            "rate_limit": cls.rate_limit,
            "server_error": cls.server_error,
            "slow": cls.slow,
            "drop": cls.drop,
            "reset_mid_body": cls.reset_mid_body,
            "answer_late": cls.answer_late,
            "trickle": cls.trickle,
            "trickle_head": cls.trickle_head,
            "gzip_bomb": cls.gzip_bomb,
            "malformed": cls.malformed,
            "body": cls.body,
            "huge": cls.huge,
            "redirect": cls.redirect,
        }
        if kind not in builders:
            raise ValueError(f"unknown fault {kind!r}")
        if kind == "slow" and isinstance(args.get("then"), Mapping):
            args["then"] = cls.from_dict(args["then"])
        try:
            return builders[kind](**args)
        except TypeError as exc:
            raise ValueError(f"bad arguments for fault {kind!r}: {exc}") from None


@dataclass
class _Queued:
    """A fault waiting for matching requests; ``remaining`` None means forever."""

    fault: Fault
    campaign_id: str | None
    remaining: int | None


class FaultQueue:
    """Injected faults, first queued first served (the simulator guards it with its lock)."""

    def __init__(self) -> None:
        self._queued: list[_Queued] = []

    def add(self, fault: Fault, campaign_id: str | None, times: int | None) -> None:
        """Queue ``fault`` for the next ``times`` requests for ``campaign_id`` (``None``: any request, forever)."""
        self._queued.append(_Queued(fault, campaign_id, times))

    def take(self, campaign_id: str | None) -> Fault | None:
        """Pop the first queued fault matching a request.

        :param campaign_id: the request's campaign id, or None.
        """
        for queued in self._queued:
            if queued.campaign_id is None or queued.campaign_id == campaign_id:
                if queued.remaining is not None:
                    queued.remaining -= 1
                    if queued.remaining <= 0:
                        self._queued.remove(queued)
                return queued.fault
        return None

    def clear(self) -> None:
        """Drop every queued fault."""
        self._queued.clear()
