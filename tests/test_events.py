"""The deferred wait's event protocol: every event survives JSON, and decodes to what poke mode raises."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_sigmamind import exceptions
from airflow_provider_sigmamind.compat import AirflowNotFoundException, AirflowSensorTimeout, AirflowTaskTimeout
from airflow_provider_sigmamind.events import (
    error_event,
    failure_event,
    outcome,
    success_event,
    timeout_event,
)
from airflow_provider_sigmamind.exceptions import (
    SigmaMindCampaignStatusError,
    SigmaMindError,
    SigmaMindNotFoundError,
    SigmaMindServerError,
    SigmaMindTransportError,
    error_for_response,
)

CID = "camp_Events00000001"
PATH = f"/v1/campaigns/{CID}"


def through_json(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the triggerer stores it and the worker reads it back."""
    text = json.dumps(event)
    assert len(text) < 2048  # small
    return json.loads(text)


def raised(event: object) -> BaseException:
    try:
        outcome(event, campaign_id=CID)
    except BaseException as err:  # AirflowTaskTimeout is a BaseException
        return err
    raise AssertionError(f"{event!r} raised nothing")


def same(a: BaseException, b: BaseException) -> tuple[Any, ...]:
    """What must be equal: the class, the arguments, every attribute."""
    return (type(a), a.args, vars(a)), (type(b), b.args, vars(b))


def every_provider_error() -> list[SigmaMindError]:
    """One of each error the hook raises, built as the hook builds it, with every attribute set."""
    answers = [
        error_for_response(status, method="GET", path=PATH, body=body, content_type=kind, campaign_id=CID, **more)
        for status, body, kind, more in [
            (401, b'{"message": "bad key"}', "application/json", {}),
            (403, b"", None, {}),
            (404, b'{"error": "no such campaign"}', "application/json", {}),
            (409, b"name taken", "text/plain", {}),
            (422, b'{"detail": "agentId"}', "application/json", {}),
            (429, b"", None, {"retry_after": 12.5}),
            (500, b"<html>oops</html>", "text/html", {}),
            (501, b"", None, {}),  # a server error that is not retried: retryable=False on the instance
            (503, b"", None, {"retry_after": 0.0}),
            (302, b"", None, {}),
        ]
    ]
    answers[8].gave_up(3, 0.04)
    answers[8].add_detail("; 3 polls in a row failed, giving up")
    return [
        *answers,
        SigmaMindTransportError("no answer from SigmaMind", path=PATH, campaign_id=CID, attempts=3),
        exceptions.SigmaMindTLSError("TLS failed while reaching SigmaMind", path=PATH, campaign_id=CID),
        exceptions.SigmaMindResponseError("not JSON", status_code=200, path=PATH, campaign_id=CID),
        exceptions.SigmaMindInvalidInputError("connection 'sm': 'timeout' must be a number"),
        SigmaMindCampaignStatusError("campaign 'c' is paused", campaign_id=CID),
    ]


def test_every_error_class_the_hook_raises_is_in_the_table():
    table = {type(err) for err in every_provider_error()}
    exported = {getattr(exceptions, name) for name in exceptions.__all__ if name.startswith("SigmaMind")}
    assert exported - table == {SigmaMindError, exceptions.SigmaMindContactListError}  # neither waits


@pytest.mark.parametrize("error", every_provider_error(), ids=lambda e: f"{type(e).__name__}-{e.status_code}")
def test_an_error_event_raises_the_same_exception(error: SigmaMindError):
    again = raised(through_json(error_event(error, "another_campaign")))
    assert same(again, error)[0] == same(again, error)[1]
    assert again.retryable is error.retryable
    assert str(again) == str(error)


def test_a_501_stays_not_retryable_through_the_event():
    error = error_for_response(501, method="GET", path=PATH, campaign_id=CID)
    assert (type(error), error.retryable) == (SigmaMindServerError, False)
    again = raised(through_json(error_event(error, CID)))
    assert (type(again), again.retryable) == (SigmaMindServerError, False)


def test_failure_event_raises_what_poke_mode_raises():
    poke = SigmaMindCampaignStatusError("campaign 'x' is paused, a failure status", campaign_id=CID)
    again = raised(through_json(failure_event("campaign 'x' is paused, a failure status", CID)))
    assert same(again, poke)[0] == same(again, poke)[1]


@pytest.mark.parametrize("cls", [AirflowSensorTimeout, AirflowTaskTimeout])
def test_timeout_events(cls: type[BaseException]):
    again = raised(through_json(timeout_event("late", CID, error_class=cls.__name__)))
    assert (type(again), again.args) == (cls, ("late",))


def test_a_missing_connection_raises_what_poke_mode_raises():
    poke = AirflowNotFoundException("The conn_id `nope` isn't defined")
    again = raised(through_json(error_event(poke, CID)))
    assert (type(again), again.args) == (AirflowNotFoundException, poke.args)


def test_an_unexpected_exception_is_a_provider_error_naming_it():
    again = raised(through_json(error_event(KeyError("x"), CID)))
    assert type(again) is SigmaMindError
    assert (again.message, again.campaign_id) == ("KeyError in the triggerer: 'x'", CID)


def test_success_returns_the_payload():
    payload = {"campaignId": CID, "campaignStatus": "live"}
    assert outcome(through_json(success_event(payload)), campaign_id=CID) == payload


@pytest.mark.parametrize(
    "event",
    [None, "success", {}, {"status": "done"}, {"unexpected": True}, ["status", "error"]],
)
def test_an_unusable_event_is_a_provider_error(event: object):
    again = raised(event)
    assert type(again) is SigmaMindError
    assert "no usable event" in str(again)


def test_events_of_the_previous_release_still_decode():
    again = raised(
        {
            "status": "error",
            "error_class": "SigmaMindNotFoundError",
            "message": "gone",
            "campaign_id": CID,
            "status_code": 404,
        }
    )
    assert type(again) is SigmaMindNotFoundError
    assert (again.message, again.status_code, again.campaign_id, again.path) == ("gone", 404, CID, None)
    old_failure = raised({"status": "failure", "message": "paused"})
    assert (type(old_failure), old_failure.campaign_id) == (SigmaMindCampaignStatusError, CID)


def test_an_error_class_outside_the_exported_hierarchy_is_not_instantiated():
    again = raised({"status": "error", "error_class": "AirflowFailException", "message": "m"})
    assert type(again) is SigmaMindError
    assert again.message == "AirflowFailException in the triggerer: m"
