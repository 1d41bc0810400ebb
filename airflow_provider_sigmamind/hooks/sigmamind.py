"""SigmaMindHook: connection lookup, the retry loop and the resource verbs of the SigmaMind API.

The HTTP itself is below this module: :mod:`~airflow_provider_sigmamind.api_call` builds each
attempt's request and reads its answer, :mod:`~airflow_provider_sigmamind.transport` sends it
(``requests`` for sync calls, a shared ``aiohttp`` session per event loop for async ones).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from airflow_provider_sigmamind import connection_form
from airflow_provider_sigmamind.answers import answer_of, call_from_json, campaign_from_json, decode_json
from airflow_provider_sigmamind.api_call import USER_AGENT, ApiCall, Route
from airflow_provider_sigmamind.campaign_fields import CampaignChanges, NewCampaign
from airflow_provider_sigmamind.campaign_writes import (
    create_request,
    explain_create_failure,
    report_created,
    update_body,
)
from airflow_provider_sigmamind.coalesce import shared_polls
from airflow_provider_sigmamind.compat import BaseHook, get_async_connection
from airflow_provider_sigmamind.config import SigmaMindConfig
from airflow_provider_sigmamind.contacts import PhoneCheck, ValidateMode
from airflow_provider_sigmamind.defaults import CONN_TYPE, DEFAULT_CONN_ID
from airflow_provider_sigmamind.exceptions import SigmaMindError
from airflow_provider_sigmamind.models import Call, CallStatus, Campaign, CampaignStatus
from airflow_provider_sigmamind.paging import CALLS, CAMPAIGNS, Listing, of_campaign
from airflow_provider_sigmamind.paths import MAX_CAMPAIGN_ID_LENGTH, call_path, campaign_path, validate_campaign_id
from airflow_provider_sigmamind.retry import Attempts, RetryPolicy
from airflow_provider_sigmamind.routes import shared_routes
from airflow_provider_sigmamind.transport import TransportFailure, aio
from airflow_provider_sigmamind.transport.pool import ASYNC_MAX_CONNECTIONS, Lease, shared_sessions
from airflow_provider_sigmamind.transport.sync import SyncTransport

if TYPE_CHECKING:
    import requests

    from airflow_provider_sigmamind.compat import Connection

__all__ = ["SigmaMindConfig", "SigmaMindHook", "campaign_path", "validate_campaign_id"]

#: Kept importable from here for 0.1 callers: see :mod:`airflow_provider_sigmamind.paths`,
#: :mod:`airflow_provider_sigmamind.transport.pool` and :mod:`airflow_provider_sigmamind.answers`.
__compat__ = (ASYNC_MAX_CONNECTIONS, MAX_CAMPAIGN_ID_LENGTH, USER_AGENT, answer_of, campaign_from_json, decode_json)

log = logging.getLogger(__name__)

#: Campaigns asked for per list request. The API's default is 10 and it documents no maximum.
DEFAULT_PAGE_SIZE = 100


class SigmaMindHook(BaseHook):
    """Talk to the SigmaMind API with the key from an Airflow connection.

    One ``requests`` session is reused for every sync call of a hook (keep-alive); async calls share
    one ``aiohttp`` session per event loop. Every attempt is bounded as a whole by the request
    timeout; transient failures (connection errors, timeouts, 408, 429, 5xx) are retried with
    full-jitter backoff, honouring ``Retry-After``, within a bounded number of attempts and a total
    deadline; permanent ones raise at once. Redirects are never followed, so the key is only ever
    sent to the configured host. Both paths behave the same by construction: see
    :mod:`airflow_provider_sigmamind.transport`.

    :param sigmamind_conn_id: the ``sigmamind`` connection holding the API key (password field) and,
        optionally, the base URL (host field) and the extras (``timeout``, ``max_retries``,
        ``backoff_initial``, ``backoff_max``, ``retry_after_max``, ``deadline``, ``ca_bundle``).
    :param timeout: seconds allowed per request; overrides the connection's ``timeout``.
    :param max_retries: retries after the first attempt; overrides the connection's and the policy's.
    :param retry_policy: backoff, ``Retry-After`` cap and total deadline, used whole; a
        ``max_retries`` it leaves ``None`` comes from the connection.
    """

    conn_name_attr = "sigmamind_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "SigmaMind"

    # -- the connection form on Airflow 2.11 to 3.1 (3.2+ reads get_provider_info()), both from
    # the one definition in connection_form.py, as get_provider_info()'s form is -------------------
    get_connection_form_widgets = staticmethod(connection_form.connection_form_widgets)
    get_ui_field_behaviour = staticmethod(connection_form.ui_field_behaviour)

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
        self._async_route: Route | None = None
        self._lease: Lease | None = None  # on the running loop's shared aiohttp session
        self._watching: tuple[tuple[str, str], ...] = ()  # campaigns joined in coalesce.py, left by aclose()
        self._polled: tuple[str, str] | None = None  # the campaign aget_campaign last asked for, and its path

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sigmamind_conn_id={self.sigmamind_conn_id!r})"

    # -- configuration -----------------------------------------------------------------------

    def config_from(self, conn: Connection) -> SigmaMindConfig:
        """This hook's settings applied to ``conn`` (shared by the sync and async paths)."""
        return SigmaMindConfig.from_connection(
            conn, timeout=self._timeout, max_retries=self._max_retries, retry_policy=self._retry_policy
        )

    @cached_property
    def config(self) -> SigmaMindConfig:
        """The connection's settings, looked up once per hook."""
        return self._route.config

    @cached_property
    def _route(self) -> Route:
        return Route.of(self.config_from(self.get_connection(self.sigmamind_conn_id)))

    def retry_policy_for(self, config: SigmaMindConfig) -> RetryPolicy:
        """The retry policy in force for ``config`` (kept for 0.1 callers; read ``config.retry_policy``)."""
        return config.retry_policy

    def headers(self, config: SigmaMindConfig) -> dict[str, str]:
        """Request headers, the key among them (never log these)."""
        return dict(Route.of(config).headers)

    @cached_property
    def _transport(self) -> SyncTransport:  # built on first sync use: a trigger's hook needs none
        return SyncTransport()

    def get_conn(self) -> requests.Session:
        """The hook's one ``requests`` session, created on first use."""
        return self._transport.session

    def close(self) -> None:
        """Close the session and its pooled connections."""
        if (transport := self.__dict__.get("_transport")) is not None:
            transport.close()

    def __enter__(self) -> SigmaMindHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the retry loop ----------------------------------------------------------------------

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
        :param params: the query.
        :param json_body: a body sent as JSON.
        :param data: form fields, sent as ``multipart/form-data`` with ``files``.
        :param files: field name -> (file name, content, content type).
        :param retry: ``False`` for calls that must not be repeated blindly (a create).
        :param policy: overrides the hook's retry policy for this call.
        :raises SigmaMindError: the subclass that says what went wrong.
        """
        route = self._route
        call = ApiCall(
            route, method, path, campaign_id=campaign_id, params=params, json=json_body, data=data, files=files
        )
        attempts = (policy or route.config.retry_policy).start(once=not retry)
        while True:
            attempts.begin()
            time.sleep(call.turn(attempts))  # the process-wide rate budget (0 when none is set)
            request = call.request(attempts)
            try:
                return call.result(self._transport.send(request))
            except TransportFailure as failure:
                error = call.failure(failure, request)
            except SigmaMindError as err:
                error = err
            time.sleep(self._retry_delay(attempts, error))

    @staticmethod
    def _retry_delay(attempts: Attempts, err: SigmaMindError) -> float:
        """Seconds to wait before the next attempt, logged; re-raises ``err`` when retrying is over."""
        delay = attempts.next_delay(err)
        log.warning("%s; retrying in %.1fs (retry %d of %d)", err, delay, attempts.count, attempts.max_retries)
        return delay

    # -- resource verbs ----------------------------------------------------------------------

    def get_campaign(self, campaign_id: str, *, policy: RetryPolicy | None = None) -> Campaign:
        """Fetch one campaign.

        :param campaign_id: the campaign's id, exactly as SigmaMind gave it.
        :param policy: overrides the hook's retry policy for this call (a sensor's poll near its deadline).
        :raises SigmaMindNotFoundError: when the campaign does not exist for this key.
        :raises SigmaMindError: for every other failure (see :mod:`airflow_provider_sigmamind.exceptions`).
        """
        path = campaign_path(campaign_id)
        data = self.request("GET", path, campaign_id=campaign_id, policy=policy)
        return campaign_from_json(data, status_code=200, method="GET", path=path, campaign_id=campaign_id)

    def list_campaigns(
        self, status: str | CampaignStatus | None = None, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Listing[Campaign]:
        """Every campaign of the account (optionally in one status), read lazily page by page.

        Stopping early (``next(hook.list_campaigns("live"))``) costs one request. Paging tolerates
        every envelope variant and loses no campaign to a silent page cap (see
        :mod:`~airflow_provider_sigmamind.paging`); each page is retried like any read.

        :param status: ``live``, ``scheduled``, ``paused`` or ``completed``; ``None`` for all.
        :param page_size: campaigns per request (the API's ``size``; its own default is 10).
        :raises SigmaMindInvalidInputError: at once, for an unknown status or a bad page size.
        :raises SigmaMindResponseError: when a page is not the list SigmaMind sends.
        """
        return CAMPAIGNS.listing(self.request, status=status, page_size=page_size, logger=self.log)

    def list_calls(
        self, status: str | CallStatus | None = None, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Listing[Call]:
        """Every call of the account, read lazily page by page like :meth:`list_campaigns`.

        :param status: one status of either API generation (``ended``, ``completed``...); ``None`` for all.
        :param page_size: calls per request.
        """
        return CALLS.listing(self.request, status=status, page_size=page_size, logger=self.log)

    def iter_campaign_calls(
        self, campaign_id: str, *, status: str | CallStatus | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Listing[Call]:
        """The calls of one campaign: every call is read, the campaign's kept (no campaign filter exists).

        :param campaign_id: the campaign's id, exactly as SigmaMind gave it (see
            :func:`~airflow_provider_sigmamind.paging.of_campaign`).
        """
        keep = of_campaign(campaign_id)
        return CALLS.listing(self.request, status=status, page_size=page_size, keep=keep, logger=self.log)

    def get_call(self, call_id: str) -> Call:
        """Fetch one call by its id, exactly as SigmaMind gave it (:class:`SigmaMindNotFoundError` when
        it does not exist for this key)."""
        path = call_path(call_id)
        return call_from_json(self.request("GET", path), path=path, call_id=call_id)

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

        First the contact list and the fields are checked (see :mod:`airflow_provider_sigmamind.contacts`
        and :mod:`airflow_provider_sigmamind.campaign_fields`): with ``validate="error"`` every problem
        found is raised at once and nothing is sent.

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
        new = NewCampaign.from_arguments(locals())  # the arguments named like fields (a test holds them to FIELDS)
        upload = create_request(
            new,
            contacts,
            file_name=file_name,
            validate=validate,
            required_variables=required_variables,
            phone_check=phone_check,
            log=self.log,
        )
        path = CAMPAIGNS.path
        try:
            body = self.request("POST", path, data=upload.form, files=upload.files, retry=False)
            campaign = campaign_from_json(body, status_code=201, method="POST", path=path, campaign_id=None)
        except SigmaMindError as err:
            raise explain_create_failure(err, new.campaign_name) from None
        report_created(campaign, self.log)
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
        changes = CampaignChanges.from_arguments(locals())  # the arguments named like fields
        path = campaign_path(campaign_id)
        body = update_body(changes, campaign_id)
        data = self.request("PATCH", path, campaign_id=campaign_id, json_body=body)
        campaign = campaign_from_json(data, status_code=200, method="PATCH", path=path, campaign_id=campaign_id)
        self.log.info("Updated %s (%s)", campaign.summary(), ", ".join(body))
        return campaign

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and base URL with one cheap call (the connection form's Test button)."""
        try:
            config = self.config
            once = RetryPolicy(max_retries=0, deadline=config.timeout)
            self.request("GET", CAMPAIGNS.path, params={"page": 0, "size": 1}, policy=once)
        except SigmaMindError as err:
            return False, str(err)
        finally:
            self.close()
        return True, f"Connected to SigmaMind at {self.config.base_url}; the API key was accepted."

    # -- the async twin, for triggers ---------------------------------------------------------

    async def aget_config(self) -> SigmaMindConfig:
        """The connection's settings, looked up once per hook without blocking the event loop: in asgiref's
        worker thread, as the key is registered with the secrets masker (a round trip to the supervisor)."""
        return (self._async_route or await self._aroute()).config

    async def _aroute(self) -> Route:
        if self._async_route is None:  # one lookup per connection and settings per loop (routes.py)
            key = (self.sigmamind_conn_id, self._timeout, self._max_retries, self._retry_policy)
            self._async_route = await shared_routes.get(key, self._alookup_route)
        return self._async_route

    async def _alookup_route(self) -> Route:
        conn = await get_async_connection(self.sigmamind_conn_id, self)
        # asgiref's thread: from a plain one, the masker's supervisor call kills Airflow 3.0's triggerer.
        return await sync_to_async(lambda: Route.of(self.config_from(conn)))()

    def _session(self) -> Any:
        """The running loop's shared ``aiohttp`` session, leased on first use in this loop."""
        lease = self._lease = shared_sessions.lease(self._lease)
        return lease.session

    async def aclose(self) -> None:
        """Give back the lease on the loop's shared session (the last closes it); stop watching campaigns."""
        for key in self._watching:
            shared_polls.leave(*key)
        self._watching = ()
        lease, self._lease = self._lease, None
        await shared_sessions.give_back(lease)

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
        """The async twin of :meth:`request` (its parameters but ``data`` and ``files``): same retry
        policy, same errors, same decoding; through the loop's one ``aiohttp`` session
        (:mod:`~airflow_provider_sigmamind.transport.pool`).

        :raises SigmaMindError: the subclass that says what went wrong.
        """
        route = self._async_route or await self._aroute()  # no coroutine once looked up: one less per poll
        session = self._session()
        call = ApiCall(route, method, path, campaign_id=campaign_id, params=params, json=json_body)
        attempts = (policy or route.config.retry_policy).start(once=not retry)
        while True:
            attempts.begin()
            if wait := call.turn(attempts):  # the process-wide rate budget
                await asyncio.sleep(wait)
            request = call.request(attempts)
            try:
                return call.result(await aio.send(session, request))
            except TransportFailure as failure:
                error = call.failure(failure, request)
            except SigmaMindError as err:
                error = err
            await asyncio.sleep(self._retry_delay(attempts, error))

    async def aget_campaign(
        self, campaign_id: str, *, policy: RetryPolicy | None = None, max_age: float | None = None
    ) -> Campaign:
        """Fetch one campaign without blocking the event loop (the async twin of :meth:`get_campaign`).

        :param campaign_id: the campaign's id, exactly as SigmaMind gave it.
        :param policy: overrides the hook's retry policy for this call (a trigger's poll near its deadline).
        :param max_age: share polls of this campaign in this event loop (:mod:`~airflow_provider_sigmamind.coalesce`,
            also for ``batch_polling``): an answer up to ``max_age`` seconds old, or the request in
            flight. The hook watches the campaign from then on, until :meth:`aclose`.
        :raises SigmaMindNotFoundError: when the campaign does not exist for this key.
        :raises SigmaMindError: for every other failure (see :mod:`airflow_provider_sigmamind.exceptions`).
        """
        if max_age:
            route = self._async_route or await self._aroute()
            if (shared := self._shared_poll(route, campaign_id, policy, max_age)) is not None:
                return await shared
        if self._polled is None or self._polled[0] != campaign_id:  # a trigger's hook: same id every poll
            self._polled = (campaign_id, campaign_path(campaign_id))
        path = self._polled[1]
        data = await self.arequest("GET", path, campaign_id=campaign_id, policy=policy)
        return campaign_from_json(data, status_code=200, method="GET", path=path, campaign_id=campaign_id)

    def _shared_poll(
        self, route: Route, campaign_id: str, policy: RetryPolicy | None, max_age: float
    ) -> Awaitable[Campaign] | None:
        """Watch ``campaign_id`` (once per hook); the poll shared with other waits on it (coalesce.py),
        or ``None`` when this wait alone watches it. Not inline in :meth:`aget_campaign`, so that what
        it makes (a key, the closure's cells) is gone before the request, not alive through it."""
        key = (route.account, campaign_id)
        if key not in self._watching:
            self._watching += (key,)
            shared_polls.join(*key)
        if not route.config.batch_polling and shared_polls.alone(*key):
            return None
        deadline = (policy or route.config.retry_policy).deadline
        fetch = lambda: self.aget_campaign(campaign_id, policy=policy)  # noqa: E731
        lister = self if route.config.batch_polling else None
        return shared_polls.get(route.account, campaign_id, max_age, deadline, fetch, lister=lister)
