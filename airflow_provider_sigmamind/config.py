"""A ``sigmamind`` connection read once into a :class:`SigmaMindConfig`: where, with which key, how patiently.

Patience is decided here and nowhere else: the defaults, then the connection's extras, then what the
hook was given (``timeout``, ``max_retries``, ``retry_policy``), resolved into one frozen config that
carries the complete :class:`~airflow_provider_sigmamind.retry.RetryPolicy`. A trigger receives that
policy as primitives in its kwargs (:meth:`RetryPolicy.to_kwargs`), never through a class attribute.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_sigmamind.connection_form import connection_extra
from airflow_provider_sigmamind.defaults import DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from airflow_provider_sigmamind.exceptions import SigmaMindInvalidInputError
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.text import has_control_chars

if TYPE_CHECKING:
    from airflow_provider_sigmamind.compat import Connection

__all__ = ["SigmaMindConfig", "check_api_key", "connection_extra"]

log = logging.getLogger(__name__)

_MIN_KEY_LENGTH = 5
#: Extras that tune the retry policy, as :class:`RetryPolicy` field names.
_POLICY_EXTRAS = ("backoff_initial", "backoff_max", "retry_after_max", "deadline")


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
    except (TypeError, ValueError, OverflowError):
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


def check_api_key(password: str | None, where: str) -> str:
    """The key from a connection's password field, registered with the secrets masker and checked.

    One rule for both request paths, checked before anything is sent: visible ASCII only (what every
    HTTP client can put in a header byte for byte), at least five characters. Surrounding white
    space is removed with a warning.

    :raises SigmaMindInvalidInputError: naming what is wrong, never quoting the key.
    """
    from airflow_provider_sigmamind.compat import mask_secret

    key = (password or "").strip()
    if not key:
        raise SigmaMindInvalidInputError(f"{where} has no API key: put it in the API Key (password) field")
    # Registered before any other check can quote it, and before the first request is made.
    mask_secret(key)
    if password != key:
        log.warning("%s: the API key had surrounding white space, which was removed", where)
    if has_control_chars(key) or any(ch.isspace() for ch in key):
        raise SigmaMindInvalidInputError(
            f"{where}: the API key contains white space, a line break or a control character"
        )
    if not key.isascii():
        raise SigmaMindInvalidInputError(
            f"{where}: the API key has characters outside ASCII, which cannot be sent in an HTTP header "
            "as they are; copy the key again from SigmaMind's dashboard"
        )
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


def _ca_bundle(value: object, where: str) -> str | None:
    """The extra ``ca_bundle``: a readable PEM file of CA certificates to trust instead of the system's."""
    if value is None:
        return None
    path = os.path.expanduser(str(value).strip())
    if not os.path.isfile(path):
        raise SigmaMindInvalidInputError(f"{where}: 'ca_bundle' {path!r} is not a file")
    return path


@dataclass(frozen=True)
class SigmaMindConfig:
    """What a connection says: where to send requests, with which key, how patiently.

    :param base_url: scheme, host and optional port, no trailing slash.
    :param api_key: the secret; excluded from ``repr``.
    :param timeout: seconds allowed per request, from connecting to the last byte.
    :param max_retries: retries after the first attempt.
    :param retry_policy: backoff, ``Retry-After`` cap and deadline; its ``max_retries`` is always
        this config's ``max_retries`` (default: :class:`RetryPolicy`'s own defaults).
    :param ca_bundle: a PEM file of CA certificates to trust, or ``None`` for the default
        (``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE`` when set, else the system's).
    :param max_requests_per_second: the rate budget of this key at this base URL, shared by every
        request of the process (see :mod:`airflow_provider_sigmamind.budget`); ``None`` for no limit.
    :param batch_polling: answer a process's deferred waits on this account from the campaign list,
        one round per poll interval, rather than one request per campaign (see
        :mod:`airflow_provider_sigmamind.coalesce`).
    """

    base_url: str
    api_key: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_policy: RetryPolicy = field(default=None)  # type: ignore[assignment]  # set in __post_init__
    ca_bundle: str | None = None
    max_requests_per_second: float | None = None
    batch_polling: bool = False

    def __post_init__(self) -> None:
        policy = dataclasses.replace(self.retry_policy or RetryPolicy(), max_retries=self.max_retries)
        object.__setattr__(self, "retry_policy", policy)

    @classmethod
    def from_connection(
        cls,
        conn: Connection,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> SigmaMindConfig:
        """Read and check a ``sigmamind`` connection; what the hook was given wins over its extras.

        Precedence: the ``timeout`` and ``max_retries`` arguments, then a given ``retry_policy``
        (whole; a ``max_retries`` it leaves ``None`` comes from the connection), then the
        connection's extras (``timeout``, ``max_retries``, ``backoff_initial``, ``backoff_max``,
        ``retry_after_max``, ``deadline``, ``max_requests_per_second``, ``batch_polling``, also under the
        ``extra__sigmamind__`` prefix that older connection forms write), then the defaults.

        :raises SigmaMindInvalidInputError: naming the connection and the field that is wrong.
        """
        where = f"connection {conn.conn_id!r}"
        extra = conn.extra_dejson if conn.extra else {}
        if not isinstance(extra, Mapping):
            raise SigmaMindInvalidInputError(f"{where}: the extra field must be a JSON object")
        api_key = check_api_key(conn.password, where)
        allow_http = _flag(connection_extra(extra, "allow_insecure_http"), "allow_insecure_http", where=where)
        base_url = _base_url(conn.host, conn.port, where, allow_http=allow_http)
        if retry_policy is None:
            tuned = {name: connection_extra(extra, name) for name in _POLICY_EXTRAS}
            retry_policy = RetryPolicy(
                **{
                    name: _number(value, name, minimum=0, integer=False, where=where)
                    for name, value in tuned.items()
                    if value is not None
                }
            )
        if max_retries is None:
            max_retries = retry_policy.max_retries
        if max_retries is None:
            max_retries = connection_extra(extra, "max_retries")
        if timeout is None:
            timeout = connection_extra(extra, "timeout")
        rate = connection_extra(extra, "max_requests_per_second")
        return cls(
            base_url=base_url,
            api_key=api_key,
            timeout=_number(
                DEFAULT_TIMEOUT if timeout is None else timeout, "timeout", minimum=0.001, integer=False, where=where
            ),
            max_retries=_number(
                DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
                "max_retries",
                minimum=0,
                integer=True,
                where=where,
            ),
            retry_policy=retry_policy,
            ca_bundle=_ca_bundle(connection_extra(extra, "ca_bundle"), where),
            max_requests_per_second=None
            if rate is None
            else _number(rate, "max_requests_per_second", minimum=0.01, integer=False, where=where),
            batch_polling=_flag(connection_extra(extra, "batch_polling"), "batch_polling", where=where),
        )
