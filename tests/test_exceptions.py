"""Tests for the error hierarchy and the one function that maps an HTTP answer to an error."""

from __future__ import annotations

import inspect
import json
import pickle

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_sigmamind import exceptions
from airflow_provider_sigmamind.exceptions import (
    SNIPPET_LIMIT,
    SigmaMindAuthError,
    SigmaMindCampaignStatusError,
    SigmaMindContactListError,
    SigmaMindError,
    SigmaMindInvalidInputError,
    SigmaMindNotFoundError,
    SigmaMindRateLimitError,
    SigmaMindRejectedError,
    SigmaMindResponseError,
    SigmaMindServerError,
    SigmaMindTLSError,
    SigmaMindTransportError,
    error_for_response,
    is_transient_status,
    server_message,
)

PATH = "/v1/campaigns/camp_XiQEBcj9cc5TFRB4"
CAMPAIGN = "camp_XiQEBcj9cc5TFRB4"
DOCUMENTED_400 = json.dumps(
    {
        "error": "Bad Request",
        "message": "Invalid request parameters",
        "path": "/v1/campaigns",
        "status": 400,
        "timestamp": "2026-05-14T14:27:22.389Z",
    }
).encode()
HTML_502 = b"""<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title></head>
<body><h1>Bad Gateway</h1><p>nginx/1.25.3 upstream secret-upstream.internal:8080</p></body></html>
"""

ALL_CLASSES = [
    obj
    for name in exceptions.__all__
    if inspect.isclass(obj := getattr(exceptions, name)) and issubclass(obj, BaseException)
]


def test_all_exports_every_error_class() -> None:
    defined = {
        obj
        for obj in vars(exceptions).values()
        if inspect.isclass(obj) and issubclass(obj, SigmaMindError) and obj.__module__ == exceptions.__name__
    }
    assert defined == set(ALL_CLASSES)


# -- error_for_response: status -> class ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (401, SigmaMindAuthError, False),
        (403, SigmaMindAuthError, False),
        (404, SigmaMindNotFoundError, False),
        (400, SigmaMindRejectedError, False),
        (409, SigmaMindRejectedError, False),
        (422, SigmaMindRejectedError, False),
        (405, SigmaMindRejectedError, False),
        (410, SigmaMindRejectedError, False),
        (429, SigmaMindRateLimitError, True),
        (408, SigmaMindServerError, True),
        (500, SigmaMindServerError, True),
        (502, SigmaMindServerError, True),
        (503, SigmaMindServerError, True),
        (504, SigmaMindServerError, True),
        (301, SigmaMindResponseError, False),
        (302, SigmaMindResponseError, False),
        (307, SigmaMindResponseError, False),
        (308, SigmaMindResponseError, False),
        (200, SigmaMindResponseError, False),
        (101, SigmaMindResponseError, False),
    ],
)
def test_status_maps_to_class(status: int, cls: type[SigmaMindError], retryable: bool) -> None:
    err = error_for_response(status, method="GET", path=PATH, campaign_id=CAMPAIGN)
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.status_code == status
    assert err.path == PATH
    assert err.campaign_id == CAMPAIGN
    assert err.attempts is None
    # message names the campaign and the HTTP status, method and path
    message = str(err)
    assert repr(CAMPAIGN) in message
    assert f"HTTP {status} on GET {PATH}" in message


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_agree_with_retryable_classes(status: int) -> None:
    assert is_transient_status(status)
    assert error_for_response(status, method="GET", path=PATH).retryable


@pytest.mark.parametrize("status", [200, 302, 400, 401, 403, 404, 409, 422])
def test_permanent_statuses(status: int) -> None:
    assert not is_transient_status(status)
    assert not error_for_response(status, method="GET", path=PATH).retryable


def test_redirect_message_says_it_was_not_followed() -> None:
    err = error_for_response(302, method="GET", path=PATH, campaign_id=CAMPAIGN)
    assert "redirect" in str(err)
    assert "not followed" in str(err)


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (401, "rejected the API key"),
        (403, "may not access"),
    ],
)
def test_auth_messages_point_at_the_api_key_field(status: int, phrase: str) -> None:
    message = str(error_for_response(status, method="GET", path=PATH, campaign_id=CAMPAIGN))
    assert phrase in message
    assert "API Key field" in message


def test_not_found_names_the_campaign() -> None:
    err = error_for_response(404, method="GET", path=PATH, campaign_id=CAMPAIGN)
    assert str(err).startswith(f"campaign {CAMPAIGN!r} was not found")


def test_without_campaign_the_message_names_method_and_path() -> None:
    err = error_for_response(404, method="GET", path="/v1/campaigns", body=b"")
    assert err.campaign_id is None
    assert str(err) == "GET /v1/campaigns: not found (HTTP 404 on GET /v1/campaigns)"


def test_retry_after_is_carried() -> None:
    err = error_for_response(429, method="GET", path=PATH, retry_after=12.5)
    assert err.retry_after == 12.5
    assert error_for_response(429, method="GET", path=PATH).retry_after is None


# -- error_for_response: the server's explanation ------------------------------------------------


def test_documented_400_body_is_quoted() -> None:
    err = error_for_response(
        400, method="POST", path="/v1/campaigns", body=DOCUMENTED_400, content_type="application/json"
    )
    assert isinstance(err, SigmaMindRejectedError)
    assert err.server_message == "Invalid request parameters"
    assert str(err).endswith("(HTTP 400 on POST /v1/campaigns): Invalid request parameters")
    # only the message, not the whole body
    assert "timestamp" not in str(err)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"message": "Campaign is locked"}', "application/json", "Campaign is locked"),
        (b'{"message": "Campaign is locked"}', None, "Campaign is locked"),
        (b'{"message": "Campaign is locked"}', "application/problem+json; charset=utf-8", "Campaign is locked"),
        (b'  {"message": "  spaced\\n out  "}', "text/plain", "spaced out"),
        (b'{"error": "Conflict"}', "application/json", "Conflict"),
        (b'{"detail": "Name taken"}', "application/json", "Name taken"),
        (b'{"message": "", "error": "Conflict"}', "application/json", "Conflict"),
        (b'{"message": 5, "error": "Conflict"}', "application/json", "Conflict"),
        (b'{"message": "<b>bold</b> claim"}', "application/json", "<b>bold</b> claim"),
    ],
)
def test_json_message_is_quoted(body: bytes, content_type: str | None, expected: str) -> None:
    err = error_for_response(409, method="PATCH", path=PATH, body=body, content_type=content_type, campaign_id=CAMPAIGN)
    assert err.server_message == expected
    assert str(err).endswith(f": {expected}")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (HTML_502, "text/html; charset=utf-8"),
        (HTML_502, "TEXT/HTML"),
        (HTML_502, None),
        (HTML_502, "text/plain"),
        (b"\n\n   " + HTML_502, None),
        (b"<html><body>Service Unavailable</body></html>", "application/octet-stream"),
        (b"Service down, see status page", "text/html"),
    ],
)
def test_html_body_is_summarised_never_quoted(body: bytes, content_type: str | None) -> None:
    err = error_for_response(502, method="GET", path=PATH, body=body, content_type=content_type, campaign_id=CAMPAIGN)
    assert err.server_message == "an HTML page"
    message = str(err)
    assert message.endswith(": an HTML page")
    for leaked in ("<", "nginx", "secret-upstream", "Bad Gateway</", "Service"):
        assert leaked not in message


def test_invalid_json_claiming_json_falls_back_to_a_text_snippet() -> None:
    err = error_for_response(500, method="GET", path=PATH, body=b'{"message": "trunc', content_type="application/json")
    assert err.server_message == '{"message": "trunc'


def test_plain_text_body_is_one_line() -> None:
    err = error_for_response(503, method="GET", path=PATH, body=b"upstream\r\nconnect\terror\n\n", content_type=None)
    assert err.server_message == "upstream connect error"
    assert "\n" not in str(err)
    assert "\r" not in str(err)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"x" * 5000, "text/plain"),
        (("word " * 2000).encode(), None),
        (json.dumps({"message": "m" * 5000}).encode(), "application/json"),
        (b"y" * 1_000_000, "text/plain"),
    ],
)
def test_long_body_is_cut_to_the_snippet_limit(body: bytes, content_type: str | None) -> None:
    err = error_for_response(500, method="GET", path=PATH, body=body, content_type=content_type, campaign_id=CAMPAIGN)
    assert err.server_message is not None
    assert len(err.server_message) == SNIPPET_LIMIT
    assert err.server_message.endswith("…")
    assert len(str(err)) < SNIPPET_LIMIT + 200


def test_snippet_at_the_limit_is_not_cut() -> None:
    body = b"z" * SNIPPET_LIMIT
    assert server_message(body, "text/plain") == "z" * SNIPPET_LIMIT


@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_empty_body_adds_nothing(body: bytes) -> None:
    err = error_for_response(500, method="GET", path=PATH, body=body, campaign_id=CAMPAIGN)
    assert not err.server_message
    assert str(err).endswith(f"(HTTP 500 on GET {PATH})")


def test_non_utf8_body_does_not_crash() -> None:
    err = error_for_response(500, method="GET", path=PATH, body=b"\xff\xfe\x80 bad bytes", content_type="text/plain")
    assert err.server_message is not None
    assert "bad bytes" in err.server_message


def test_huge_json_body_is_not_parsed_whole() -> None:
    body = json.dumps({"message": "ok", "pad": "p" * 200_000}).encode()
    snippet = server_message(body, "application/json")
    assert snippet is not None
    assert len(snippet) <= SNIPPET_LIMIT


# -- the hierarchy -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_every_class_is_a_sigmamind_and_airflow_exception(cls: type[SigmaMindError]) -> None:
    assert issubclass(cls, SigmaMindError)
    assert issubclass(cls, AirflowException)
    err = cls("something went wrong", status_code=418)
    assert isinstance(err, AirflowException)
    assert str(err) == "something went wrong"
    assert err.args == ("something went wrong",)


@pytest.mark.parametrize("cls", [SigmaMindCampaignStatusError, SigmaMindContactListError])
def test_status_and_contact_list_errors_fail_the_task_without_retries(cls: type[SigmaMindError]) -> None:
    assert issubclass(cls, AirflowFailException)
    with pytest.raises(AirflowFailException):
        raise cls("campaign 'c' is completed and can never become live")


@pytest.mark.parametrize(
    "cls",
    [c for c in ALL_CLASSES if c not in (SigmaMindCampaignStatusError, SigmaMindContactListError)],
    ids=lambda c: c.__name__,
)
def test_other_errors_are_not_fail_exceptions(cls: type[SigmaMindError]) -> None:
    assert not issubclass(cls, AirflowFailException)


def test_invalid_input_is_a_value_error() -> None:
    assert issubclass(SigmaMindInvalidInputError, ValueError)
    with pytest.raises(ValueError, match="bad id"):
        raise SigmaMindInvalidInputError("bad id")


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (SigmaMindError, False),
        (SigmaMindInvalidInputError, False),
        (SigmaMindAuthError, False),
        (SigmaMindNotFoundError, False),
        (SigmaMindRejectedError, False),
        (SigmaMindRateLimitError, True),
        (SigmaMindServerError, True),
        (SigmaMindTransportError, True),
        (SigmaMindTLSError, False),
        (SigmaMindResponseError, False),
        (SigmaMindCampaignStatusError, False),
        (SigmaMindContactListError, False),
    ],
)
def test_retryable_flags(cls: type[SigmaMindError], retryable: bool) -> None:
    assert cls.retryable is retryable
    assert cls("x").retryable is retryable


def test_tls_error_is_a_transport_error_that_is_not_retried() -> None:
    assert issubclass(SigmaMindTLSError, SigmaMindTransportError)
    assert not SigmaMindTLSError("x").retryable


def test_attributes_default_to_none() -> None:
    err = SigmaMindError("m")
    assert (err.status_code, err.server_message, err.path, err.campaign_id, err.retry_after, err.attempts) == (
        None,
        None,
        None,
        None,
        None,
        None,
    )


# -- pickling ------------------------------------------------------------------------------------

ATTRS = ("message", "status_code", "server_message", "path", "campaign_id", "retry_after", "attempts")


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_pickle_round_trip_keeps_class_and_attributes(cls: type[SigmaMindError]) -> None:
    err = cls(
        "campaign 'c' failed",
        status_code=503,
        server_message="busy",
        path="/v1/campaigns/c",
        campaign_id="c",
        retry_after=2.5,
        attempts=3,
    )
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is cls
    assert str(copy) == str(err)
    assert copy.args == err.args
    for attr in ATTRS:
        assert getattr(copy, attr) == getattr(err, attr), attr


def test_pickle_round_trip_after_gave_up() -> None:
    err = error_for_response(
        429, method="GET", path=PATH, body=b'{"message":"slow down"}', campaign_id=CAMPAIGN, retry_after=3.0
    )
    err.gave_up(4, 12.34)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is SigmaMindRateLimitError
    assert copy.attempts == 4
    assert copy.retry_after == 3.0
    assert copy.server_message == "slow down"
    assert str(copy) == str(err)
    assert str(copy).endswith("(gave up after 4 attempts in 12.3s)")


# -- add_detail / gave_up ------------------------------------------------------------------------


def test_add_detail_appends_in_place_and_returns_self() -> None:
    err = SigmaMindServerError("server error", status_code=500)
    returned = err.add_detail("; more")
    assert returned is err
    assert str(err) == "server error; more"
    assert err.message == "server error; more"
    assert err.args == ("server error; more",)
    err.add_detail("; again")
    assert str(err) == "server error; more; again"


@pytest.mark.parametrize(
    ("attempts", "elapsed", "suffix"),
    [
        (1, 0.0, " (gave up after 1 attempt in 0.0s)"),
        (2, 1.25, " (gave up after 2 attempts in 1.2s)"),
        (6, 299.96, " (gave up after 6 attempts in 300.0s)"),
    ],
)
def test_gave_up(attempts: int, elapsed: float, suffix: str) -> None:
    err = SigmaMindTransportError("connection refused")
    returned = err.gave_up(attempts, elapsed)
    assert returned is err
    assert err.attempts == attempts
    assert str(err) == "connection refused" + suffix
    with pytest.raises(SigmaMindTransportError, match="gave up after"):
        raise returned
