"""Exactly-once create: remember a created campaign across task tries, and find one whose answer was lost.

A create is sent once per try and never retried inside it (the hook's rule), but a task retry is a
new try. To keep that retry from posting again, :func:`create_once`:

1. On Airflow 3.3 and later, records in the task state store (``context["task_state_store"]``, kept
   across the tries of one task instance) that a create is about to be sent, then the new campaign's
   id the moment SigmaMind answers. A later try that finds the id reuses that campaign.
2. When a try does not know whether its create took effect (a marker without an id: the connection
   dropped after sending, a timeout, a 5xx, a crash), the next try first looks the campaign up by its
   name, which SigmaMind keeps unique per account (:func:`find_campaign`), and adopts it when found.
3. Below Airflow 3.3 there is no store: every retry (``try_number > 1``) looks the name up first.

``docs/reliability.md`` ("Crash windows") says which failure windows remain on each version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_sigmamind.campaign_writes import may_have_created
from airflow_provider_sigmamind.exceptions import SigmaMindError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import Campaign

__all__ = ["CAMPAIGN_ID_KEY", "CREATE_SENT_KEY", "create_once", "find_campaign", "state_store"]

#: Task state store key holding the created campaign's id. Renaming it breaks retries in flight.
CAMPAIGN_ID_KEY = "sigmamind_campaign_id"
#: Task state store key set to ``True`` just before the create is sent, ``False`` when it was refused.
CREATE_SENT_KEY = "sigmamind_create_sent"


def find_campaign(hook: SigmaMindHook, name: str) -> Campaign | None:
    """The account's campaign called exactly ``name``, or ``None`` (reads the list page by page).

    :param hook: the hook to read the list with.
    :param name: the ``campaignName`` to look for (unique per account).
    """
    return next((c for c in hook.list_campaigns() if c.name == name), None)


def state_store(context: Mapping[str, Any]) -> Any:
    """The task state store of this task instance (Airflow 3.3+), or ``None`` where Airflow has none."""
    return context.get("task_state_store")


def _try_number(context: Mapping[str, Any]) -> int:
    ti = context.get("ti")
    number = getattr(ti, "try_number", None)
    return number if isinstance(number, int) else 1


def create_once(
    hook: SigmaMindHook, context: Mapping[str, Any], name: str, create: Callable[[], Campaign], log: Any
) -> Campaign:
    """The campaign this task instance creates: the one an earlier try made, or a new one (``create()``).

    :param hook: the hook for lookups (the reuse of a recorded id, the search by name).
    :param context: the task's context (``task_state_store``, ``ti``).
    :param name: the campaign's name, as the create sends it.
    :param create: sends the create, once.
    :param log: where reuse and adoption are logged.
    :raises SigmaMindNotFoundError: when the id an earlier try recorded no longer exists (the campaign
        was deleted): the task fails rather than dial the list again.
    """
    store = state_store(context)
    if store is not None:
        recorded = store.get(CAMPAIGN_ID_KEY)
        if isinstance(recorded, str) and recorded:
            campaign = hook.get_campaign(recorded)
            log.info("Reusing campaign %r, created by an earlier try of this task (not creating it again)", recorded)
            return campaign
        unsure = store.get(CREATE_SENT_KEY) is True
    else:
        unsure = _try_number(context) > 1
    if unsure:
        found = find_campaign(hook, name)
        if found is not None:
            log.warning(
                "An earlier try of this task may have created campaign %r without learning its id; found it "
                "(%r) by its unique name and adopted it instead of creating it again",
                name,
                found.campaign_id,
            )
            _record(store, found.campaign_id)
            return found
        log.info("No campaign named %r exists yet: the earlier try created nothing; creating it now", name)
    if store is not None:
        store.set(CREATE_SENT_KEY, True)
    try:
        campaign = create()
    except SigmaMindError as err:
        if store is not None and not may_have_created(err):
            store.set(CREATE_SENT_KEY, False)  # refused: a retry must not adopt a campaign of that name
        raise
    _record(store, campaign.campaign_id)
    return campaign


def _record(store: Any, campaign_id: str) -> None:
    if store is not None:
        store.set(CAMPAIGN_ID_KEY, campaign_id)
