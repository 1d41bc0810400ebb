"""Property tests: generated answers and ids, served and received by the simulator over real HTTP.

Hypothesis runs derandomized (the same cases on every run, no example database) with bounded
example counts, so the figures in docs/reliability.md are reproducible. One simulator and one
hook serve all the examples of a test.

- Generated campaign payloads, valid and mutated (fields dropped or retyped, statuses in any case
  and spacing, the JSON text cut, flipped, wrapped or nested deep, any HTTP status) never make the
  hook, the sensor or the trigger raise anything but a :class:`SigmaMindError`, and never end a wait
  in success unless ``campaignStatus`` is one of the target statuses.
- Generated campaign ids are refused before any request, or arrive as exactly one path segment
  that decodes back to the id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_sigmamind.compat import PokeReturnValue
from airflow_provider_sigmamind.exceptions import (
    SigmaMindError,
    SigmaMindInvalidInputError,
    SigmaMindNotFoundError,
)
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
from tests import helpers
from tests.helpers import connection_json

FAST = dataclasses.replace(helpers.FAST, retry_after_max=0)  # generated Retry-After values are not waited for
STATUSES = ("live", "scheduled", "paused", "completed")
PREFIX = "/v1/campaigns/"


def examples(n: int) -> settings:
    """Reproducible, bounded: the same ``n`` cases every run."""
    return settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture
def fast_conn(simulator, monkeypatch) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        connection_json(
            simulator.url, timeout=5, max_retries=1, backoff_initial=0, backoff_max=0, retry_after_max=0, deadline=10
        ),
    )
    return "sigmamind_default"


# -- generated answers ---------------------------------------------------------------------------

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def status_values(draw: st.DrawFn) -> Any:
    """A ``campaignStatus``: documented ones in any case and spacing, near misses, any JSON value."""
    name = draw(st.sampled_from(STATUSES))
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in name)
    pad = st.sampled_from(["", " ", "\t", "\n", "\u00a0", "\u200b"])
    return draw(
        st.one_of(
            st.just(name),
            st.just(draw(pad) + cased + draw(pad)),
            st.sampled_from(["archived", "LIVE!", "live-ish", "l\u0456ve", "completed.", "", "unknown", "null"]),
            st.text(max_size=12),
            json_value,
        )
    )


@st.composite
def payloads(draw: st.DrawFn, campaign_id: str) -> dict[str, Any]:
    """A campaign-shaped object, then mutated: fields dropped, retyped, added."""
    payload: dict[str, Any] = {
        "campaignId": campaign_id,
        "campaignName": draw(st.one_of(st.text(max_size=20), json_value)),
        "campaignStatus": draw(status_values()),
        "scheduledDate": draw(
            st.one_of(st.none(), st.just("2025-12-01T10:00:00.000Z"), st.text(max_size=25), json_value)
        ),
        "concurrentCalls": draw(json_value),
        "errors": draw(st.one_of(st.none(), st.text(max_size=20), st.lists(json_value, max_size=3), json_value)),
        "scheduled": draw(json_value),
    }
    for key in draw(st.lists(st.sampled_from(sorted(payload)), max_size=3, unique=True)):
        del payload[key]
    if draw(st.booleans()):
        payload["campaignId"] = draw(st.one_of(st.just(campaign_id + "x"), json_value))
    payload.update(draw(st.dictionaries(st.text(max_size=10), json_value, max_size=2)))
    return payload


@st.composite
def answers(draw: st.DrawFn, campaign_id: str) -> tuple[int, bytes, dict[str, Any] | None]:
    """(HTTP status, body bytes, the payload when the body is its plain JSON encoding)."""
    payload = draw(payloads(campaign_id))
    raw = json.dumps(payload).encode()
    mutation = draw(st.sampled_from(["none"] * 6 + ["cut", "flip", "wrap", "nest", "prefix", "utf16", "bignum"]))
    if mutation == "cut":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    elif mutation == "flip":
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :]
    elif mutation == "wrap":
        raw = b"[" + raw + b"]"
    elif mutation == "nest":
        depth = draw(st.sampled_from([50, 5_000, 200_000]))
        raw = b'{"a":' * depth + raw + b"}" * depth
    elif mutation == "prefix":
        raw = draw(st.sampled_from([b"\xef\xbb\xbf", b")]}',\n", b"<html>", b"\x00", b"\xff\xfe"])) + raw
    elif mutation == "utf16":
        raw = raw.decode().encode("utf-16")
    elif mutation == "bignum":
        raw = b'{"campaignId": 1' + b"0" * 5_000 + b"}"
    status = draw(st.sampled_from([200] * 8 + [201, 204, 400, 404, 429, 500, 503]))
    return status, raw, payload if mutation in ("none", "prefix") and raw.startswith(b"{") else None


def _with_failures(targets: set[str]) -> st.SearchStrategy[tuple[list[str], list[str]]]:
    others = sorted(set(STATUSES) - targets)
    failures = st.sets(st.sampled_from(others)).map(sorted) if others else st.just([])
    return st.tuples(st.just(sorted(targets)), failures)


#: (target statuses, failure statuses): disjoint, at least one target.
targets_and_failures = st.sets(st.sampled_from(STATUSES), min_size=1).flatmap(_with_failures)


def is_target(payload: object, targets: list[str]) -> bool:
    """The only way a wait may succeed: an object whose ``campaignStatus`` names a target."""
    if not isinstance(payload, dict):
        return False
    status = payload.get("campaignStatus")
    return isinstance(status, str) and status.strip().lower() in targets


def test_generated_answers_never_crash_the_hook_or_the_sensor_nor_fake_success(fast_conn, simulator, request):
    hook = SigmaMindHook(retry_policy=FAST)
    seen = {"cases": 0, "successes": 0, "errors": 0}

    @examples(250)
    @given(data=st.data(), statuses=targets_and_failures)
    def check(data: st.DataObject, statuses: tuple[list[str], list[str]]) -> None:
        targets, failures = statuses
        campaign_id = "camp_" + secrets.token_hex(6)
        status, raw, _ = data.draw(answers(campaign_id))
        simulator.add_campaign(campaign_id, script=[Fault.body(raw, status=status)])
        served = json.loads(raw) if _plain_json(raw) else None
        seen["cases"] += 1

        try:
            campaign = hook.get_campaign(campaign_id)
        except SigmaMindError:
            campaign = None
            seen["errors"] += 1
        sensor = CampaignStatusSensor(
            task_id="wait", campaign_id=campaign_id, target_statuses=targets, failure_statuses=failures
        )
        sensor.__dict__["hook"] = hook
        try:
            result = sensor.poke({})
        except SigmaMindError:
            result = None
        if isinstance(result, PokeReturnValue) and result.is_done:
            seen["successes"] += 1
            assert 200 <= status < 300
            assert is_target(served, targets), (status, raw[:200])
            assert result.xcom_value == served
        if campaign is not None and campaign.status.value in targets:
            assert isinstance(result, PokeReturnValue), "a target status must end the wait"

    check()
    hook.close()
    request.node.user_properties.append(("generated", seen["cases"]))
    assert seen["successes"] > 10  # the generator does reach success...
    assert seen["errors"] > 10  # ...and failure


def _plain_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def test_generated_answers_never_crash_the_trigger_nor_fake_success(fast_conn, simulator, request):
    cases = 0

    @examples(60)
    @given(data=st.data(), statuses=targets_and_failures)
    def check(data: st.DataObject, statuses: tuple[list[str], list[str]]) -> None:
        nonlocal cases
        targets, failures = statuses
        campaign_id = "camp_" + secrets.token_hex(6)
        status, raw, _ = data.draw(answers(campaign_id))
        simulator.add_campaign(campaign_id, script=[Fault.body(raw, status=status)])
        served = json.loads(raw) if _plain_json(raw) else None
        cases += 1
        trigger = CampaignStatusTrigger(
            campaign_id=campaign_id,
            target_statuses=targets,
            failure_statuses=failures,
            poll_interval=0,
            deadline=time.time() - 1,  # one look, then the deadline event
            max_consecutive_errors=1,
        )

        async def run() -> list[dict[str, Any]]:
            return [event.payload async for event in trigger.run()]

        (event,) = asyncio.run(run())
        assert json.loads(json.dumps(event)) == event
        if event["status"] == "success":
            assert 200 <= status < 300
            assert is_target(served, targets), (status, raw[:200])
            assert event["campaign"] == served
        elif event["status"] == "error":
            # an error event names one of the provider's own errors (or the deadline), never a crash
            assert event["error_class"].startswith("SigmaMind") or event["error_class"] == "AirflowSensorTimeout", event

    check()
    request.node.user_properties.append(("generated", cases))


# -- generated ids ---------------------------------------------------------------------------------

tricky = st.sampled_from(["/", "..", ".", "%2e", "%2F", "?", "#", "\\", " ", "\r\n", "\x00", "%", "&x=1", ";", "//"])
ids = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(tricky, st.text(max_size=4)), max_size=8).map("".join),
    st.text(min_size=250, max_size=260),
)


def _check_one_segment(simulator: Any, campaign_id: str, error: SigmaMindError, before: int) -> None:
    sent = simulator.requests[before:]
    if isinstance(error, SigmaMindInvalidInputError):
        assert sent == [], campaign_id
        return
    assert isinstance(error, SigmaMindNotFoundError), error
    (request,) = sent
    segment = request.raw_path[len(PREFIX) :]
    assert request.raw_path.startswith(PREFIX)
    assert segment == quote(campaign_id, safe="")
    assert not {"/", "?", "#"} & set(segment)
    assert segment not in ("", ".", "..")
    assert request.campaign_id == campaign_id


def test_generated_ids_never_escape_one_path_segment(fast_conn, simulator, request):
    hook = SigmaMindHook(retry_policy=FAST)
    cases = 0

    @examples(300)
    @given(campaign_id=ids)
    def check(campaign_id: str) -> None:
        nonlocal cases
        cases += 1
        before = len(simulator.requests)
        with pytest.raises(SigmaMindError) as excinfo:
            hook.get_campaign(campaign_id)
        _check_one_segment(simulator, campaign_id, excinfo.value, before)

    check()
    hook.close()
    request.node.user_properties.append(("generated", cases))


def test_generated_ids_never_escape_one_path_segment_async(fast_conn, simulator, request):
    cases = 0

    @examples(100)
    @given(campaign_id=ids)
    def check(campaign_id: str) -> None:
        nonlocal cases
        cases += 1
        before = len(simulator.requests)

        async def fetch() -> None:
            async with SigmaMindHook(retry_policy=FAST) as hook:
                await hook.aget_campaign(campaign_id)

        with pytest.raises(SigmaMindError) as excinfo:
            asyncio.run(fetch())
        _check_one_segment(simulator, campaign_id, excinfo.value, before)

    check()
    request.node.user_properties.append(("generated", cases))
