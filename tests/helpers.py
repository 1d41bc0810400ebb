"""What many test modules share: the session's canary key and paths, the connection they point at
the simulator, the fast retry policy, one call through either request path, and the provider's
logged warnings on every Airflow.

Fixtures live in ``conftest.py`` files; plain helpers live here, imported by name.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_sigmamind.exceptions import SigmaMindError
from airflow_provider_sigmamind.retry import RetryPolicy
from tests.environment import AIRFLOW_HOME, CANARY_API_KEY, ROOT

if TYPE_CHECKING:
    from airflow_provider_sigmamind.models import Campaign

__all__ = [
    "AIRFLOW_HOME",
    "CANARY_API_KEY",
    "FAST",
    "PATHS",
    "ROOT",
    "SLACK",
    "connection_json",
    "fetch",
    "logged_warnings",
]

#: Retries without waiting (backoff 0, Retry-After honoured up to 60 s); the count comes from the
#: connection (``max_retries``). Tests that need other limits derive theirs with ``dataclasses.replace``.
FAST = RetryPolicy(backoff_initial=0, backoff_max=0, deadline=10, jitter=lambda: 0)

#: Wall-clock seconds a test allows on top of a deadline it checks. CI runs four lanes at a time on
#: two cores, so a process can stall for a second or more; each such check guards against a bug that
#: would overrun by far more (a poll running the hook's whole retry budget: 10 s and up).
SLACK = 3.0

#: The two request paths, as test ids.
PATHS = ("sync", "async")


def connection_json(url: str, api_key: str = CANARY_API_KEY, **extra: object) -> str:
    """A ``sigmamind`` connection in Airflow's env-var JSON form."""
    conn: dict[str, object] = {"conn_type": "sigmamind", "host": url, "password": api_key}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


def fetch(campaign_id: str, *, path: str, **hook_kwargs: Any) -> Campaign | SigmaMindError:
    """One ``get_campaign`` (``path="sync"``) or ``aget_campaign`` (``"async"``) with a fresh hook,
    closed afterwards: the campaign, or the error raised."""
    from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook

    hook_kwargs.setdefault("retry_policy", FAST)
    try:
        if path == "sync":
            with SigmaMindHook(**hook_kwargs) as hook:
                return hook.get_campaign(campaign_id)

        async def get() -> Campaign:
            async with SigmaMindHook(**hook_kwargs) as hook:
                return await hook.aget_campaign(campaign_id)

        return asyncio.run(get())
    except SigmaMindError as err:
        return err


_STRUCTLOG_LINE = re.compile(r"^\S+ \[(?P<level>\w+)\s*\] (?P<message>.*)$")


def logged_warnings(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warning messages (with their continuation lines) the provider logged, on every Airflow.

    Airflow 3 prints them to stdout through structlog (``<time> [warning  ] message``); Airflow 2.11
    sends them through the standard library's logging, which ``caplog`` records.
    """
    printed: list[str] = []
    in_warning = False
    for line in capsys.readouterr().out.splitlines():
        record = _STRUCTLOG_LINE.match(line)
        if record:
            in_warning = record["level"] == "warning"
            if in_warning:
                printed.append(record["message"])
        elif in_warning:
            printed[-1] += "\n" + line
    return printed or [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and record.name.startswith(("airflow.task", "airflow_provider_sigmamind"))
    ]
