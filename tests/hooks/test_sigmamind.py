"""SigmaMindHook against the simulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import pytest

from airflow_provider_sigmamind.exceptions import (
    SigmaMindAuthError,
    SigmaMindError,
    SigmaMindInvalidInputError,
    SigmaMindNotFoundError,
    SigmaMindRateLimitError,
    SigmaMindRejectedError,
    SigmaMindResponseError,
    SigmaMindServerError,
    SigmaMindTransportError,
)
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import CampaignStatus
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.simulator import Fault
from tests.helpers import CANARY_API_KEY, FAST, connection_json


@pytest.fixture
def hook(sigmamind_conn) -> SigmaMindHook:
    """A hook on the simulator: 2 retries, no backoff."""
    with SigmaMindHook(sigmamind_conn_id=sigmamind_conn, retry_policy=FAST, max_retries=2) as hook:
        yield hook


def test_get_campaign_returns_typed_campaign_and_raw_payload(hook, simulator):
    served = simulator.add_campaign(name="Q4 Outreach", status="live", errors=["Row 3: invalid phone number '+1'"])

    campaign = hook.get_campaign(served["campaignId"])

    assert campaign.campaign_id == served["campaignId"]
    assert campaign.status is CampaignStatus.LIVE
    assert campaign.name == "Q4 Outreach"
    assert campaign.errors == ["Row 3: invalid phone number '+1'"]
    assert campaign.payload == simulator.campaign(served["campaignId"])
    (request,) = simulator.requests_for(served["campaignId"])
    assert request.method == "GET"
    assert request.authorized
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("airflow-provider-sigmamind/")


def test_one_session_is_reused_across_calls(hook, simulator):
    served = simulator.add_campaign()
    for _ in range(5):
        hook.get_campaign(served["campaignId"])
    assert simulator.stats["total_connections"] == 1
    assert simulator.stats["total_requests"] == 5


def test_wrong_key_is_an_auth_error_without_retries(simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, api_key="wrong-key-123"))
    served = simulator.add_campaign()
    with pytest.raises(SigmaMindAuthError) as excinfo:
        SigmaMindHook(retry_policy=FAST).get_campaign(served["campaignId"])
    assert "HTTP 401" in str(excinfo.value)
    assert served["campaignId"] in str(excinfo.value)
    assert "wrong-key-123" not in str(excinfo.value)
    assert len(simulator.requests) == 1


def test_unknown_campaign_is_not_found(hook, simulator):
    with pytest.raises(SigmaMindNotFoundError) as excinfo:
        hook.get_campaign("camp_DoesNotExist00")
    assert excinfo.value.status_code == 404
    assert "'camp_DoesNotExist00' was not found" in str(excinfo.value)
    assert len(simulator.requests) == 1


@pytest.mark.parametrize(
    "fault",
    [Fault.rate_limit(retry_after=0), Fault.server_error(503), Fault.server_error(502), Fault.drop()],
    ids=["429", "503", "502", "dropped"],
)
def test_transient_failure_then_success(hook, simulator, fault):
    served = simulator.add_campaign()
    simulator.inject(fault, campaign_id=served["campaignId"], times=2)

    campaign = hook.get_campaign(served["campaignId"])

    assert campaign.status is CampaignStatus.LIVE
    assert len(simulator.requests_for(served["campaignId"])) == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.server_error(500), SigmaMindServerError),
        (Fault.rate_limit(retry_after=0), SigmaMindRateLimitError),
        (Fault.drop(), SigmaMindTransportError),
    ],
    ids=["5xx", "429", "dropped"],
)
def test_transient_failure_exhausts_retries(hook, simulator, fault, error):
    served = simulator.add_campaign()
    simulator.inject(fault, campaign_id=served["campaignId"], times=None)

    with pytest.raises(error) as excinfo:
        hook.get_campaign(served["campaignId"])

    assert "gave up after 3 attempts" in str(excinfo.value)
    assert excinfo.value.attempts == 3
    assert len(simulator.requests_for(served["campaignId"])) == 3


def test_retry_after_beyond_the_deadline_gives_up_at_once(sigmamind_conn, simulator):
    served = simulator.add_campaign()
    simulator.inject(Fault.rate_limit(retry_after=3600), campaign_id=served["campaignId"], times=None)
    hook = SigmaMindHook(retry_policy=RetryPolicy(retry_after_max=3600, deadline=5))
    with pytest.raises(SigmaMindRateLimitError, match="gave up after 1 attempt"):
        hook.get_campaign(served["campaignId"])
    assert len(simulator.requests_for(served["campaignId"])) == 1


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("html", "an HTML page"),
        ("truncated", "truncated or invalid JSON"),
        ("empty", "an empty body"),
        ("array", "expected a JSON object, got list"),
        ("scalar", "expected a JSON object, got int"),
        ("not_json", "text that is not JSON"),
    ],
)
def test_malformed_bodies_are_permanent_errors(hook, simulator, kind, expected):
    served = simulator.add_campaign()
    simulator.inject(Fault.malformed(kind), campaign_id=served["campaignId"], times=None)
    with pytest.raises(SigmaMindResponseError) as excinfo:
        hook.get_campaign(served["campaignId"])
    assert expected in str(excinfo.value)
    assert served["campaignId"] in str(excinfo.value)
    assert len(simulator.requests_for(served["campaignId"])) == 1


def test_a_status_the_api_does_not_document_is_unknown_not_an_error(hook, simulator):
    served = simulator.add_campaign(script=["archived"])
    campaign = hook.get_campaign(served["campaignId"])
    assert campaign.status is CampaignStatus.UNKNOWN
    assert campaign.raw_status == "archived"


def test_redirects_are_not_followed(hook, simulator):
    served = simulator.add_campaign()
    simulator.inject(Fault.redirect("http://127.0.0.2:9/steal"), campaign_id=served["campaignId"])
    with pytest.raises(SigmaMindResponseError, match="redirect"):
        hook.get_campaign(served["campaignId"])
    assert len(simulator.requests) == 1


def test_bad_request_is_rejected_with_the_server_message(hook, simulator):
    served = simulator.add_campaign()
    simulator.inject(Fault.status(400), campaign_id=served["campaignId"])
    with pytest.raises(SigmaMindRejectedError) as excinfo:
        hook.get_campaign(served["campaignId"])
    assert excinfo.value.server_message
    assert excinfo.value.server_message in str(excinfo.value)
    assert len(simulator.requests) == 1


@pytest.mark.parametrize("campaign_id", ["a/b", "../x", "%2e%2e", "?x", "#x", "//evil.example", "café ☎"])
def test_odd_ids_travel_as_exactly_one_path_segment(hook, simulator, campaign_id):
    with pytest.raises(SigmaMindNotFoundError):
        hook.get_campaign(campaign_id)
    (request,) = simulator.requests
    assert request.path == "/v1/campaigns/" + campaign_id
    assert request.raw_path.count("/") == 3
    assert request.campaign_id == campaign_id


@pytest.mark.parametrize("campaign_id", ["", "  ", "a\r\nX-Injected: 1", "nul\x00", "..", "x" * 10_000])
def test_invalid_ids_are_refused_before_any_request(hook, simulator, campaign_id):
    with pytest.raises(SigmaMindInvalidInputError, match="campaign_id"):
        hook.get_campaign(campaign_id)
    assert simulator.requests == []


def test_a_trickling_body_is_cut_off_by_the_request_timeout(simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=0.5, max_retries=0))
    served = simulator.add_campaign()
    simulator.inject(Fault.trickle(interval=0.05), campaign_id=served["campaignId"], times=None)
    with pytest.raises(SigmaMindTransportError, match="did not finish within the request timeout"):
        SigmaMindHook().get_campaign(served["campaignId"])


def test_connection_refused_is_a_transport_error(monkeypatch, simulator):
    url = simulator.url
    simulator.stop()
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(url, max_retries=1))
    with pytest.raises(SigmaMindTransportError, match="connection refused") as excinfo:
        SigmaMindHook(retry_policy=FAST).get_campaign("camp_x")
    assert excinfo.value.attempts == 2


def test_test_connection_reports_success_and_failure_without_the_key(simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url))
    ok, message = SigmaMindHook().test_connection()
    assert ok, message
    assert simulator.url in message

    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, api_key="bad-key-98765"))
    ok, message = SigmaMindHook().test_connection()
    assert not ok
    assert "rejected the API key" in message
    assert "bad-key-98765" not in message
    assert CANARY_API_KEY not in message


def test_test_connection_reports_a_bad_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json("ftp://127.0.0.1"))
    ok, message = SigmaMindHook().test_connection()
    assert not ok
    assert "scheme 'ftp'" in message


def test_every_error_is_a_sigmamind_error_and_never_holds_the_key(hook, simulator):
    served = simulator.add_campaign()
    faults = [Fault.status(401), Fault.status(404), Fault.malformed("html"), Fault.server_error(500)]
    for fault in faults:
        simulator.inject(fault, campaign_id=served["campaignId"], times=None)
        with pytest.raises(SigmaMindError) as excinfo:
            hook.get_campaign(served["campaignId"])
        simulator.clear_faults()
        text = f"{excinfo.value!s} {excinfo.value!r} {excinfo.value.__cause__!r} {excinfo.value.__context__!r}"
        assert CANARY_API_KEY not in text
    assert all(CANARY_API_KEY not in r.raw_path for r in simulator.requests)
