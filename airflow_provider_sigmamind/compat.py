"""The Airflow names this provider uses, from wherever the running Airflow keeps them.

Airflow 3 moved the authoring names into the Task SDK (``airflow.sdk``), and each 3.x minor moved a
few more; Airflow 2.11 has them in their old homes. The names come from
``airflow.providers.common.compat`` (as in the official providers), which tries the new home first,
then the old one; each is imported on first use. Besides the names:

* :func:`get_async_connection` (common-compat's): a connection looked up without blocking the event
  loop. ``BaseHook.aget_connection`` exists from Airflow 3.1 only, and up to 3.3.1 it can deadlock
  on the supervisor; there ``get_connection`` runs in a worker thread instead.
* :func:`first_reschedule_date` (this module's own): when a rescheduled sensor's wait began. Airflow 3
  asks the task instance; Airflow 2.11 reads the first ``TaskReschedule`` row, as its sensors do.

The package's ``__init__`` checks the Airflow version; the feature gates are in
:mod:`airflow_provider_sigmamind.version_compat`.
What differs between versions is listed in ``docs/compatibility.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.providers.common.compat.connection import get_async_connection
    from airflow.providers.common.compat.sdk import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        AirflowTaskTimeout,
        BaseHook,
        BaseOperator,
        BaseSensorOperator,
        Connection,
        Context,
        ObjectStoragePath,
        PokeReturnValue,
        TaskDeferred,
        conf,
        mask_secret,
    )
    from airflow.sdk.exceptions import TaskDeferralError, TaskDeferralTimeout
    from airflow.triggers.base import BaseTrigger, TriggerEvent

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowTaskTimeout",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "BaseTrigger",
    "Connection",
    "Context",
    "ObjectStoragePath",
    "PokeReturnValue",
    "TaskDeferralError",
    "TaskDeferralTimeout",
    "TaskDeferred",
    "TriggerEvent",
    "conf",
    "first_reschedule_date",
    "get_async_connection",
    "mask_secret",
]

#: Where each name comes from (the first home that has it, newest Airflow first). Looked up on first
#: use, so importing one (say ``AirflowException`` for the exceptions module) does not import the
#: others (``BaseSensorOperator``, the triggers).
_HOMES: dict[str, str | tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "AirflowException",
            "AirflowFailException",
            "AirflowNotFoundException",
            "AirflowSensorTimeout",
            "AirflowSkipException",
            "AirflowTaskTimeout",
            "BaseHook",
            "BaseOperator",
            "BaseSensorOperator",
            "Connection",
            "Context",
            "ObjectStoragePath",
            "PokeReturnValue",
            "TaskDeferred",
            "conf",
            "mask_secret",
        ),
        "airflow.providers.common.compat.sdk",
    ),
    "get_async_connection": "airflow.providers.common.compat.connection",
    # Not in common-compat: the Task SDK's on Airflow 3, airflow.exceptions on 2.11.
    **dict.fromkeys(("TaskDeferralError", "TaskDeferralTimeout"), ("airflow.sdk.exceptions", "airflow.exceptions")),
    # The same home on Airflow 2.11 and every 3.x.
    "BaseTrigger": "airflow.triggers.base",
    "TriggerEvent": "airflow.triggers.base",
}


#: Exceptions some supported Airflow versions do not have (TaskDeferralTimeout is not in 2.11).
_STAND_INS = frozenset({"TaskDeferralError", "TaskDeferralTimeout"})


def __getattr__(name: str) -> Any:
    """Import ``name`` from its home on first use, then keep it here."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    homes = _HOMES[name]
    homes = (homes,) if isinstance(homes, str) else homes
    for home in homes[:-1]:
        try:
            value = getattr(importlib.import_module(home), name)
            break
        except (ImportError, AttributeError):
            continue
    else:
        try:
            value = getattr(importlib.import_module(homes[-1]), name)
        except (ImportError, AttributeError):
            if name not in _STAND_INS:
                raise
            # An exception this Airflow never raises: a class of our own, so `except` clauses still work.
            value = type(name, (globals()["AirflowException"] if name != "AirflowException" else Exception,), {})
    globals()[name] = value
    return value


def first_reschedule_date(context: Context) -> datetime | None:
    """When the first poke of a rescheduled sensor's current wait ran, or ``None`` before any reschedule.

    :param context: the running task's context.
    """
    ti = context["ti"]
    if hasattr(ti, "get_first_reschedule_date"):  # Airflow 3's task instance answers it
        return ti.get_first_reschedule_date(context)
    # Airflow 2.11: the first reschedule row of the current wait, the query its own BaseSensorOperator
    # makes (first try: the very first one, or the first one after the task was cleared).
    from airflow.sensors.base import _orig_start_date

    first_try_number = (ti.max_tries or 0) - (context["task"].retries or 0) + 1
    return _orig_start_date(
        dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id, map_index=ti.map_index, try_number=first_try_number
    )
