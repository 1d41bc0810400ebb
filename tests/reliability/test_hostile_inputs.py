"""Hostile inputs through every public entry point, against the simulator over real HTTP.

The unit tests (tests/hooks/test_config.py) check the validators themselves; here each input goes
through the hook (sync and async), the operator, the sensor (poke and deferrable) and the trigger,
and the simulator, which records the raw request line, says what actually went out: either nothing
(the input is refused with a clear error) or exactly one request whose path has one segment more
than ``/v1/campaigns``. A network guard refuses, and records, any attempt to resolve a host other
than the loopback, so a broken check could not reach the Internet either.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_sigmamind.compat import TaskDeferred
from airflow_provider_sigmamind.exceptions import (
    SigmaMindError,
    SigmaMindInvalidInputError,
    SigmaMindNotFoundError,
)
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.operators.campaign import GetCampaignOperator
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
from tests.helpers import CANARY_API_KEY, FAST, connection_json

PREFIX = "/v1/campaigns/"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def network_guard(monkeypatch) -> list[str]:
    """Refuse (and list) every name resolution but the loopback's, for sync and async clients alike."""
    attempts: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK_NAMES:
            attempts.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"network guard: {name} is not the loopback")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return attempts


# -- campaign ids ------------------------------------------------------------------------------

#: (id, what must happen): "refused" before any request, or "one segment" on the wire.
IDS = [
    ("", "refused"),
    ("   ", "refused"),
    ("../x", "one segment"),
    ("%2e%2e", "one segment"),
    ("a/b", "one segment"),
    ("?x", "one segment"),
    ("#x", "one segment"),
    ("//evil.example", "one segment"),
    ("camp\r\nX-Injected: 1", "refused"),
    ("camp\nx", "refused"),
    ("camp\x00x", "refused"),
    ("x" * 10_240, "refused"),
    ("кампания-☎-日本", "one segment"),
    ("..", "refused"),
]


def _via_hook(cid: str) -> Any:
    with SigmaMindHook(retry_policy=FAST) as hook:
        return hook.get_campaign(cid)


def _via_async_hook(cid: str) -> Any:
    async def fetch() -> Any:
        async with SigmaMindHook(retry_policy=FAST) as hook:
            return await hook.aget_campaign(cid)

    return asyncio.run(fetch())


def _via_operator(cid: str) -> Any:
    return GetCampaignOperator(task_id="get", campaign_id=cid).execute({})


def _via_sensor(cid: str) -> Any:
    return CampaignStatusSensor(task_id="wait", campaign_id=cid, poke_interval=0, timeout=5).execute({})


def _via_deferrable_sensor(cid: str) -> Any:
    try:
        return CampaignStatusSensor(task_id="wait", campaign_id=cid, deferrable=True, timeout=5).execute({})
    except TaskDeferred as deferred:  # pragma: no cover - an unknown campaign is never deferred
        raise AssertionError(f"deferred on {cid!r}") from deferred


def _via_trigger(cid: str) -> Any:
    trigger = CampaignStatusTrigger(campaign_id=cid, poll_interval=0)

    async def run() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    (event,) = asyncio.run(run())
    if event.get("error_class") == "SigmaMindNotFoundError":
        raise SigmaMindNotFoundError(event["message"])
    return event


ENTRY_POINTS: dict[str, Callable[[str], Any]] = {
    "hook": _via_hook,
    "async hook": _via_async_hook,
    "operator": _via_operator,
    "sensor": _via_sensor,
    "deferrable sensor": _via_deferrable_sensor,
    "trigger": _via_trigger,
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(("campaign_id", "fate"), IDS, ids=[repr(i[:24]) for i, _ in IDS])
def test_campaign_ids_are_refused_or_sent_as_one_segment(
    sigmamind_conn, simulator, network_guard, entry, campaign_id, fate
):
    with pytest.raises(SigmaMindError) as excinfo:
        ENTRY_POINTS[entry](campaign_id)
    message = str(excinfo.value)
    if fate == "refused":
        assert isinstance(excinfo.value, SigmaMindInvalidInputError), message
        assert "campaign_id" in message
        assert message.isprintable()  # no raw CR/LF/NUL to forge log lines with
        assert len(message) < 300  # a 10 KB id is not echoed whole
        assert simulator.requests == []
    else:
        assert isinstance(excinfo.value, SigmaMindNotFoundError), message
        (request,) = simulator.requests
        assert request.raw_path == PREFIX + quote(campaign_id, safe="")
        assert request.raw_path.count("/") == 3
        assert "?" not in request.raw_path
        assert "#" not in request.raw_path
        assert request.campaign_id == campaign_id  # decoded back to exactly the id asked for
        assert request.query == {}
    assert network_guard == []


# -- API keys ----------------------------------------------------------------------------------

BAD_KEYS = [
    ("", "has no API key"),
    (f"{CANARY_API_KEY}\r\nX-Injected: 1", "white space, a line break"),
    ("abc\ndefghij", "white space, a line break"),
    ("clé-ключ-12345", "outside ASCII"),
    ("cl\xe9-latin-1-only", "outside ASCII"),
    ("abcd", "too short"),
]


def _key_entry_points() -> dict[str, Callable[[], Any]]:
    def trigger() -> Any:
        async def run() -> list[dict[str, Any]]:
            return [e.payload async for e in CampaignStatusTrigger(campaign_id="camp_Key", poll_interval=0).run()]

        (event,) = asyncio.run(run())
        raise SigmaMindInvalidInputError(event["message"]) if event["status"] == "error" else AssertionError(event)

    return {
        "hook": lambda: _via_hook("camp_Key"),
        "async hook": lambda: _via_async_hook("camp_Key"),
        "sensor": lambda: _via_sensor("camp_Key"),
        "trigger": trigger,
    }


@pytest.mark.parametrize("entry", ["hook", "async hook", "sensor", "trigger"])
@pytest.mark.parametrize(
    ("api_key", "match"), BAD_KEYS, ids=["empty", "header-injection", "newline", "non-latin-1", "latin-1-only", "short"]
)
def test_bad_api_keys_are_refused_before_any_request_without_quoting_them(
    simulator, monkeypatch, network_guard, entry, api_key, match
):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, api_key=api_key))
    with pytest.raises(SigmaMindInvalidInputError, match=match) as excinfo:
        _key_entry_points()[entry]()
    message = str(excinfo.value)
    assert "sigmamind_default" in message  # names the connection to fix
    if api_key:
        assert api_key.strip() not in message
        assert CANARY_API_KEY not in message
    assert simulator.requests == []
    assert network_guard == []


@pytest.mark.parametrize("entry", ["hook", "async hook"])
def test_a_padded_key_is_stripped_and_works_with_a_warning_that_does_not_quote_it(
    simulator, monkeypatch, caplog, entry
):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, api_key=f"  {CANARY_API_KEY} "))
    cid = simulator.add_campaign(status="live")["campaignId"]
    campaign = (_via_hook if entry == "hook" else _via_async_hook)(cid)
    assert campaign.campaign_id == cid
    (request,) = simulator.requests
    assert request.authorized  # the stripped key went out, and only in its header
    assert "surrounding white space, which was removed" in caplog.text
    assert CANARY_API_KEY not in caplog.text


# -- the base URL ------------------------------------------------------------------------------

BAD_HOSTS = [
    ("ftp://127.0.0.1", "scheme 'ftp'"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://evil.example", "scheme 'gopher'"),
    ("http://example.com", "plain http to 'example.com'"),
    ("http://10.0.0.1:8080", "plain http to '10.0.0.1'"),
    ("http://127.0.0.1.evil.example", "plain http to '127.0.0.1.evil.example'"),
    ("http://localhost.evil.example", "plain http to 'localhost.evil.example'"),
    (f"https://user:{CANARY_API_KEY}@api.sigmamind.ai", "must not carry credentials"),
    ("https://api.sigmamind.ai/?key=1", "must not carry credentials, a query"),
]


@pytest.mark.parametrize("entry", ["hook", "async hook", "trigger"])
@pytest.mark.parametrize(("host", "match"), BAD_HOSTS, ids=[h[:30] for h, _ in BAD_HOSTS])
def test_a_base_url_that_would_expose_the_key_is_refused_before_any_traffic(
    monkeypatch, network_guard, entry, host, match
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        json.dumps({"conn_type": "sigmamind", "host": host, "password": CANARY_API_KEY}),
    )
    call = _key_entry_points()[entry]
    with pytest.raises(SigmaMindInvalidInputError, match=match) as excinfo:
        call()
    assert CANARY_API_KEY not in str(excinfo.value)
    assert network_guard == []


def test_plain_http_to_another_host_needs_an_explicit_opt_in(monkeypatch, network_guard):
    """With ``allow_insecure_http`` the hook does go to the host; the guard shows it tried, and only then."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        connection_json("http://sigmamind.invalid", allow_insecure_http=True, max_retries=0),
    )
    with pytest.raises(SigmaMindError, match="could not get an answer"):
        _via_hook("camp_Host")
    assert network_guard == ["sigmamind.invalid"]


# -- answers crafted to forge log lines ---------------------------------------------------------


def test_a_status_crafted_to_forge_log_lines_is_quoted_and_never_success(sigmamind_conn, simulator, capsys):
    forged = "\x1b[32mlive\n2030-01-01T00:00:00Z [info     ] Done: campaign is live"
    cid = simulator.add_campaign(script=[forged, "live"])["campaignId"]
    sensor = CampaignStatusSensor(task_id="wait", campaign_id=cid, poke_interval=0, timeout=5)
    sensor.__dict__["hook"] = SigmaMindHook(retry_policy=FAST)
    assert sensor.poke({}) is False  # unknown: keeps waiting
    out = capsys.readouterr().out
    assert "\x1b[32m" not in out
    assert "\\x1b[32mlive\\n2030" in out  # quoted with repr, on the sensor's one line
    assert sensor.poke({}).is_done


# -- a server (or a proxy) that echoes the key back ----------------------------------------------

ECHOES = {
    "401 JSON message": Fault.status(401, body={"message": f"API key {CANARY_API_KEY} is not valid"}),
    "503 text page": Fault.body(f"upstream refused key={CANARY_API_KEY}", content_type="text/plain", status=503),
    "200 not JSON": Fault.body(f"debug: X-API-Key: {CANARY_API_KEY}", content_type="text/plain"),
}


@pytest.mark.parametrize("entry", ["hook", "async hook", "test_connection"])
@pytest.mark.parametrize("answer", ECHOES)
def test_a_key_echoed_by_the_server_is_not_repeated_in_errors(sigmamind_conn, simulator, entry, answer):
    cid = simulator.add_campaign(status="live")["campaignId"]
    simulator.inject(ECHOES[answer], times=None)
    if entry == "test_connection":
        ok, message = SigmaMindHook(retry_policy=FAST).test_connection()
        assert not ok
    else:
        with pytest.raises(SigmaMindError) as excinfo:
            (_via_hook if entry == "hook" else _via_async_hook)(cid)
        message = str(excinfo.value)
    assert "HTTP" in message  # the failure is still explained...
    assert CANARY_API_KEY not in message  # ...without the key the server sent back
    assert "***" in message or answer == "200 not JSON"


def test_a_campaign_that_echoes_the_key_is_not_pushed_to_xcom_with_it(sigmamind_conn, simulator):
    cid = simulator.add_campaign(status="live", overrides={"campaignName": f"Q4 {CANARY_API_KEY}"})["campaignId"]
    payload = GetCampaignOperator(task_id="get", campaign_id=cid).execute({})
    assert payload["campaignId"] == cid
    assert CANARY_API_KEY not in json.dumps(payload)
    assert payload["campaignName"] == "Q4 ***"
