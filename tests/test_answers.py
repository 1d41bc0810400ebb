"""answers: what an answer means, decided once for both paths: key blanking, strict JSON, errors."""

from __future__ import annotations

import json

import pytest

from airflow_provider_sigmamind.answers import decode_json, interpret, without_key
from airflow_provider_sigmamind.exceptions import SigmaMindNotFoundError, SigmaMindResponseError
from airflow_provider_sigmamind.transport import Answer

KEY = 'sk_live/AbC+12"x\\y'


def json_escaped(text: str) -> str:
    """``text`` with every character written as a JSON ``\\uXXXX`` escape."""
    return "".join(f"\\u{ord(char):04x}" for char in text)


@pytest.mark.parametrize(
    "spelling",
    [
        KEY,
        json.dumps(KEY)[1:-1],  # what json.dumps writes: \" and \\
        json_escaped(KEY),
        json_escaped(KEY).upper().replace("\\U", "\\u"),  # upper-case hex digits
        KEY.replace("/", "\\/"),  # the escaped slash many encoders write
        "".join(f"%{ord(char):02X}" for char in KEY),  # percent-encoded, as in an echoed URL
        KEY[:4] + json_escaped(KEY[4:9]) + KEY[9:],  # mixed
    ],
)
def test_the_key_is_blanked_in_every_spelling(spelling: str) -> None:
    body = f'{{"message": "bad key {spelling} given"}}'.encode()
    assert without_key(body, KEY) == b'{"message": "bad key *** given"}'


PLAIN_KEY = "sk_live_AbC12xyz"  # no character JSON or a URL escapes


@pytest.mark.parametrize(
    "spelling",
    [
        PLAIN_KEY,  # a body with no backslash and no percent sign: only this spelling can be in it
        json_escaped(PLAIN_KEY),
        "".join(f"%{ord(char):02x}" for char in PLAIN_KEY),
        PLAIN_KEY[:3] + "%" + f"{ord(PLAIN_KEY[3]):02X}" + PLAIN_KEY[4:],  # mixed
    ],
)
@pytest.mark.parametrize("elsewhere", ["", " (see C:\\keys or 100%)"])
def test_a_plain_key_is_blanked_in_every_spelling(spelling: str, elsewhere: str) -> None:
    body = f'{{"message": "bad key {spelling} given{elsewhere}", "again": "{spelling}"}}'.encode()
    expected = f'{{"message": "bad key *** given{elsewhere}", "again": "***"}}'.encode()
    assert without_key(body, PLAIN_KEY) == expected


def test_there_is_nothing_to_blank_without_a_key() -> None:
    body = b'{"message": "no key"}'
    assert without_key(body, "") == body


def test_other_text_is_left_alone() -> None:
    body = b'{"message": "sk_live/AbC+13 is another key"}'
    assert without_key(body, KEY) == body


@pytest.mark.parametrize("body", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e400}'])
def test_non_standard_numbers_are_a_malformed_answer(body: bytes) -> None:
    with pytest.raises(SigmaMindResponseError, match="truncated or invalid JSON"):
        decode_json(200, body, "application/json", method="GET", path="/v1/campaigns/c", campaign_id="c")


def test_an_error_answer_echoing_the_key_escaped_does_not_quote_it() -> None:
    body = json.dumps({"message": f"unknown key {KEY}"}, ensure_ascii=True).replace("/", "\\/").encode()
    answer = Answer(404, {"Content-Type": "application/json"}, body)
    with pytest.raises(SigmaMindNotFoundError) as excinfo:
        interpret(answer, api_key=KEY, method="GET", path="/v1/campaigns/c", campaign_id="c")
    assert "unknown key ***" in str(excinfo.value)
    assert "AbC" not in str(excinfo.value)
