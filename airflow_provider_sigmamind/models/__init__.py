"""SigmaMind's resources as typed values: campaigns (``models.campaign``) and calls (``models.call``).

Pure: no I/O and no Airflow. Every parser tolerates the variants SigmaMind's documentation has been
seen to serve and keeps the payload exactly as sent; what the answers share (the error of a bad
body, instants, the page envelope) is in ``models.common``.
"""

from __future__ import annotations

from airflow_provider_sigmamind.models.call import (
    CALL_COLUMNS,
    Call,
    CallPage,
    CallStatus,
    TerminationReason,
    parse_call,
    parse_call_page,
)
from airflow_provider_sigmamind.models.campaign import (
    DEFAULT_TARGET_STATUSES,
    TERMINAL_STATUSES,
    Campaign,
    CampaignPage,
    CampaignStatus,
    Verdict,
    judge,
    parse_campaign,
    parse_campaign_page,
    parse_statuses,
)
from airflow_provider_sigmamind.models.common import ListPage, PayloadError

__all__ = [
    "CALL_COLUMNS",
    "DEFAULT_TARGET_STATUSES",
    "TERMINAL_STATUSES",
    "Call",
    "CallPage",
    "CallStatus",
    "Campaign",
    "CampaignPage",
    "CampaignStatus",
    "ListPage",
    "PayloadError",
    "TerminationReason",
    "Verdict",
    "judge",
    "parse_call",
    "parse_call_page",
    "parse_campaign",
    "parse_campaign_page",
    "parse_statuses",
]
