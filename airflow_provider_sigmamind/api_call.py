"""One API call as both request paths make it: the request each attempt sends, and what its answer
or its failure means. The hook's two retry loops (sync and async) differ only in how they send and
how they sleep; everything else about a call is here, once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from airflow_provider_sigmamind import __version__
from airflow_provider_sigmamind.answers import interpret
from airflow_provider_sigmamind.budget import RateBudget, budget_key, budgets
from airflow_provider_sigmamind.config import SigmaMindConfig
from airflow_provider_sigmamind.exceptions import (
    SigmaMindError,
    SigmaMindInvalidInputError,
    no_time_left,
    transport_error,
)
from airflow_provider_sigmamind.retry import Attempts
from airflow_provider_sigmamind.transport import Answer, Request, TransportFailure
from airflow_provider_sigmamind.transport.body import ACCEPT_ENCODING, json_body, multipart_body
from airflow_provider_sigmamind.transport.network import ca_file_for, proxy_for

__all__ = ["USER_AGENT", "ApiCall", "Route", "base_headers"]

USER_AGENT = f"airflow-provider-sigmamind/{__version__}"


def base_headers(config: SigmaMindConfig) -> dict[str, str]:
    """The headers of every request, the key among them (never log these)."""
    return {
        "X-API-Key": config.api_key,
        "Accept": "application/json",
        "Accept-Encoding": ACCEPT_ENCODING,
        "User-Agent": USER_AGENT,
    }


@dataclass(frozen=True)
class Route:
    """How a config's requests travel: its headers, proxy and CA bundle, and the rate budget they
    share with every other request of the process for the same key and base URL; worked out once per hook.

    :param config: the connection's settings.
    """

    config: SigmaMindConfig
    headers: Mapping[str, str] = field(repr=False)  # the key among them
    proxy: str | None
    ca_file: str
    budget: RateBudget
    #: What identifies the key and base URL without holding the key (a hash, :func:`.budget.budget_key`):
    #: the account whose polls :mod:`~airflow_provider_sigmamind.coalesce` shares. A string, so that
    #: the keys filed under it are tuples the garbage collector stops tracking.
    account: str

    @classmethod
    def of(cls, config: SigmaMindConfig) -> Route:
        budget = budgets.get(config.api_key, config.base_url, config.max_requests_per_second)
        account = budget_key(config.api_key, config.base_url)
        return cls(
            config, base_headers(config), proxy_for(config.base_url), ca_file_for(config.ca_bundle), budget, account
        )


class ApiCall:
    """One call (a method and path) and its attempts' requests.

    :param route: where and how requests travel.
    :param method: HTTP method.
    :param path: the path below the base URL, already encoded.
    :param campaign_id: the campaign concerned, named in errors.
    :param params: the query; ``None`` for none.
    :param json: a body to send as JSON.
    :param data: form fields to send as ``multipart/form-data`` (with ``files``).
    :param files: field name -> (file name, content, content type).
    """

    __slots__ = ("body", "campaign_id", "headers", "method", "path", "route", "url")

    def __init__(
        self,
        route: Route,
        method: str,
        path: str,
        *,
        campaign_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> None:
        self.route = route
        self.method = method
        self.path = path
        self.campaign_id = campaign_id
        self.url = route.config.base_url + path + (f"?{urlencode(params)}" if params else "")
        self.headers = route.headers
        self.body: bytes | None = None
        content_type = None
        if data is not None or files is not None:
            self.body, content_type = multipart_body(data or {}, files or {})
        elif json is not None:
            try:
                self.body, content_type = json_body(json)
            except (TypeError, ValueError) as exc:
                raise SigmaMindInvalidInputError(f"the request body for {method} {path} is not JSON: {exc}") from None
        if content_type is not None:
            self.headers = {**route.headers, "Content-Type": content_type}

    def turn(self, attempts: Attempts) -> float:
        """Take this attempt's token from the rate budget: the seconds to sleep before sending it.

        Waiting for a token counts against the call's deadline like any other delay.

        :raises SigmaMindTransportError: when the wait would not end before the deadline.
        """
        delay = self.route.budget.reserve(attempts.remaining())
        if delay is None:
            raise no_time_left(method=self.method, path=self.path, campaign_id=self.campaign_id)
        return delay

    def request(self, attempts: Attempts) -> Request:
        """The request of the next attempt, given the time the call has left.

        :raises SigmaMindTransportError: when the call's deadline has already passed.
        """
        timeout = attempts.budget(self.route.config.timeout)
        if timeout <= 0:
            raise no_time_left(method=self.method, path=self.path, campaign_id=self.campaign_id)
        return Request(self.method, self.url, self.headers, self.body, timeout, self.route.proxy, self.route.ca_file)

    def result(self, answer: Answer) -> Any:
        """The decoded body of a whole answer, or the error it means; a 429 slows the whole budget."""
        try:
            return interpret(
                answer,
                api_key=self.route.config.api_key,
                method=self.method,
                path=self.path,
                campaign_id=self.campaign_id,
            )
        except SigmaMindError as err:
            if answer.status == 429:  # the error holds the server's Retry-After, read once
                wait, limit = err.retry_after, self.route.config.retry_policy.retry_after_max
                self.route.budget.throttled(None if wait is None else min(wait, limit))
            raise

    def failure(self, failure: TransportFailure, request: Request) -> SigmaMindError:
        """The error for an attempt that got no whole answer."""
        return transport_error(
            failure, method=self.method, path=self.path, campaign_id=self.campaign_id, timeout=request.timeout
        )
