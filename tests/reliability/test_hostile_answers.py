"""Hostile and odd answers, second round: generated families, each run in every mode.

Each family generates its cases from a few axes (values x fields, spellings x places, ...) and runs
every case through the hook, poke, reschedule and deferrable modes (tests/reliability/harness.py),
asserting the same outcome in all of them: a value the parser cannot take is a malformed answer
(``SigmaMindResponseError``) everywhere, never a bare Python error or a silently changed field; a key
echoed back in any spelling reaches no error, log or XCom (the secret audit checks every test, and
looks for escaped spellings too); a key that cannot be sent is refused before anything is sent.

``make reliability`` prints each family's count (``("family", name)`` properties).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import string
from typing import Any

import pytest

from airflow_provider_sigmamind.campaign_feed import alist_campaigns
from airflow_provider_sigmamind.exceptions import SigmaMindInvalidInputError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import CampaignStatus
from airflow_provider_sigmamind.operators.campaign import ListCampaignsOperator
from airflow_provider_sigmamind.simulator import Fault
from tests.helpers import CANARY_API_KEY, FAST, connection_json
from tests.reliability.harness import MODES, run_mode


@pytest.fixture
def conn(simulator, monkeypatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=5, max_retries=0))
    return "sigmamind_default"


def campaign_body(simulator, **fields: Any) -> dict[str, Any]:
    served = simulator.add_campaign(status="live")
    return {**served, **fields}


def success(mode: str) -> str:
    return "live" if mode == "hook" else "success:live"


# -- values a parser can choke on -------------------------------------------------------------

EDGE_DATES = ["0001-01-01T00:00:00", "9999-12-31T23:59:59", "9999-12-31T23:59:59.999"]
OFFSETS = ["Z", "+00:00", "-00:01", "-05:00", "+05:30", "-14:00", "+14:00"]
CALENDAR_EDGES = [date + offset for date, offset in itertools.product(EDGE_DATES, OFFSETS)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("instant", CALENDAR_EDGES)
def test_calendar_edges(conn, simulator, request, mode, instant):
    """A valid ISO-8601 instant at the edge of the calendar: read, or (outside years 1-9999 in UTC) no
    date at all, in every mode; never an OverflowError."""
    request.node.user_properties.append(("family", "calendar edges"))
    body = campaign_body(simulator, scheduledDate=instant)
    simulator.inject(Fault.body(json.dumps(body)), campaign_id=body["campaignId"], times=None)
    outcome = run_mode(mode, body["campaignId"], policy=FAST, timeout=5)
    assert outcome.result == success(mode), outcome.error
    if mode == "hook":
        assert outcome.value.payload["scheduledDate"] == instant  # kept as sent


NUMBER_TOKENS = ["NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1E999", "123456789e999"]
NUMBER_FIELDS = ["concurrentCalls", "score", "agent"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("token", "field"), list(itertools.product(NUMBER_TOKENS, NUMBER_FIELDS)))
def test_non_standard_number_tokens(conn, simulator, request, mode, token, field):
    """``NaN``, infinities and numbers no float holds are a malformed answer in every mode."""
    request.node.user_properties.append(("family", "non-standard JSON numbers"))
    body = campaign_body(simulator)
    value = json.dumps({"status": "__TOKEN__"}) if field == "agent" else '"__TOKEN__"'
    text = json.dumps({**body, field: "__FIELD__"}).replace('"__FIELD__"', value).replace('"__TOKEN__"', token)
    simulator.inject(Fault.body(text), campaign_id=body["campaignId"], times=None)
    outcome = run_mode(mode, body["campaignId"], policy=FAST, timeout=5)
    assert outcome.result == "SigmaMindResponseError", outcome
    assert "invalid JSON" in str(outcome.error)


# -- an echoed key in another spelling ---------------------------------------------------------


def _escaped(text: str, upper: bool = False) -> str:
    escapes = "".join(f"\\u{ord(char):04x}" for char in text)
    return escapes.replace("\\u", "\\U").upper().replace("\\U", "\\u") if upper else escapes


SPELLINGS = {
    "json-escaped": _escaped(CANARY_API_KEY),
    "json-escaped upper-case": _escaped(CANARY_API_KEY, upper=True),
    "half escaped": CANARY_API_KEY[:7] + _escaped(CANARY_API_KEY[7:]),
    "escaped dash": CANARY_API_KEY.replace("-", "\\u002d"),
    "percent-encoded": "".join(f"%{ord(char):02X}" for char in CANARY_API_KEY),
    "percent-encoded lower-case": "".join(f"%{ord(char):02x}" for char in CANARY_API_KEY),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("place", ["error message", "campaign field"])
@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_an_echoed_key_in_any_spelling_leaks_nowhere(conn, simulator, request, mode, place, spelling):
    """A server echoing the key back, escaped: the error or the XCom carries ``***`` instead."""
    request.node.user_properties.append(("family", "echoed key spellings"))
    echoed = SPELLINGS[spelling]
    body = campaign_body(simulator)
    if place == "error message":
        text = '{"error": "Forbidden", "message": "key ' + echoed + ' may not read this", "status": 403}'
        simulator.inject(Fault.body(text, status=403), campaign_id=body["campaignId"], times=None)
    else:
        text = json.dumps({**body, "note": "__ECHO__"}).replace("__ECHO__", echoed)
        simulator.inject(Fault.body(text), campaign_id=body["campaignId"], times=None)
    outcome = run_mode(mode, body["campaignId"], policy=FAST, timeout=5)
    if place == "error message":
        assert outcome.result == "SigmaMindAuthError", outcome
        assert "key *** may not read this" in str(outcome.error)
    else:
        assert outcome.result == success(mode), outcome.error
        payload = outcome.value.payload if mode == "hook" else outcome.value
        assert payload["note"] == "***"


# -- keys the check accepts must be sendable on both paths; the others never leave -------------

UNSENDABLE = ["clé-secrète-1", "ключ-123456", "key-☎-123456", "key\xa0with-nbsp", "key\u200bzero-width", "key\x7fdel"]
#: Every printable ASCII character but white space, in keys of 12.
PRINTABLE = [string.printable[i : i + 12].strip() for i in range(0, 94, 12)]


def _entry_points(monkeypatch, url: str, key: str) -> dict[str, Any]:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(url, api_key=key, max_retries=0))

    async def async_call() -> Any:
        async with SigmaMindHook(retry_policy=FAST) as hook:
            return await hook.aget_campaign("camp_Key")

    def sync_call() -> Any:
        with SigmaMindHook(retry_policy=FAST) as hook:
            return hook.get_campaign("camp_Key")

    return {"sync": sync_call, "async": lambda: asyncio.run(async_call())}


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize("key", UNSENDABLE)
def test_unsendable_keys_are_refused_before_anything_is_sent(simulator, monkeypatch, request, path, key):
    request.node.user_properties.append(("family", "unsendable keys"))
    call = _entry_points(monkeypatch, simulator.url, key)[path]
    with pytest.raises(SigmaMindInvalidInputError, match="API key"):
        call()
    assert simulator.requests == []


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize("key", PRINTABLE)
def test_every_printable_ascii_key_is_sent_byte_for_byte(sigmamind_simulator_factory, monkeypatch, request, path, key):
    request.node.user_properties.append(("family", "sendable keys"))
    if len(key) < 5:
        key = key * 5
    simulator = sigmamind_simulator_factory(api_key=key)
    simulator.add_campaign(campaign_id="camp_Key")
    campaign = _entry_points(monkeypatch, simulator.url, key)[path]()
    assert campaign.campaign_id == "camp_Key"
    assert [r.authorized for r in simulator.requests] == [True]


# -- paging that could lose campaigns ----------------------------------------------------------

ENVELOPES = [(), ("totalCount",), ("hasNext",), ("totalPages",), ("page", "size"), ("hasPrevious", "totalCount")]


@pytest.mark.parametrize("entry", ["hook", "operator", "event feed"])
@pytest.mark.parametrize(
    ("total", "cap", "envelope"), list(itertools.product([0, 1, 7, 8, 23], [1, 7, None], ENVELOPES))
)
def test_paging_never_loses_a_campaign(sigmamind_simulator_factory, monkeypatch, request, entry, total, cap, envelope):
    """Whatever the server's silent page cap and whichever envelope fields it sends, on each path
    that lists campaigns: the hook, the list operator and the event trigger's async feed."""
    request.node.user_properties.append(("family", "paging"))
    simulator = sigmamind_simulator_factory(api_key=CANARY_API_KEY, max_page_size=cap, list_envelope=envelope)
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, max_retries=0))
    expected = sorted(simulator.add_campaign(name=f"c{i}")["campaignId"] for i in range(total))
    if entry == "hook":
        with SigmaMindHook(retry_policy=FAST) as hook:
            listed = [c.campaign_id for c in hook.list_campaigns(page_size=10)]
    elif entry == "operator":
        listed = [c["campaignId"] for c in ListCampaignsOperator(task_id="list", page_size=10).execute({})]
    else:  # CampaignEventTrigger's async listing, one status at a time

        async def feed() -> list[str]:
            hook = SigmaMindHook(retry_policy=FAST)
            try:
                return [c.campaign_id async for c in alist_campaigns(hook, CampaignStatus.LIVE, page_size=10)]
            finally:
                await hook.aclose()

        listed = asyncio.run(feed())
    assert sorted(listed) == expected
    assert len(listed) == len(set(listed))


# -- the async hook across event loops ---------------------------------------------------------


@pytest.mark.parametrize("loops", [2, 3, 5])
def test_an_async_hook_serves_one_event_loop_after_another(conn, simulator, request, loops):
    request.node.user_properties.append(("family", "async hook across loops"))
    cid = simulator.add_campaign()["campaignId"]
    hook = SigmaMindHook(retry_policy=FAST)
    statuses = [asyncio.run(hook.aget_campaign(cid)).status.value for _ in range(loops)]
    asyncio.run(hook.aclose())
    assert statuses == ["live"] * loops
