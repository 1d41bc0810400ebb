"""SigmaMindHook: the only place that speaks HTTP to SigmaMind."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.cookiejar
import ipaddress
import json
import logging
import math
import os
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_sigmamind import __version__
from airflow_provider_sigmamind.contacts import (
    PHONE_CHECKS,
    VALIDATE_MODES,
    PhoneCheck,
    ValidateMode,
    campaign_field_problems,
    check_contacts,
    rows_to_csv,
    update_field_problems,
)
from airflow_provider_sigmamind.defaults import (
    CONN_TYPE,
    CONNECT_TIMEOUT,
    DEFAULT_BASE_URL,
    DEFAULT_CONN_ID,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
)
from airflow_provider_sigmamind.exceptions import (
    SigmaMindError,
    SigmaMindInvalidInputError,
    SigmaMindRateLimitError,
    SigmaMindRejectedError,
    SigmaMindResponseError,
    SigmaMindServerError,
    SigmaMindTLSError,
    SigmaMindTransportError,
    error_for_response,
    server_message,
    subject_of,
)
from airflow_provider_sigmamind.models import (
    Campaign,
    CampaignStatus,
    PayloadError,
    parse_campaign,
    parse_campaign_page,
    parse_statuses,
)
from airflow_provider_sigmamind.retry import Attempts, RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    import requests
    from airflow.sdk import Connection

__all__ = ["SigmaMindConfig", "SigmaMindHook", "campaign_path", "validate_campaign_id"]

log = logging.getLogger(__name__)

USER_AGENT = f"airflow-provider-sigmamind/{__version__}"
MAX_CAMPAIGN_ID_LENGTH = 256
#: Campaigns asked for per list request. The API's default is 10 and it documents no maximum.
DEFAULT_PAGE_SIZE = 100
#: Problems quoted in one exception message; the full list is on the error's ``problems``.
MAX_PROBLEMS_SHOWN = 100
_MIN_KEY_LENGTH = 5


def validate_campaign_id(campaign_id: object) -> str:
    """Check that ``campaign_id`` can be sent as exactly one URL path segment.

    Ids are opaque (``XiQEBcj9cc5TFRB4``, ``camp_…``, ``camp-…``): no prefix is added or stripped.

    :raises SigmaMindInvalidInputError: for anything but a non-blank string of at most 256
        characters without control characters, or for the dot segments ``.`` and ``..``.
    """
    if not isinstance(campaign_id, str):
        raise SigmaMindInvalidInputError(
            f"campaign_id must be a string, got {type(campaign_id).__name__} (did a template render to nothing?)"
        )
    shown = repr(campaign_id[:60]) + ("…" if len(campaign_id) > 60 else "")
    if not campaign_id.strip():
        raise SigmaMindInvalidInputError(f"campaign_id is blank ({shown}); pass the campaign's id")
    if campaign_id != campaign_id.strip():
        raise SigmaMindInvalidInputError(f"campaign_id {shown} has leading or trailing white space")
    if len(campaign_id) > MAX_CAMPAIGN_ID_LENGTH:
        raise SigmaMindInvalidInputError(
            f"campaign_id is {len(campaign_id)} characters long; the limit is {MAX_CAMPAIGN_ID_LENGTH}"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in campaign_id):
        raise SigmaMindInvalidInputError(f"campaign_id {shown} contains control characters (CR, LF, NUL, ...)")
    if campaign_id in (".", ".."):
        raise SigmaMindInvalidInputError(f"campaign_id {shown} is not an id but a relative path")
    return campaign_id


def campaign_path(campaign_id: object) -> str:
    """``/v1/campaigns/{id}`` with the id validated and percent-encoded as one path segment."""
    return "/v1/campaigns/" + quote(validate_campaign_id(campaign_id), safe="")


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _number(value: object, key: str, *, minimum: float, integer: bool, where: str) -> Any:
    """A finite number >= ``minimum`` from a connection extra or a constructor argument."""
    kind = "a whole number" if integer else "a number"
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)  # type: ignore[arg-type]
        if not math.isfinite(number) or (integer and not number.is_integer()):
            raise ValueError
    except (TypeError, ValueError):
        raise SigmaMindInvalidInputError(f"{where}: {key!r} must be {kind}, got {value!r}") from None
    if number < minimum:
        raise SigmaMindInvalidInputError(f"{where}: {key!r} must be at least {minimum:g}, got {number:g}")
    return int(number) if integer else number


def _flag(value: object, key: str, *, where: str) -> bool:
    """A yes/no extra, from JSON (true/false) or the URI form (strings)."""
    if value is None or value == "" or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise SigmaMindInvalidInputError(f"{where}: {key!r} must be true or false, got {value!r}")


@dataclass(frozen=True)
class SigmaMindConfig:
    """What a connection says: where to send requests, with which key, how patiently.

    :param base_url: scheme, host and optional port, no trailing slash.
    :param api_key: the secret; excluded from ``repr``.
    :param timeout: seconds allowed per request.
    :param max_retries: retries after the first attempt.
    """

    base_url: str
    api_key: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES

    @classmethod
    def from_connection(
        cls, conn: Connection, *, timeout: float | None = None, max_retries: int | None = None
    ) -> SigmaMindConfig:
        """Read and check a ``sigmamind`` connection; constructor overrides win over its extras.

        :raises SigmaMindInvalidInputError: naming the connection and the field that is wrong.
        """
        where = f"connection {conn.conn_id!r}"
        extra = conn.extra_dejson if conn.extra else {}
        if not isinstance(extra, Mapping):
            raise SigmaMindInvalidInputError(f"{where}: the extra field must be a JSON object")
        api_key = _check_api_key(conn.password, where)
        allow_http = _flag(extra.get("allow_insecure_http"), "allow_insecure_http", where=where)
        base_url = _base_url(conn.host, conn.port, where, allow_http=allow_http)
        if timeout is None:
            timeout = extra.get("timeout") if extra.get("timeout") not in (None, "") else DEFAULT_TIMEOUT
        if max_retries is None:
            max_retries = (
                extra.get("max_retries") if extra.get("max_retries") not in (None, "") else DEFAULT_MAX_RETRIES
            )
        return cls(
            base_url=base_url,
            api_key=api_key,
            timeout=_number(timeout, "timeout", minimum=0.001, integer=False, where=where),
            max_retries=_number(max_retries, "max_retries", minimum=0, integer=True, where=where),
        )


def _check_api_key(password: str | None, where: str) -> str:
    key = (password or "").strip()
    if not key:
        raise SigmaMindInvalidInputError(f"{where} has no API key: put it in the API Key (password) field")
    # Registered before any other check can quote it, and before the first request is made.
    mask_secret(key)
    if password != key:
        log.warning("%s: the API key had surrounding white space, which was removed", where)
    if any(ch.isspace() or ord(ch) < 32 for ch in key):
        raise SigmaMindInvalidInputError(f"{where}: the API key contains white space or a line break")
    try:
        key.encode("latin-1")
    except UnicodeEncodeError:
        raise SigmaMindInvalidInputError(
            f"{where}: the API key has characters that cannot be sent in an HTTP header (not Latin-1)"
        ) from None
    if len(key) < _MIN_KEY_LENGTH:
        raise SigmaMindInvalidInputError(f"{where}: the API key is too short to be a SigmaMind key")
    return key


def _base_url(host: str | None, port: int | None, where: str, *, allow_http: bool) -> str:
    host = (host or "").strip() or DEFAULT_BASE_URL
    if "://" not in host:
        host = "https://" + host
    parts = urlsplit(host)
    if parts.scheme not in ("https", "http"):
        raise SigmaMindInvalidInputError(f"{where}: base URL scheme {parts.scheme!r} is not http or https")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise SigmaMindInvalidInputError(
            f"{where}: the base URL must not carry credentials, a query or a fragment; the key goes in API Key"
        )
    if not parts.hostname:
        raise SigmaMindInvalidInputError(f"{where}: the base URL has no host name")
    try:
        url_port = parts.port
    except ValueError:
        raise SigmaMindInvalidInputError(f"{where}: the base URL's port is not a number from 0 to 65535") from None
    if parts.scheme == "http" and not _is_loopback(parts.hostname) and not allow_http:
        raise SigmaMindInvalidInputError(
            f"{where}: plain http to {parts.hostname!r} would send the API key unencrypted; use https "
            "(or set the extra 'allow_insecure_http': true if you really mean it)"
        )
    netloc = parts.netloc
    if port and url_port is None:
        if not 0 < port < 65536:
            raise SigmaMindInvalidInputError(f"{where}: port {port} is not from 1 to 65535")
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _without_key(body: bytes, api_key: str) -> bytes:
    """``body`` with the API key blanked out (``***``): a server or proxy that echoes the key back must
    not get it into an error message, a log or an XCom."""
    for encoded in {api_key.encode("latin-1"), api_key.encode("utf-8")}:
        if encoded in body:
            body = body.replace(encoded, b"***")
    return body


def decode_json(
    status_code: int, body: bytes, content_type: str | None, *, method: str, path: str, campaign_id: str | None
) -> Any:
    """Decode a 2xx body; anything that is not JSON becomes a :class:`SigmaMindResponseError`."""
    if status_code == 204 or (not body and method in ("DELETE",)):
        return None
    subject = subject_of(method, path, campaign_id)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
        if not body.strip():
            what = "an empty body"
        elif (content_type and "html" in content_type.lower()) or body.lstrip()[:1] == b"<":
            what = "an HTML page (a proxy or maintenance page?)"
        elif body.lstrip()[:1] in (b"{", b"["):
            what = "truncated or invalid JSON"
        else:
            what = f"text that is not JSON: {server_message(body, content_type)!r}"
        raise SigmaMindResponseError(
            f"SigmaMind answered {subject} with {what} (HTTP {status_code} on {method} {path})",
            status_code=status_code,
            path=path,
            campaign_id=campaign_id,
        ) from None


def campaign_from_json(data: Any, *, status_code: int, method: str, path: str, campaign_id: str | None) -> Campaign:
    """Parse a decoded body as a campaign, as a :class:`SigmaMindResponseError` if it is not one."""
    try:
        return parse_campaign(data, expected_id=campaign_id)
    except PayloadError as exc:
        subject = subject_of(method, path, campaign_id)
        raise SigmaMindResponseError(
            f"SigmaMind's answer for {subject} is not a usable campaign: {exc} (HTTP {status_code} on {method} {path})",
            status_code=status_code,
            path=path,
            campaign_id=campaign_id,
        ) from None


_NO_ANSWER = "could not get an answer from SigmaMind"
_UNFINISHED = "SigmaMind's answer did not finish within the request timeout"


def _transport_error(
    what: str, method: str, path: str, campaign_id: str | None, cause: str | None = None, *, tls: bool = False
) -> SigmaMindTransportError:
    """A failure to get a whole answer (retried), or a TLS failure (not retried)."""
    cls = SigmaMindTLSError if tls else SigmaMindTransportError
    detail = f": {cause}" if cause else ""
    return cls(
        f"{what} for {subject_of(method, path, campaign_id)} ({method} {path}){detail}",
        path=path,
        campaign_id=campaign_id,
    )


def _too_large(status_code: int, method: str, path: str, campaign_id: str | None) -> SigmaMindResponseError:
    return SigmaMindResponseError(
        f"SigmaMind's answer for {subject_of(method, path, campaign_id)} is larger than "
        f"{MAX_RESPONSE_BYTES // (1024 * 1024)} MiB; not read further ({method} {path})",
        status_code=status_code,
        path=path,
        campaign_id=campaign_id,
    )


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
    """Turn a complete HTTP answer into decoded JSON, or the error it means (shared by both paths)."""
    body = _without_key(body, config.api_key)
    content_type = headers.get("Content-Type")
    if not 200 <= status_code < 300:
        raise error_for_response(
            status_code,
            method=method,
            path=path,
            body=body,
            content_type=content_type,
            campaign_id=campaign_id,
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )
    return decode_json(status_code, body, content_type, method=method, path=path, campaign_id=campaign_id)


class SigmaMindHook(BaseHook):
    """Talk to the SigmaMind API with the key from an Airflow connection.

    One ``requests`` session is reused for every call of a hook (keep-alive). Every request has an
    explicit connect and read timeout; transient failures (connection errors, timeouts, 408, 429,
    5xx) are retried with full-jitter backoff, honouring ``Retry-After``, within a bounded number
    of attempts and a total deadline; permanent ones raise at once. Redirects are never followed,
    so the key is only ever sent to the configured host.

    :param sigmamind_conn_id: the ``sigmamind`` connection holding the API key (password field) and,
        optionally, the base URL (host field) and the ``timeout``/``max_retries`` extras.
    :param timeout: seconds allowed per request; overrides the connection's ``timeout``.
    :param max_retries: retries after the first attempt; overrides the connection's ``max_retries``.
    :param retry_policy: backoff, ``Retry-After`` cap and total deadline; its ``max_retries`` is
        replaced by the connection's (or this hook's ``max_retries``).
    """

    conn_name_attr = "sigmamind_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "SigmaMind"

    def __init__(
        self,
        sigmamind_conn_id: str = DEFAULT_CONN_ID,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        self.sigmamind_conn_id = sigmamind_conn_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._retry_policy = retry_policy
        self._session: requests.Session | None = None
        self._async_config: SigmaMindConfig | None = None
        self._async_pool: _AsyncPool | None = None
        self._async_base_url = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sigmamind_conn_id={self.sigmamind_conn_id!r})"

    # -- configuration -----------------------------------------------------------------------

    def config_from(self, conn: Connection) -> SigmaMindConfig:
        """This hook's settings applied to ``conn`` (shared by the sync and async paths)."""
        return SigmaMindConfig.from_connection(conn, timeout=self._timeout, max_retries=self._max_retries)

    @cached_property
    def config(self) -> SigmaMindConfig:
        """The connection's settings, looked up once per hook."""
        return self.config_from(self.get_connection(self.sigmamind_conn_id))

    def retry_policy_for(self, config: SigmaMindConfig) -> RetryPolicy:
        """The retry policy in force: backoff, caps and deadline from ``retry_policy``; the number of
        retries from the connection (``config.max_retries``, which the constructor may override)."""
        return dataclasses.replace(self._retry_policy or RetryPolicy(), max_retries=config.max_retries)

    def headers(self, config: SigmaMindConfig) -> dict[str, str]:
        """Request headers, the key among them (never log these)."""
        return {"X-API-Key": config.api_key, "Accept": "application/json", "User-Agent": USER_AGENT}

    def get_conn(self) -> requests.Session:
        """The hook's one ``requests`` session, created on first use."""
        import requests  # here, not at module level: it is most of the provider's import time at DAG parse

        if self._session is None:
            self._session = requests.Session()
        return self._session

    def close(self) -> None:
        """Close the session and its pooled connections."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> SigmaMindHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the request funnel ------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        campaign_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        retry: bool = True,
        policy: RetryPolicy | None = None,
    ) -> Any:
        """Send one API call, with retries, and return the decoded JSON body.

        :param method: HTTP method.
        :param path: the path below the base URL, already encoded (see :func:`campaign_path`).
        :param campaign_id: the campaign concerned, named in errors.
        :param retry: ``False`` for calls that must not be repeated blindly (a create).
        :param policy: overrides the hook's retry policy for this call.
        :raises SigmaMindError: the subclass that says what went wrong.
        """
        config = self.config
        attempts = self._start_attempts(config, policy, retry=retry)
        while True:
            attempts.begin()
            try:
                return self._send_once(
                    config,
                    method,
                    path,
                    timeout=attempts.budget(config.timeout),
                    campaign_id=campaign_id,
                    params=params,
                    json_body=json_body,
                    data=data,
                    files=files,
                )
            except SigmaMindError as err:
                time.sleep(self._retry_delay(attempts, err))

    def _start_attempts(self, config: SigmaMindConfig, policy: RetryPolicy | None, *, retry: bool) -> Attempts:
        """Begin one call's attempts under ``policy`` (default: the hook's); one attempt if not ``retry``."""
        policy = policy or self.retry_policy_for(config)
        if not retry:
            policy = RetryPolicy(max_retries=0, deadline=policy.deadline)
        return policy.start()

    @staticmethod
    def _retry_delay(attempts: Attempts, err: SigmaMindError) -> float:
        """Seconds to wait before the next attempt, logged; re-raises ``err`` when retrying is over."""
        delay = attempts.next_delay(err)
        log.warning("%s; retrying in %.1fs (retry %d of %d)", err, delay, attempts.count, attempts.policy.max_retries)
        return delay

    def _send_once(
        self,
        config: SigmaMindConfig,
        method: str,
        path: str,
        *,
        timeout: float,
        campaign_id: str | None,
        params: Mapping[str, Any] | None,
        json_body: Any,
        data: Mapping[str, Any] | None,
        files: Mapping[str, Any] | None,
    ) -> Any:
        import requests
        import urllib3.exceptions

        if timeout <= 0:
            raise _transport_error("no time left to reach SigmaMind", method, path, campaign_id)
        deadline = time.monotonic() + timeout
        try:
            with self.get_conn().request(
                method,
                config.base_url + path,
                headers=self.headers(config),
                params=params,
                json=json_body,
                data=data,
                files=files,
                timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
                allow_redirects=False,
                stream=True,
            ) as response:
                body = self._read_body(response, deadline, method=method, path=path, campaign_id=campaign_id)
        except SigmaMindError:
            raise
        except requests.exceptions.SSLError as exc:
            raise _transport_error(
                "TLS failed while reaching SigmaMind", method, path, campaign_id, type(exc).__name__, tls=True
            ) from None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _transport_error(_NO_ANSWER, method, path, campaign_id, _describe(exc)) from None
        return answer_of(
            response.status_code,
            response.headers,
            body,
            config=config,
            method=method,
            path=path,
            campaign_id=campaign_id,
        )

    @staticmethod
    def _read_body(
        response: requests.Response, deadline: float, *, method: str, path: str, campaign_id: str | None
    ) -> bytes:
        """Read the body in pieces, stopping at the request's deadline or the size limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise _transport_error(_UNFINISHED, method, path, campaign_id)
            chunk = response.raw.read1(65536, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise _too_large(response.status_code, method, path, campaign_id)
            chunks.append(chunk)

    # -- resource verbs ----------------------------------------------------------------------

    def get_campaign(self, campaign_id: str) -> Campaign:
        """Fetch one campaign.

        :param campaign_id: the campaign's id, exactly as SigmaMind gave it.
        :raises SigmaMindNotFoundError: when the campaign does not exist for this key.
        :raises SigmaMindError: for every other failure (see :mod:`airflow_provider_sigmamind.exceptions`).
        """
        path = campaign_path(campaign_id)
        data = self.request("GET", path, campaign_id=campaign_id)
        return campaign_from_json(data, status_code=200, method="GET", path=path, campaign_id=campaign_id)

    def list_campaigns(
        self, status: str | CampaignStatus | None = None, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Campaign]:
        """Every campaign of the account, optionally only those in one status, fetched page by page.

        Lazy: a page is requested only when the one before it has been consumed, so stopping early
        (``next(hook.list_campaigns("live"))``) costs one request. Paging follows ``hasNext``, else
        ``totalPages``, else ``totalCount``/``totalCounts``; it stops at an empty page. A campaign
        that moves between pages while the list is read (a new one pushes the others along) is
        yielded once. Each page request is retried like any read.

        :param status: ``live``, ``scheduled``, ``paused`` or ``completed``; ``None`` for all.
        :param page_size: campaigns per request (the API's ``size``; its own default is 10).
        :raises SigmaMindInvalidInputError: at once, for an unknown status or a bad page size.
        :raises SigmaMindResponseError: when a page is not the list SigmaMind sends.
        """
        if isinstance(status, str | CampaignStatus) or status is None:
            try:
                statuses = parse_statuses(status, what="status")
            except ValueError as exc:
                raise SigmaMindInvalidInputError(str(exc)) from None
        else:
            raise SigmaMindInvalidInputError(f"status must be one status or None, got {type(status).__name__}")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise SigmaMindInvalidInputError(f"page_size must be a whole number of at least 1, got {page_size!r}")
        (wanted,) = statuses or (None,)
        return self._iter_campaigns(wanted, page_size)

    def _iter_campaigns(self, status: CampaignStatus | None, page_size: int) -> Iterator[Campaign]:
        path = "/v1/campaigns"
        seen: set[str] = set()
        page = 0
        while True:
            params: dict[str, Any] = {"page": page, "size": page_size}
            if status is not None:
                params["status"] = status.value
            body = self.request("GET", path, params=params)
            try:
                result = parse_campaign_page(body)
            except PayloadError as exc:
                raise SigmaMindResponseError(
                    f"SigmaMind's campaign list (page {page}) is not usable: {exc} (GET {path})",
                    status_code=200,
                    path=path,
                ) from None
            fresh = 0
            for campaign in result.campaigns:
                if campaign.campaign_id not in seen:
                    seen.add(campaign.campaign_id)
                    fresh += 1
                    yield campaign
            if not result.has_more(page, page_size):
                return
            if fresh == 0:
                self.log.warning("Page %d of the campaign list repeated campaigns already listed; stopped there", page)
                return
            page += 1

    def create_campaign(
        self,
        *,
        campaign_name: str,
        sip_phone_number: str,
        agent_id: str,
        contacts: str | bytes | os.PathLike[str] | Sequence[Mapping[str, Any]],
        concurrent_calls: int | None = None,
        scheduled_date: str | None = None,
        scheduled_time: str | None = None,
        scheduled_timezone: str | None = None,
        variables: Mapping[str, Any] | None = None,
        validate: ValidateMode = "error",
        required_variables: Iterable[str] | None = None,
        phone_check: PhoneCheck = "valid",
        file_name: str | None = None,
    ) -> Campaign:
        """Create a campaign from a contact list (``POST /v1/campaigns``, a multipart upload).

        First the contact list and the fields are checked (see :mod:`airflow_provider_sigmamind.contacts`):
        with ``validate="error"`` every problem found is raised at once and nothing is sent.

        A create is sent exactly once, never retried: after a timeout, a dropped connection, a 5xx
        or an unreadable answer SigmaMind may have created the campaign anyway, and a second POST
        could make a second campaign that dials the same people. Such errors say so; look for a
        campaign with this name (:meth:`list_campaigns`) before creating it again. Since campaign
        names are unique per account, a repeated create of an accepted one fails with HTTP 409.

        :param campaign_name: ``campaignName``, 1 to 128 characters, unique per account.
        :param sip_phone_number: ``sipPhoneNumber``, the E.164 number that dials out.
        :param agent_id: ``agentId``, the agent that makes the calls.
        :param contacts: the contact list: CSV text (``str``) or bytes, a path (``pathlib.Path``),
            or rows as mappings of column to value (``[{"Phone Number": "+14155552671", ...}]``).
        :param concurrent_calls: ``concurrentCalls``; ``None`` leaves it to SigmaMind.
        :param scheduled_date: ``scheduledDate``, ``YYYY-MM-DD``; giving any of the three
            scheduling fields schedules the campaign (``isScheduled``), and then all three are needed.
        :param scheduled_time: ``scheduledTime``, ``HH:mm:ss``, local to ``scheduled_timezone``.
        :param scheduled_timezone: ``scheduledTimezone``, an IANA name such as ``America/Los_Angeles``.
        :param variables: ``variables``, a JSON object (sent as a JSON string).
        :param validate: ``"error"`` (raise on any problem), ``"warn"`` (log the problems and send
            anyway; SigmaMind then reports row problems in the campaign's ``errors``) or ``"off"``.
        :param required_variables: variables every row must have (``None``: every column).
        :param phone_check: ``"valid"`` (E.164 and a number that can exist) or ``"e164"`` (pattern only).
        :param file_name: the file name sent with the upload (default: the path's, else ``contacts.csv``).
        :raises SigmaMindInvalidInputError: listing every problem found before sending (its
            ``problems`` attribute holds the full list).
        :raises SigmaMindError: when the API refuses or fails; see above for what is safe to repeat.
        """
        if validate not in VALIDATE_MODES:
            raise SigmaMindInvalidInputError(f"validate must be one of {', '.join(VALIDATE_MODES)}, got {validate!r}")
        if phone_check not in PHONE_CHECKS:
            raise SigmaMindInvalidInputError(
                f"phone_check must be one of {', '.join(PHONE_CHECKS)}, got {phone_check!r}"
            )
        data = _contact_bytes(contacts)
        if file_name is None:
            file_name = Path(contacts).name if isinstance(contacts, os.PathLike) else "contacts.csv"
        schedule = {
            "scheduledDate": scheduled_date,
            "scheduledTime": scheduled_time,
            "scheduledTimezone": scheduled_timezone,
        }
        if validate != "off":
            report = check_contacts(data, required_variables=required_variables, phone_check=phone_check)
            problems = [
                *campaign_field_problems(
                    campaign_name=campaign_name,
                    sip_phone_number=sip_phone_number,
                    agent_id=agent_id,
                    concurrent_calls=concurrent_calls,
                    scheduled_date=scheduled_date,
                    scheduled_time=scheduled_time,
                    scheduled_timezone=scheduled_timezone,
                    variables=variables,
                ),
                *report.problems,
            ]
            if problems:
                what = f"campaign {_shown(campaign_name)} was not created"
                if validate == "error":
                    raise _problems_error(what, problems)
                self.log.warning("%s", _problems_text(f"{what.replace('was not', 'will be')} despite", problems))
            else:
                self.log.info("Contact list checked: %d contacts, no problems found", report.contacts)
        form: dict[str, str] = {
            "campaignName": str(campaign_name),
            "sipPhoneNumber": str(sip_phone_number),
            "agentId": str(agent_id),
        }
        if concurrent_calls is not None:
            form["concurrentCalls"] = str(concurrent_calls)
        if any(value is not None for value in schedule.values()):
            form["isScheduled"] = "true"
            form.update({name: str(value) for name, value in schedule.items() if value is not None})
        if variables is not None:
            try:
                form["variables"] = json.dumps(variables, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise SigmaMindInvalidInputError(f"variables cannot be sent as JSON: {exc}") from None
        path = "/v1/campaigns"
        try:
            body = self.request("POST", path, data=form, files={"file": (file_name, data, "text/csv")}, retry=False)
            campaign = campaign_from_json(body, status_code=201, method="POST", path=path, campaign_id=None)
        except SigmaMindError as err:
            raise _explain_create_failure(err, str(campaign_name)) from None
        self.log.info("Created %s", campaign.summary())
        if campaign.errors:
            rows = "\n".join(f"  - {error}" for error in campaign.errors)
            self.log.warning(
                "SigmaMind reported %d contact-list row error(s) for campaign %r:\n%s",
                len(campaign.errors),
                campaign.campaign_id,
                rows,
            )
        return campaign

    def update_campaign(
        self,
        campaign_id: str,
        *,
        campaign_name: str | None = None,
        sip_phone_number: str | None = None,
        agent_id: str | None = None,
        concurrent_calls: int | None = None,
        scheduled: bool | None = None,
        scheduled_date: str | None = None,
        scheduled_time: str | None = None,
        scheduled_timezone: str | None = None,
        dynamic_variables: Mapping[str, Any] | None = None,
    ) -> Campaign:
        """Change some of a campaign's fields (``PATCH``): only the arguments given are sent.

        ``None`` means "leave as it is". The fields are checked before sending (formats, lengths,
        a real time zone; with all three scheduling fields, a local time that exists and is not in
        the past). Scheduling fields are sent as given: to schedule a campaign that was not, pass
        ``scheduled=True`` too. An update is retried like a read: sending the same values twice
        changes nothing more.

        :param campaign_id: the campaign's id, exactly as SigmaMind gave it.
        :param campaign_name: ``campaignName``.
        :param sip_phone_number: ``sipPhoneNumber``.
        :param agent_id: ``agentId``.
        :param concurrent_calls: ``concurrentCalls``.
        :param scheduled: ``isScheduled``.
        :param scheduled_date: ``scheduledDate``, ``YYYY-MM-DD``.
        :param scheduled_time: ``scheduledTime``, ``HH:mm:ss``.
        :param scheduled_timezone: ``scheduledTimezone``, an IANA name.
        :param dynamic_variables: ``dynamicVariables``, a JSON object.
        :raises SigmaMindInvalidInputError: when nothing is given, or listing every problem found.
        :raises SigmaMindNotFoundError: when the campaign does not exist for this key.
        """
        path = campaign_path(campaign_id)
        given = {
            name: value
            for name, value in {
                "campaign_name": campaign_name,
                "sip_phone_number": sip_phone_number,
                "agent_id": agent_id,
                "concurrent_calls": concurrent_calls,
                "scheduled": scheduled,
                "scheduled_date": scheduled_date,
                "scheduled_time": scheduled_time,
                "scheduled_timezone": scheduled_timezone,
                "dynamic_variables": dynamic_variables,
            }.items()
            if value is not None
        }
        if not given:
            raise SigmaMindInvalidInputError(f"nothing to update for campaign {campaign_id!r}: pass at least one field")
        problems = update_field_problems(given)
        if problems:
            raise _problems_error(f"campaign {campaign_id!r} was not updated", problems)
        body = {_UPDATE_FIELDS[name]: value for name, value in given.items()}
        data = self.request("PATCH", path, campaign_id=campaign_id, json_body=body)
        campaign = campaign_from_json(data, status_code=200, method="PATCH", path=path, campaign_id=campaign_id)
        self.log.info("Updated %s (%s)", campaign.summary(), ", ".join(body))
        return campaign

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and base URL with one cheap call (the connection form's Test button)."""
        try:
            config = self.config
            self.request(
                "GET",
                "/v1/campaigns",
                params={"page": 0, "size": 1},
                policy=RetryPolicy(max_retries=0, deadline=config.timeout),
            )
        except SigmaMindError as err:
            return False, str(err)
        finally:
            self.close()
        return True, f"Connected to SigmaMind at {self.config.base_url}; the API key was accepted."

    # -- the async twin, for triggers ---------------------------------------------------------

    async def aget_config(self) -> SigmaMindConfig:
        """The connection's settings, looked up without blocking the event loop (once per hook).

        The connection comes from :meth:`aget_connection`; reading it (which registers the key
        with the secrets masker, a round trip to the supervisor) runs in a worker thread.
        """
        if self._async_config is None:
            conn = await self.aget_connection(self.sigmamind_conn_id)
            self._async_config = await asyncio.to_thread(self.config_from, conn)
        return self._async_config

    def _async_pool_for(self, config: SigmaMindConfig) -> _AsyncPool:
        """This hook's lease on the event loop's shared connection pool for ``config.base_url``."""
        if self._async_pool is None:
            self._async_pool = _shared_async_clients.acquire(config.base_url)
            self._async_base_url = config.base_url
        return self._async_pool

    async def aclose(self) -> None:
        """Give back this hook's lease on the shared connection pool; the last lease closes it."""
        pool, self._async_pool = self._async_pool, None
        if pool is not None:
            await _shared_async_clients.release(self._async_base_url, pool)

    async def __aenter__(self) -> SigmaMindHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        campaign_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        retry: bool = True,
        policy: RetryPolicy | None = None,
    ) -> Any:
        """The async twin of :meth:`request`: same retry policy, same errors, same decoding.

        Requests go through one connection pool per event loop and base URL, shared by every hook
        of that loop (so a triggerer polling a thousand campaigns holds at most
        :data:`ASYNC_MAX_CONNECTIONS` sockets) and closed when the last hook using it calls
        :meth:`aclose`. Each attempt is bounded as a whole (connect, pool wait, every byte) by
        ``asyncio.timeout``.

        :param method: HTTP method.
        :param path: the path below the base URL, already encoded (see :func:`campaign_path`).
        :param campaign_id: the campaign concerned, named in errors.
        :param retry: ``False`` for calls that must not be repeated blindly.
        :param policy: overrides the hook's retry policy for this call.
        :raises SigmaMindError: the subclass that says what went wrong.
        """
        config = await self.aget_config()
        pool = self._async_pool_for(config)
        attempts = self._start_attempts(config, policy, retry=retry)
        while True:
            attempts.begin()
            try:
                return await self._asend_once(
                    pool,
                    config,
                    method,
                    path,
                    timeout=attempts.budget(config.timeout),
                    campaign_id=campaign_id,
                    params=params,
                    json_body=json_body,
                )
            except SigmaMindError as err:
                await asyncio.sleep(self._retry_delay(attempts, err))

    async def _asend_once(
        self,
        pool: _AsyncPool,
        config: SigmaMindConfig,
        method: str,
        path: str,
        *,
        timeout: float,
        campaign_id: str | None,
        params: Mapping[str, Any] | None,
        json_body: Any,
    ) -> Any:
        if timeout <= 0:
            raise _transport_error("no time left to reach SigmaMind", method, path, campaign_id)
        try:
            async with (
                asyncio.timeout(timeout),  # the whole attempt: waiting for a connection, connecting, every byte
                pool.slot() as client,
                client.stream(
                    method,
                    config.base_url + path,
                    headers=self.headers(config),
                    params=params,
                    json=json_body,
                    timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
                ) as response,
            ):
                body = await _aread_body(response, method=method, path=path, campaign_id=campaign_id)
        except SigmaMindError:
            raise
        except TimeoutError:
            raise _transport_error(_UNFINISHED, method, path, campaign_id) from None
        except (httpx.HTTPError, OSError) as exc:
            if _caused_by_tls(exc):
                raise _transport_error(
                    "TLS failed while reaching SigmaMind", method, path, campaign_id, type(exc).__name__, tls=True
                ) from None
            raise _transport_error(_NO_ANSWER, method, path, campaign_id, _describe_httpx(exc)) from None
        return answer_of(
            response.status_code,
            response.headers,
            body,
            config=config,
            method=method,
            path=path,
            campaign_id=campaign_id,
        )

    async def aget_campaign(self, campaign_id: str) -> Campaign:
        """Fetch one campaign without blocking the event loop (the async twin of :meth:`get_campaign`).

        :param campaign_id: the campaign's id, exactly as SigmaMind gave it.
        :raises SigmaMindNotFoundError: when the campaign does not exist for this key.
        :raises SigmaMindError: for every other failure (see :mod:`airflow_provider_sigmamind.exceptions`).
        """
        path = campaign_path(campaign_id)
        data = await self.arequest("GET", path, campaign_id=campaign_id)
        return campaign_from_json(data, status_code=200, method="GET", path=path, campaign_id=campaign_id)


_UPDATE_FIELDS = {
    "campaign_name": "campaignName",
    "sip_phone_number": "sipPhoneNumber",
    "agent_id": "agentId",
    "concurrent_calls": "concurrentCalls",
    "scheduled": "isScheduled",
    "scheduled_date": "scheduledDate",
    "scheduled_time": "scheduledTime",
    "scheduled_timezone": "scheduledTimezone",
    "dynamic_variables": "dynamicVariables",
}


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _problems_text(what: str, problems: Sequence[str]) -> str:
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [f"{what} {len(problems)} {noun} found before sending:"]
    lines += [f"  - {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    return "\n".join(lines)


def _problems_error(what: str, problems: Sequence[str]) -> SigmaMindInvalidInputError:
    """One error listing every problem (the first :data:`MAX_PROBLEMS_SHOWN` in its message)."""
    error = SigmaMindInvalidInputError(_problems_text(f"{what}:", problems))
    error.problems = list(problems)  # type: ignore[attr-defined]
    return error


def _contact_bytes(contacts: object) -> bytes:
    """The contact list as the bytes to upload, from CSV text or bytes, a path, or rows."""
    if isinstance(contacts, bytes):
        return contacts
    if isinstance(contacts, str):
        return contacts.encode("utf-8")
    if isinstance(contacts, os.PathLike):
        try:
            return Path(contacts).read_bytes()
        except OSError as exc:
            raise SigmaMindInvalidInputError(
                f"contacts: cannot read {os.fspath(contacts)!r}: {exc.strerror or type(exc).__name__}"
            ) from None
    if isinstance(contacts, Sequence) and not isinstance(contacts, bytearray):
        try:
            return rows_to_csv(contacts).encode("utf-8")
        except ValueError as exc:
            raise SigmaMindInvalidInputError(f"contacts: {exc}") from None
    raise SigmaMindInvalidInputError(
        f"contacts must be CSV text, bytes, a path or a list of rows (mappings), got {type(contacts).__name__}"
    )


def _explain_create_failure(error: SigmaMindError, campaign_name: str) -> SigmaMindError:
    """Add to a failed create's error whether the campaign may exist anyway, and what to do."""
    name = _shown(campaign_name)
    if isinstance(error, SigmaMindRateLimitError):
        return error.add_detail("; nothing was created (rate limited), so creating it again later is safe")
    ambiguous = isinstance(error, SigmaMindServerError | SigmaMindResponseError) or (
        isinstance(error, SigmaMindTransportError) and not isinstance(error, SigmaMindTLSError)
    )
    if ambiguous:
        return error.add_detail(
            f"; the create was sent once and not retried, because SigmaMind may have created campaign {name} "
            "anyway: look for it (SigmaMindHook.list_campaigns(), ListCampaignsOperator or the dashboard) "
            "before creating it again"
        )
    if isinstance(error, SigmaMindRejectedError) and error.status_code == 409:
        return error.add_detail(
            f"; campaign names are unique per account and {name} is taken, perhaps by an earlier "
            "attempt whose answer was lost"
        )
    return error


def _describe(exc: BaseException) -> str:
    """Name a ``requests`` transport failure without quoting library messages wholesale."""
    import requests
    import urllib3.exceptions

    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
        if isinstance(cause, requests.exceptions.ConnectTimeout):
            return "connect timed out"
        if isinstance(cause, requests.exceptions.ReadTimeout | urllib3.exceptions.ReadTimeoutError | TimeoutError):
            return "read timed out"
    if any(isinstance(c, urllib3.exceptions.ProtocolError | requests.exceptions.ChunkedEncodingError) for c in causes):
        return "connection closed before the answer was complete"
    return type(exc).__name__


# -- async plumbing ---------------------------------------------------------------------------

#: Most sockets one event loop holds open to one base URL, however many triggers poll through it.
ASYNC_MAX_CONNECTIONS = 32
#: ...spread over this many ``httpx.AsyncClient``s. httpcore rescans every connection of a pool
#: (quadratically, for idle ones) whenever a request starts or ends, so four pools of 8 cost much
#: less CPU under load than one of 32 (docs/performance.md).
ASYNC_POOL_SHARDS = 4


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing: a shared client must not carry one caller's cookies to another.

    Overriding the two entry points (rather than only refusing by policy) also skips parsing
    ``Set-Cookie`` headers on every answer.
    """

    def __init__(self) -> None:
        super().__init__(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


class _AsyncPool:
    """The connections of one event loop to one base URL: a few small clients behind one semaphore.

    The semaphore admits at most as many requests as there are connections, so thousands of
    waiting triggers queue here (O(1) each) rather than in httpcore's pool, which rescans its
    whole queue whenever a connection frees. Each admitted request goes to the least busy client.

    :param clients: the clients; requests carry their own headers, key and timeouts.
    :param capacity: requests admitted at once.
    """

    def __init__(self, clients: list[httpx.AsyncClient], capacity: int) -> None:
        self.clients = clients
        self.busy = [0] * len(clients)
        self.gate = asyncio.Semaphore(capacity)
        self.users = 0

    @classmethod
    def create(cls) -> _AsyncPool:
        per_client = ASYNC_MAX_CONNECTIONS // ASYNC_POOL_SHARDS
        limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
        clients = [
            httpx.AsyncClient(follow_redirects=False, cookies=_NoCookies(), limits=limits)
            for _ in range(ASYNC_POOL_SHARDS)
        ]
        return cls(clients, capacity=per_client * ASYNC_POOL_SHARDS)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[httpx.AsyncClient]:
        """Wait for a free connection's worth of capacity; yield the least busy client."""
        async with self.gate:
            index = min(range(len(self.clients)), key=self.busy.__getitem__)
            self.busy[index] += 1
            try:
                yield self.clients[index]
            finally:
                self.busy[index] -= 1

    @property
    def is_closed(self) -> bool:
        return all(client.is_closed for client in self.clients)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


class _SharedAsyncClients:
    """One :class:`_AsyncPool` per event loop and base URL, reference-counted.

    Hooks :meth:`acquire` the pool on their first async request and :meth:`release` it in
    :meth:`SigmaMindHook.aclose`; the last release closes its clients and sockets. Requests carry
    their own headers (the key among them) and timeouts, and the clients keep no cookies, so hooks
    for different connections can share a pool safely.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _AsyncPool]] = (
            weakref.WeakKeyDictionary()
        )

    def acquire(self, base_url: str) -> _AsyncPool:
        """The running loop's pool for ``base_url``, created on first use; counts one more user."""
        loop = asyncio.get_running_loop()
        with self._lock:
            pools = self._by_loop.setdefault(loop, {})
            pool = pools.get(base_url)
            if pool is None:
                pool = pools[base_url] = _AsyncPool.create()
            pool.users += 1
            return pool

    async def release(self, base_url: str, pool: _AsyncPool) -> None:
        """Count one user less; close the pool when it was the last."""
        loop = asyncio.get_running_loop()
        with self._lock:
            pools = self._by_loop.get(loop, {})
            if pools.get(base_url) is pool:
                pool.users -= 1
                last = pool.users <= 0
                if last:
                    del pools[base_url]
            else:  # not (or no longer) the shared one: it is nobody else's
                last = True
        if last:
            await pool.aclose()

    def open_pools(self) -> int:
        """How many shared pools the running loop holds (for tests and benchmarks)."""
        with self._lock:
            return len(self._by_loop.get(asyncio.get_running_loop(), {}))


_shared_async_clients = _SharedAsyncClients()


async def _aread_body(response: httpx.Response, *, method: str, path: str, campaign_id: str | None) -> bytes:
    """Read an async response body, refusing more than :data:`MAX_RESPONSE_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _too_large(response.status_code, method, path, campaign_id)
        chunks.append(chunk)
    return b"".join(chunks)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions behind it, outermost first: causes, contexts, and the exception a
    library wrapped as its first argument (as requests and urllib3 do)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        wrapped = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = current.__cause__ or current.__context__ or wrapped
    return seen


def _caused_by_tls(exc: BaseException) -> bool:
    return any(isinstance(cause, ssl.SSLError) for cause in _causes(exc))


def _describe_httpx(exc: BaseException) -> str:
    """Name an httpx transport failure without quoting library messages wholesale."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect timed out"
    if isinstance(exc, httpx.PoolTimeout):
        return "timed out waiting for a free connection"
    if isinstance(exc, httpx.TimeoutException):
        return "read timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed before the answer was complete"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "connection reset"
    return type(exc).__name__
