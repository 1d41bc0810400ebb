"""Operators for SigmaMind campaigns."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_sigmamind.campaign_fields import CampaignChanges, CampaignField, CampaignPayload, NewCampaign
from airflow_provider_sigmamind.compat import AirflowSensorTimeout, BaseOperator, conf
from airflow_provider_sigmamind.contacts import PHONE_CHECKS, VALIDATE_MODES, PhoneCheck, ValidateMode
from airflow_provider_sigmamind.defaults import DEFAULT_CONN_ID
from airflow_provider_sigmamind.durable import create_once
from airflow_provider_sigmamind.events import outcome
from airflow_provider_sigmamind.exceptions import (
    SigmaMindCampaignStatusError,
    SigmaMindContactListError,
    SigmaMindError,
    SigmaMindInvalidInputError,
)
from airflow_provider_sigmamind.hooks.sigmamind import DEFAULT_PAGE_SIZE, SigmaMindHook
from airflow_provider_sigmamind.lineage import CampaignLineage
from airflow_provider_sigmamind.models import Campaign, CampaignStatus
from airflow_provider_sigmamind.text import shorten
from airflow_provider_sigmamind.watch import CampaignWatch, poll_policy, wait_settings

if TYPE_CHECKING:
    from airflow_provider_sigmamind.compat import Context

__all__ = ["CreateCampaignOperator", "GetCampaignOperator", "ListCampaignsOperator", "UpdateCampaignOperator"]


class GetCampaignOperator(CampaignLineage, BaseOperator):
    """Fetch one campaign and push its details to XCom.

    The return value (XCom ``return_value``) is the campaign exactly as SigmaMind sent it, in the
    API's own camelCase: ``campaignId``, ``campaignName``, ``campaignStatus``, ``scheduledDate``,
    ``errors``, ... The task logs a one-line summary, and the contact list's row errors as a
    warning (or fails on them with ``fail_on_csv_errors=True``).

    :param campaign_id: the campaign's id, exactly as SigmaMind gave it (templated).
    :param sigmamind_conn_id: the ``sigmamind`` connection to use (templated).
    :param fail_on_csv_errors: fail the task, listing the rows, when the contact list has errors.
    """

    template_fields: Sequence[str] = ("campaign_id", "sigmamind_conn_id")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        campaign_id: str,
        sigmamind_conn_id: str = DEFAULT_CONN_ID,
        fail_on_csv_errors: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.campaign_id = campaign_id
        self.sigmamind_conn_id = sigmamind_conn_id
        self.fail_on_csv_errors = fail_on_csv_errors

    @cached_property
    def hook(self) -> SigmaMindHook:
        """The hook for ``sigmamind_conn_id``."""
        return SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        with self.hook as hook:
            campaign = hook.get_campaign(self.campaign_id)
        self.log.info("Fetched %s", campaign.summary())
        if campaign.errors:
            rows = "\n".join(f"  - {error}" for error in campaign.errors)
            message = f"campaign {campaign.campaign_id!r} has {len(campaign.errors)} contact-list row error(s):\n{rows}"
            if self.fail_on_csv_errors:
                raise SigmaMindContactListError(message, campaign_id=campaign.campaign_id)
            self.log.warning("%s", message)
        return self.campaign_done(context, campaign.payload)


def _optional_int(value: object, name: str) -> int | None:
    """A whole number from an argument or a rendered template (``"5"``); ``None`` and ``""`` are ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise SigmaMindInvalidInputError(f"{name} must be a whole number, got {shorten(value)}")


def _optional_text(value: object) -> Any:
    """``None`` for an argument left out or a template that rendered to nothing, else the value."""
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _templated(payload: type[CampaignPayload]) -> tuple[str, ...]:
    """The payload's fields an operator templates: all but flags, which are checked when the DAG is parsed."""
    return tuple(field.name for field in payload.arguments() if field.kind != "flag")


def _json_rendered(payload: type[CampaignPayload]) -> dict[str, str]:
    """The payload's JSON-object fields, shown as JSON in the Rendered Template view."""
    return {field.name: "json" for field in payload.arguments() if field.kind == "object"}


def _hook_arguments(operator: BaseOperator, payload: type[CampaignPayload]) -> dict[str, Any]:
    """The operator's field attributes as the hook's keyword arguments, rendered template text converted."""
    required = payload.required()
    return {
        field.name: _rendered(field, getattr(operator, field.name), required=field.name in required)
        for field in payload.arguments()
    }


def _rendered(field: CampaignField, value: object, *, required: bool) -> Any:
    """What a field's argument or rendered template means: ``"5"`` is 5; an empty optional text is "not given".

    A required text is passed as it is, so that an empty one is reported as empty.
    """
    if field.kind == "count":
        return _optional_int(value, field.name)
    if field.kind == "text" and not required:
        return _optional_text(value)
    return value


def _contact_file(contacts: object) -> object:
    """What the contact list was read from, for lineage after a deferral; None where it cannot be read now."""
    try:
        return _contact_source(contacts)
    except SigmaMindInvalidInputError:
        return None


def _contact_source(contacts: object) -> str | bytes | os.PathLike[str] | list[Mapping[str, Any]]:
    """What the hook should upload: CSV text (a string with a line break), a path (any other string), or rows."""
    if isinstance(contacts, str):
        if "\n" in contacts or "\r" in contacts:
            return contacts
        if not contacts.strip():
            raise SigmaMindInvalidInputError("contacts is empty (did a template render to nothing?)")
        path = Path(contacts.strip()).expanduser()
        if not path.is_file():
            raise SigmaMindInvalidInputError(
                f"contacts: no file at {shorten(str(path))}; a one-line string is read as a path "
                "(CSV text needs a header line and at least one contact line)"
            )
        return path
    if isinstance(contacts, bytes | os.PathLike):
        return contacts
    if isinstance(contacts, Sequence):
        return list(contacts)
    raise SigmaMindInvalidInputError(
        f"contacts must be a file path, CSV text or a list of rows (mappings), got {type(contacts).__name__}"
    )


class CreateCampaignOperator(CampaignLineage, BaseOperator):
    """Create a campaign from a contact list, after checking the list and the fields before sending.

    The contact list comes from a file path (``"/data/contacts-{{ ds }}.csv"``), CSV text (a string
    with line breaks), or rows from an upstream task (``contacts=build_contacts()``, a list of
    mappings of column to value). With ``validate="error"`` (the default) every problem found
    (invalid or duplicate phone numbers, missing variables, malformed rows, bad fields, a schedule
    in the past or in an unknown time zone) fails the task in one message, and nothing is sent;
    ``validate="warn"`` logs them and creates the campaign anyway.

    The XCom ``return_value`` is the created campaign as SigmaMind sent it, so the id is one pull
    away: ``{{ ti.xcom_pull(task_ids='create_campaign')['campaignId'] }}``.

    **Exactly once.** The create is sent once per try and never retried by the hook (see
    :meth:`~airflow_provider_sigmamind.hooks.sigmamind.SigmaMindHook.create_campaign`), and a task
    retry does not send it again (:mod:`airflow_provider_sigmamind.durable`): on Airflow 3.3+ the new
    campaign's id is recorded in the task state store the moment SigmaMind answers, and a later try
    of the same task instance reuses it; a try that cannot know whether its create took effect (the
    answer was lost, a timeout, a 5xx, a crash) leaves the next try to look the campaign up by its
    name, unique per account, and adopt it. Below Airflow 3.3 every retry looks the name up first.
    Give each run its own name (``"Renewals {{ ds }}"``); ``docs/reliability.md`` lists the crash
    windows that remain.

    **Create and wait.** With ``wait_for_status`` the task then waits, in the same task, until the
    campaign reaches one of those statuses, with the semantics of
    :class:`~airflow_provider_sigmamind.sensors.campaign.CampaignStatusSensor` (a failure status, or
    one from which no target can be reached, fails at once; an unknown status keeps waiting;
    ``max_consecutive_errors`` failed polls in a row fail it; ``timeout`` raises
    ``AirflowSensorTimeout``). It polls in the worker, or with ``deferrable=True`` hands the wait to
    the triggerer. A retry during the wait resumes the wait on the campaign already created. The
    XCom is then the campaign as last seen.

    :param campaign_name: 1 to 128 characters, unique per account (templated).
    :param sip_phone_number: the E.164 number that dials out (templated).
    :param agent_id: the agent that makes the calls (templated).
    :param contacts: a file path, CSV text, or a list of rows (templated).
    :param concurrent_calls: calls at once; ``None`` leaves it to SigmaMind (templated).
    :param scheduled_date: ``YYYY-MM-DD``; any scheduling field schedules the campaign, and then
        all three are needed (templated).
    :param scheduled_time: ``HH:mm:ss``, local to ``scheduled_timezone`` (templated).
    :param scheduled_timezone: an IANA name such as ``America/Los_Angeles`` (templated).
    :param variables: the campaign's ``variables`` object (templated).
    :param validate: ``"error"``, ``"warn"`` or ``"off"``.
    :param required_variables: variables every row must have; ``None`` means every column (templated).
    :param phone_check: ``"valid"`` (E.164 and a number that can exist) or ``"e164"`` (pattern only).
    :param sigmamind_conn_id: the ``sigmamind`` connection to use (templated).
    :param wait_for_status: statuses to wait for after the create (``["live"]``); ``None`` does not wait.
    :param failure_statuses: statuses that fail the wait at once (default: none).
    :param poll_interval: seconds between two looks at the campaign while waiting.
    :param timeout: seconds the wait may take, counted from the start of each try.
    :param max_consecutive_errors: failing polls in a row after which the wait fails.
    :param deferrable: wait in the triggerer (a
        :class:`~airflow_provider_sigmamind.triggers.campaign.CampaignStatusTrigger`) instead of the
        worker. Defaults to ``[operators] default_deferrable``.
    """

    template_fields: Sequence[str] = (*_templated(NewCampaign), "contacts", "required_variables", "sigmamind_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = _json_rendered(NewCampaign)
    ui_color = "#e8f0fe"
    lineage_role = "creates"

    def __init__(
        self,
        *,
        campaign_name: str,
        sip_phone_number: str,
        agent_id: str,
        contacts: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
        concurrent_calls: int | str | None = None,
        scheduled_date: str | None = None,
        scheduled_time: str | None = None,
        scheduled_timezone: str | None = None,
        variables: Mapping[str, Any] | None = None,
        validate: ValidateMode = "error",
        required_variables: Sequence[str] | None = None,
        phone_check: PhoneCheck = "valid",
        sigmamind_conn_id: str = DEFAULT_CONN_ID,
        wait_for_status: Iterable[str | CampaignStatus] | str | None = None,
        failure_statuses: Iterable[str | CampaignStatus] | str | None = None,
        poll_interval: float = 60.0,
        timeout: float = 7 * 24 * 3600.0,
        max_consecutive_errors: int = 3,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_status: list[CampaignStatus] | None = None
        self.failure_statuses: list[CampaignStatus] = []
        self.max_consecutive_errors = max_consecutive_errors
        if wait_for_status is not None:
            self.wait_for_status, self.failure_statuses, self.max_consecutive_errors = wait_settings(
                wait_for_status, failure_statuses, max_consecutive_errors
            )
        for name, seconds in (("poll_interval", poll_interval), ("timeout", timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds < float("inf"):
                raise ValueError(f"{name} must be a number of seconds >= 0, got {seconds!r}")
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)
        self.deferrable = deferrable
        if validate not in VALIDATE_MODES:
            raise ValueError(f"validate must be one of {', '.join(VALIDATE_MODES)}, got {validate!r}")
        if phone_check not in PHONE_CHECKS:
            raise ValueError(f"phone_check must be one of {', '.join(PHONE_CHECKS)}, got {phone_check!r}")
        self.campaign_name = campaign_name
        self.sip_phone_number = sip_phone_number
        self.agent_id = agent_id
        self.contacts = contacts
        self.concurrent_calls = concurrent_calls
        self.scheduled_date = scheduled_date
        self.scheduled_time = scheduled_time
        self.scheduled_timezone = scheduled_timezone
        self.variables = variables
        self.validate = validate
        self.required_variables = required_variables
        self.phone_check = phone_check
        self.sigmamind_conn_id = sigmamind_conn_id

    @cached_property
    def hook(self) -> SigmaMindHook:
        """The hook for ``sigmamind_conn_id``."""
        return SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        started = time.time()  # timeout and execution_timeout count from the start of the try
        contacts = _contact_source(self.contacts)
        arguments = _hook_arguments(self, NewCampaign)
        with self.hook as hook:

            def create() -> Campaign:
                return hook.create_campaign(
                    **arguments,
                    contacts=contacts,
                    validate=self.validate,
                    required_variables=self.required_variables,
                    phone_check=self.phone_check,
                )

            campaign = create_once(hook, context, str(arguments["campaign_name"]), create, self.log)
            if self.wait_for_status is not None:
                return self.campaign_done(context, self._wait(hook, campaign, started), contacts=contacts)
        return self.campaign_done(context, campaign.payload, contacts=contacts)

    def _wait(self, hook: SigmaMindHook, campaign: Campaign, started: float) -> dict[str, Any]:
        """Wait for ``wait_for_status``, first judging ``campaign`` as just seen; poll here or defer.

        :param started: when the try began (epoch seconds): ``timeout`` and ``execution_timeout`` count from it.
        """
        assert self.wait_for_status is not None
        watch = CampaignWatch(
            targets=self.wait_for_status,
            failures=self.failure_statuses,
            max_consecutive_errors=self.max_consecutive_errors,
            log=self.log,
        )
        deadline = started + self.timeout
        while True:
            verdict = watch.observe(campaign)
            if verdict.outcome == "success":
                return campaign.payload
            if verdict.outcome == "failure":
                raise SigmaMindCampaignStatusError(verdict.reason, campaign_id=campaign.campaign_id)
            if self.deferrable:
                self._defer(hook, watch, campaign.campaign_id, deadline, started)
            while True:
                left = deadline - time.time()
                if left <= 0:
                    wanted = " or ".join(s.value for s in self.wait_for_status)
                    raise AirflowSensorTimeout(f"campaign {campaign.campaign_id!r} did not reach {wanted} in time")
                time.sleep(min(self.poll_interval, left))
                policy = poll_policy(hook.config.retry_policy, timeout=hook.config.timeout, deadline=deadline)
                try:
                    campaign = hook.get_campaign(campaign.campaign_id, policy=policy)
                    break
                except SigmaMindError as err:
                    watch.poll_failed(err)

    def _defer(
        self, hook: SigmaMindHook, watch: CampaignWatch, campaign_id: str, deadline: float, started: float
    ) -> None:
        """Hand the rest of the wait to the triggerer (raises ``TaskDeferred``)."""
        from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger

        assert self.wait_for_status is not None
        timeout = self.execution_timeout
        trigger = CampaignStatusTrigger.continuing(
            watch,
            hook.config,
            campaign_id=campaign_id,
            sigmamind_conn_id=self.sigmamind_conn_id,
            target_statuses=[s.value for s in self.wait_for_status],
            failure_statuses=[s.value for s in self.failure_statuses],
            poll_interval=self.poll_interval,
            deadline=deadline,
            max_consecutive_errors=self.max_consecutive_errors,
            execution_deadline=None if timeout is None else started + timeout.total_seconds(),
        )
        targets = " or ".join(trigger.target_statuses)
        self.log.info("Campaign %r is not %s yet; deferring to the triggerer", campaign_id, targets)
        self.defer(trigger=trigger, method_name="execute_complete", kwargs={"campaign_id": campaign_id})

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, campaign_id: str | None = None
    ) -> dict[str, Any]:
        """Resume after the trigger fired: the campaign payload, or the error poke mode would raise.

        :param event: the trigger's event (see :mod:`airflow_provider_sigmamind.events`).
        :param campaign_id: the campaign waited for, as ``_defer`` passed it. Airflow can resume a
            task without the deferral's kwargs (a retry after the wait ran out of
            ``execution_timeout``); the event names the campaign then.
        """
        if campaign_id is None and isinstance(event, dict):
            named = event.get("campaign_id") or (event.get("campaign") or {}).get("campaignId")
            campaign_id = str(named) if named else None
        payload: dict[str, Any] = outcome(event, campaign_id=campaign_id or "(unknown)")
        self.log.info("Campaign %r reached %r", campaign_id, payload.get("campaignStatus"))
        return self.campaign_done(context, payload, contacts=_contact_file(self.contacts))


class UpdateCampaignOperator(CampaignLineage, BaseOperator):
    """Change some fields of a campaign; only the arguments given are sent (``PATCH``).

    Arguments left out (``None``), and templates that render to an empty string, leave their field
    as it is. The XCom ``return_value`` is the campaign after the update, as SigmaMind sent it.

    :param campaign_id: the campaign's id (templated).
    :param campaign_name: new ``campaignName`` (templated).
    :param sip_phone_number: new ``sipPhoneNumber`` (templated).
    :param agent_id: new ``agentId`` (templated).
    :param concurrent_calls: new ``concurrentCalls`` (templated).
    :param scheduled: new ``isScheduled``; to schedule a campaign that was not, pass ``True`` with
        the three scheduling fields.
    :param scheduled_date: new ``scheduledDate``, ``YYYY-MM-DD`` (templated).
    :param scheduled_time: new ``scheduledTime``, ``HH:mm:ss`` (templated).
    :param scheduled_timezone: new ``scheduledTimezone``, an IANA name (templated).
    :param dynamic_variables: new ``dynamicVariables`` object (templated).
    :param sigmamind_conn_id: the ``sigmamind`` connection to use (templated).
    """

    template_fields: Sequence[str] = ("campaign_id", *_templated(CampaignChanges), "sigmamind_conn_id")
    template_fields_renderers: ClassVar[dict[str, str]] = _json_rendered(CampaignChanges)
    ui_color = "#e8f0fe"
    lineage_role = "updates"

    def __init__(
        self,
        *,
        campaign_id: str,
        campaign_name: str | None = None,
        sip_phone_number: str | None = None,
        agent_id: str | None = None,
        concurrent_calls: int | str | None = None,
        scheduled: bool | None = None,
        scheduled_date: str | None = None,
        scheduled_time: str | None = None,
        scheduled_timezone: str | None = None,
        dynamic_variables: Mapping[str, Any] | None = None,
        sigmamind_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if scheduled is not None and not isinstance(scheduled, bool):
            raise ValueError(f"scheduled must be True, False or None, got {scheduled!r}")
        self.campaign_id = campaign_id
        self.campaign_name = campaign_name
        self.sip_phone_number = sip_phone_number
        self.agent_id = agent_id
        self.concurrent_calls = concurrent_calls
        self.scheduled = scheduled
        self.scheduled_date = scheduled_date
        self.scheduled_time = scheduled_time
        self.scheduled_timezone = scheduled_timezone
        self.dynamic_variables = dynamic_variables
        self.sigmamind_conn_id = sigmamind_conn_id

    @cached_property
    def hook(self) -> SigmaMindHook:
        """The hook for ``sigmamind_conn_id``."""
        return SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        with self.hook as hook:
            campaign = hook.update_campaign(self.campaign_id, **_hook_arguments(self, CampaignChanges))
        return self.campaign_done(context, campaign.payload)


class ListCampaignsOperator(BaseOperator):
    """List the account's campaigns, optionally only those in one status, reading every page.

    The XCom ``return_value`` is a compact, JSON-safe list, one small object per campaign:
    ``{"campaignId", "campaignName", "campaignStatus", "scheduledDate", "concurrentCalls",
    "errorCount"}`` (``scheduledDate`` in UTC, ISO-8601, or ``None``).

    :param status: ``live``, ``scheduled``, ``paused`` or ``completed``; ``None`` or an empty
        string for all (templated).
    :param limit: return at most this many (the task logs a warning when there were more);
        ``None`` for all.
    :param page_size: campaigns per request.
    :param sigmamind_conn_id: the ``sigmamind`` connection to use (templated).
    """

    template_fields: Sequence[str] = ("status", "sigmamind_conn_id")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        status: str | None = None,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        sigmamind_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a whole number >= 0 or None, got {limit!r}")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a whole number >= 1, got {page_size!r}")
        self.status = status
        self.limit = limit
        self.page_size = page_size
        self.sigmamind_conn_id = sigmamind_conn_id

    @cached_property
    def hook(self) -> SigmaMindHook:
        """The hook for ``sigmamind_conn_id``."""
        return SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        status = _optional_text(self.status)
        with self.hook as hook:
            found = hook.list_campaigns(status, page_size=self.page_size)
            stop = None if self.limit is None else self.limit + 1
            campaigns = list(itertools.islice(found, stop))
        if self.limit is not None and len(campaigns) > self.limit:
            campaigns = campaigns[: self.limit]
            self.log.warning("More than %d campaigns matched; returning the first %d (limit)", self.limit, self.limit)
        where = f" with status {status!r}" if status else ""
        self.log.info("Listed %d campaign(s)%s", len(campaigns), where)
        return [campaign.compact() for campaign in campaigns]
