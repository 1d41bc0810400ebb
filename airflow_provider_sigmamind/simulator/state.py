"""The simulator's campaigns in a JSON file, so that they survive a restart of the simulator.

Timelines are kept in wall-clock time: a campaign live until 12:00:05 when the simulator stopped is
still live until then after it starts again (the simulator's own clock is monotonic and starts anew
with every process). Script entries that are statuses are kept, with the position reached; scripted
faults are not (they stand for one moment's network, not for the campaign).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_provider_sigmamind.simulator.campaigns import MISSING, Campaign

__all__ = ["load_campaigns", "save_campaigns"]

VERSION = 1


def _to_wall(instant: float | None, clock: Callable[[], float]) -> float | None:
    return None if instant is None else time.time() + (instant - clock())


def _from_wall(instant: float | None, clock: Callable[[], float]) -> float | None:
    return None if instant is None else clock() + (instant - time.time())


def save_campaigns(path: str | os.PathLike[str], campaigns: Mapping[str, Campaign], clock: Callable[[], float]) -> None:
    """Write every campaign to ``path``, atomically (a temporary file renamed over it).

    :param path: the state file.
    :param campaigns: the campaigns, by id.
    :param clock: the simulator's monotonic clock (for the timelines).
    """
    rows = []
    for campaign in campaigns.values():
        row = dataclasses.asdict(campaign)
        row["live_at"] = _to_wall(campaign.live_at, clock)
        row["complete_at"] = _to_wall(campaign.complete_at, clock)
        row["scheduled_date"] = campaign.scheduled_date.isoformat() if campaign.scheduled_date else None
        row["script"] = [entry for entry in campaign.script if isinstance(entry, str)]
        row["overrides"] = {k: v for k, v in campaign.overrides.items() if v is not MISSING}
        row["removed_fields"] = [k for k, v in campaign.overrides.items() if v is MISSING]
        rows.append(row)
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps({"version": VERSION, "campaigns": rows}))
    os.replace(temporary, target)


def load_campaigns(path: str | os.PathLike[str], clock: Callable[[], float]) -> dict[str, Campaign]:
    """The campaigns :func:`save_campaigns` wrote to ``path``; none when the file does not exist.

    :param path: the state file.
    :param clock: the simulator's monotonic clock (for the timelines).
    :raises ValueError: when the file is not a state file of this version.
    """
    try:
        data: Any = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("campaigns"), list):
        raise ValueError(f"{path} is not a simulator state file (version {VERSION})")
    campaigns: dict[str, Campaign] = {}
    for row in data["campaigns"]:
        removed = row.pop("removed_fields", [])
        row["overrides"] = {**row["overrides"], **dict.fromkeys(removed, MISSING)}
        row["live_at"] = _from_wall(row["live_at"], clock)
        row["complete_at"] = _from_wall(row["complete_at"], clock)
        row["scheduled_date"] = datetime.fromisoformat(row["scheduled_date"]) if row["scheduled_date"] else None
        campaign = Campaign(**row)
        campaigns[campaign.campaign_id] = campaign
    return campaigns
