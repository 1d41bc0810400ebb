"""Tests for the hook's pure configuration: campaign ids as path segments, connection parsing,
the retry policy in force, and the provider metadata. No HTTP here.

Every error that can be triggered with a key in the connection is checked for the key.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import airflow
import jsonschema
import pytest
from airflow.providers.common.compat.sdk import Connection

from airflow_provider_sigmamind.defaults import DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from airflow_provider_sigmamind.exceptions import SigmaMindInvalidInputError
from airflow_provider_sigmamind.get_provider_info import get_provider_info
from airflow_provider_sigmamind.hooks.sigmamind import (
    MAX_CAMPAIGN_ID_LENGTH,
    SigmaMindConfig,
    SigmaMindHook,
    campaign_path,
    validate_campaign_id,
)
from airflow_provider_sigmamind.retry import RetryPolicy

KEY = "canary-KEY-9f3a"
PREFIX = "/v1/campaigns/"


def make_conn(
    *,
    host: str | None = "https://api.sigmamind.ai",
    password: str | None = KEY,
    port: int | None = None,
    extra: dict[str, Any] | None = None,
    conn_id: str = "sigmamind_test",
) -> Connection:
    return Connection(
        conn_id=conn_id,
        conn_type="sigmamind",
        host=host,
        password=password,
        port=port,
        extra=json.dumps(extra) if extra is not None else None,
    )


def connection_from_uri(uri: str, *, conn_id: str) -> Connection:
    """``Connection.from_uri`` of Airflow 3.1+; before it, the metadata DB's ``Connection`` parses URIs."""
    from_uri = getattr(Connection, "from_uri", None)
    if from_uri is not None:
        return from_uri(uri, conn_id=conn_id)
    from airflow.models.connection import Connection as StoredConnection

    return StoredConnection(conn_id=conn_id, uri=uri)


def config_error(conn: Connection, **overrides: Any) -> SigmaMindInvalidInputError:
    """The error ``from_connection`` raises, checked never to quote the key."""
    with pytest.raises(SigmaMindInvalidInputError) as excinfo:
        SigmaMindConfig.from_connection(conn, **overrides)
    err = excinfo.value
    for text in (str(err), repr(err), err.message, *map(str, err.args)):
        assert KEY not in text
        assert "KEY-9f3a" not in text
    assert f"connection {conn.conn_id!r}" in str(err)
    return err


# -- campaign ids --------------------------------------------------------------------------------

ACCEPTED_IDS = [
    "XiQEBcj9cc5TFRB4",
    "camp-XiQEBcj9cc5TFRB4",
    "camp_XiQEBcj9cc5TFRB4",
    "../x",
    "..%2fx",
    "%2e%2e",
    "%2F",
    "a/b",
    "?x",
    "#x",
    "x?y=1#z",
    "//evil.example",
    "https://evil.example/",
    "...",
    "a b",
    "a+b",
    "a;b=c",
    "кампания-1",
    "日本語",
    "emoji-😀",
    "a\u00a0b",
    "\\..\\x",
    "x" * MAX_CAMPAIGN_ID_LENGTH,
]


@pytest.mark.parametrize("campaign_id", ACCEPTED_IDS)
def test_accepted_id_is_exactly_one_encoded_segment(campaign_id: str) -> None:
    assert validate_campaign_id(campaign_id) == campaign_id
    path = campaign_path(campaign_id)
    assert path.startswith(PREFIX)
    segment = path[len(PREFIX) :]
    assert segment
    for forbidden in ("/", "?", "#", "\\", " "):
        assert forbidden not in segment
    assert segment not in (".", "..")
    assert segment.isascii()
    assert segment.isprintable()
    assert unquote(segment) == campaign_id


@pytest.mark.parametrize(
    "campaign_id",
    ["XiQEBcj9cc5TFRB4", "camp-XiQEBcj9cc5TFRB4", "camp_XiQEBcj9cc5TFRB4"],
)
def test_plain_ids_are_not_altered(campaign_id: str) -> None:
    assert campaign_path(campaign_id) == PREFIX + campaign_id


@pytest.mark.parametrize(
    ("campaign_id", "match"),
    [
        ("", "blank"),
        (" ", "blank"),
        ("\t\n", "blank"),
        (" camp_1", "white space"),
        ("camp_1 ", "white space"),
        ("\u00a0camp_1", "white space"),
        ("camp_1\n", "white space"),
        ("a\r\nb", "control characters"),
        ("a\nb", "control characters"),
        ("a\rHost: evil", "control characters"),
        ("a\x00b", "control characters"),
        ("a\tb", "control characters"),
        ("a\x1bb", "control characters"),
        ("a\x7fb", "control characters"),
        ("x" * (MAX_CAMPAIGN_ID_LENGTH + 1), "the limit is 256"),
        ("x" * 10_240, "the limit is 256"),
        (".", "relative path"),
        ("..", "relative path"),
        (None, "must be a string, got NoneType"),
        (123, "must be a string, got int"),
        (b"camp_1", "must be a string, got bytes"),
        (["camp_1"], "must be a string, got list"),
    ],
)
def test_rejected_id_raises_a_clear_error(campaign_id: object, match: str) -> None:
    for check in (validate_campaign_id, campaign_path):
        with pytest.raises(SigmaMindInvalidInputError, match=match) as excinfo:
            check(campaign_id)
        message = str(excinfo.value)
        assert "campaign_id" in message
        # the message is safe to log: one short line, no raw control characters
        assert message.isprintable()
        assert len(message) < 300


def test_invalid_input_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="campaign_id"):
        campaign_path("..")


# -- SigmaMindConfig.from_connection: base URL ---------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "extra", "expected"),
    [
        (None, None, None, DEFAULT_BASE_URL),
        ("", None, None, DEFAULT_BASE_URL),
        ("   ", None, None, DEFAULT_BASE_URL),
        ("https://api.sigmamind.ai", None, None, "https://api.sigmamind.ai"),
        ("https://api.sigmamind.ai/", None, None, "https://api.sigmamind.ai"),
        ("https://api.sigmamind.ai///", None, None, "https://api.sigmamind.ai"),
        (" https://api.sigmamind.ai ", None, None, "https://api.sigmamind.ai"),
        ("https://proxy.example.com/sigmamind/", None, None, "https://proxy.example.com/sigmamind"),
        ("api.sigmamind.ai", None, None, "https://api.sigmamind.ai"),
        ("api.example.com:8443", None, None, "https://api.example.com:8443"),
        ("api.example.com", 8443, None, "https://api.example.com:8443"),
        ("https://api.example.com", 8443, None, "https://api.example.com:8443"),
        ("https://api.example.com/", 8443, None, "https://api.example.com:8443"),
        ("https://api.example.com:9000", 8443, None, "https://api.example.com:9000"),
        ("HTTPS://api.example.com", None, None, "https://api.example.com"),
        # plain http to loopback (the simulator)
        ("http://127.0.0.1:8080", None, None, "http://127.0.0.1:8080"),
        ("http://127.0.0.1", 8080, None, "http://127.0.0.1:8080"),
        ("http://127.1.2.3:8080/", None, None, "http://127.1.2.3:8080"),
        ("http://localhost:8080/", None, None, "http://localhost:8080"),
        ("http://LOCALHOST:8080", None, None, "http://LOCALHOST:8080"),
        ("http://[::1]:8080", None, None, "http://[::1]:8080"),
        ("http://[::1]", 8080, None, "http://[::1]:8080"),
        # plain http elsewhere only when asked for
        ("http://sim.internal:8080", None, {"allow_insecure_http": True}, "http://sim.internal:8080"),
        ("http://10.0.0.5", None, {"allow_insecure_http": "true"}, "http://10.0.0.5"),
    ],
)
def test_base_url(host: str | None, port: int | None, extra: dict[str, Any] | None, expected: str) -> None:
    config = SigmaMindConfig.from_connection(make_conn(host=host, port=port, extra=extra))
    # host names are case-insensitive; everything else must match exactly
    assert config.base_url.lower() == expected.lower()
    assert config.base_url.startswith(expected.split("://")[0] + "://")
    assert not config.base_url.endswith("/")


@pytest.mark.parametrize(
    ("host", "extra"),
    [
        ("http://api.sigmamind.ai", None),
        ("http://api.sigmamind.ai", {"allow_insecure_http": False}),
        ("http://api.sigmamind.ai", {"allow_insecure_http": ""}),
        ("http://api.sigmamind.ai", {"allow_insecure_http": 0}),
        ("http://localhost.evil.example", None),
        ("http://127.0.0.1.nip.io", None),
        ("http://10.0.0.5", None),
        ("http://0.0.0.0:8080", None),
    ],
)
def test_plain_http_to_other_hosts_is_rejected(host: str, extra: dict[str, Any] | None) -> None:
    err = config_error(make_conn(host=host, extra=extra))
    assert "plain http" in str(err)
    assert "allow_insecure_http" in str(err)


@pytest.mark.parametrize("flag", ["false", "False", "0", "no"])
def test_allow_insecure_http_false_strings_do_not_allow_http(flag: str) -> None:
    config_error(make_conn(host="http://api.sigmamind.ai", extra={"allow_insecure_http": flag}))


def test_allow_insecure_http_false_from_uri_does_not_allow_http() -> None:
    conn = connection_from_uri(
        f"sigmamind://:{KEY}@api.sigmamind.ai/?allow_insecure_http=false", conn_id="sigmamind_uri"
    )
    # Connection URIs carry no scheme for the host; rebuild it as plain http
    conn.host = "http://api.sigmamind.ai"
    config_error(conn)


@pytest.mark.parametrize(
    ("host", "match"),
    [
        ("ftp://api.sigmamind.ai", "scheme 'ftp'"),
        ("ws://api.sigmamind.ai", "scheme 'ws'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://127.0.0.1:70", "scheme 'gopher'"),
        ("https://", "has no host name"),
        ("https:///v1", "has no host name"),
        ("https://user:pw@api.sigmamind.ai", "must not carry credentials"),
        ("https://user@api.sigmamind.ai", "must not carry credentials"),
        (f"https://apikey:{KEY}@api.sigmamind.ai", "must not carry credentials"),
        (f"https://{KEY}@api.sigmamind.ai", "must not carry credentials"),
        ("https://api.sigmamind.ai?x=1", "a query"),
        (f"https://api.sigmamind.ai/?api_key={KEY}", "a query"),
        ("https://api.sigmamind.ai/#frag", "a fragment"),
    ],
)
def test_bad_base_urls_are_rejected(host: str, match: str) -> None:
    err = config_error(make_conn(host=host))
    assert match in str(err)


def test_credentials_in_a_host_without_name_are_not_echoed() -> None:
    err = config_error(make_conn(host="https://:hunter2-secret@"))
    assert "hunter2-secret" not in str(err)


@pytest.mark.parametrize("host", ["https://api.example.com:abc", "https://api.example.com:99999"])
def test_bad_port_in_host_is_rejected(host: str) -> None:
    config_error(make_conn(host=host))


def test_bad_port_in_host_with_port_field_is_an_invalid_input_error() -> None:
    config_error(make_conn(host="https://api.example.com:abc", port=8443))


# -- SigmaMindConfig.from_connection: API key ----------------------------------------------------


@pytest.mark.parametrize("password", [None, "", "   ", "\n\t "])
def test_missing_key_is_rejected(password: str | None) -> None:
    err = config_error(make_conn(password=password))
    assert "has no API key" in str(err)
    assert "API Key (password) field" in str(err)


@pytest.mark.parametrize(
    ("password", "match"),
    [
        (f"{KEY}\nX-Injected: 1", "white space, a line break"),
        ("canary KEY-9f3a", "white space, a line break"),
        (f"{KEY}\x00", "white space, a line break"),
        (f"{KEY}\x07", "white space, a line break"),
        (f"{KEY}-ключ", "outside ASCII"),
        (f"{KEY}-😀", "outside ASCII"),
        (f"{KEY}-\xe9", "outside ASCII"),
        (f"{KEY}\x7f", "control character"),
        ("abcd", "too short"),
        ("a", "too short"),
    ],
)
def test_bad_keys_are_rejected_without_quoting_them(password: str, match: str) -> None:
    err = config_error(make_conn(password=password))
    assert match in str(err)


def test_padded_key_is_stripped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_provider_sigmamind"):
        config = SigmaMindConfig.from_connection(make_conn(password=f"  {KEY}\t\n"))
    assert config.api_key == KEY
    warnings = [r for r in caplog.records if r.name.startswith("airflow_provider_sigmamind")]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "white space" in warnings[0].getMessage()
    assert "'sigmamind_test'" in warnings[0].getMessage()
    assert KEY not in caplog.text


def test_clean_key_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_sigmamind"):
        config = SigmaMindConfig.from_connection(make_conn())
    assert config.api_key == KEY
    assert not [r for r in caplog.records if r.name.startswith("airflow_provider_sigmamind")]


def test_punctuation_key_is_accepted() -> None:
    key = "sk_live-A1.b2~C3+d4/e5=f6!#$%&'*^`|"
    assert SigmaMindConfig.from_connection(make_conn(password=key)).api_key == key


def test_five_character_key_is_accepted() -> None:
    assert SigmaMindConfig.from_connection(make_conn(password="abcde")).api_key == "abcde"


# -- SigmaMindConfig.from_connection: timeout and max_retries -------------------------------------


@pytest.mark.parametrize(
    ("extra", "timeout", "max_retries"),
    [
        (None, DEFAULT_TIMEOUT, DEFAULT_MAX_RETRIES),
        ({}, DEFAULT_TIMEOUT, DEFAULT_MAX_RETRIES),
        ({"timeout": None, "max_retries": None}, DEFAULT_TIMEOUT, DEFAULT_MAX_RETRIES),
        ({"timeout": "", "max_retries": ""}, DEFAULT_TIMEOUT, DEFAULT_MAX_RETRIES),
        ({"timeout": 12, "max_retries": 2}, 12.0, 2),
        ({"timeout": 2.5, "max_retries": 0}, 2.5, 0),
        ({"timeout": "12", "max_retries": "2"}, 12.0, 2),
        ({"timeout": " 7.5 ", "max_retries": " 3 "}, 7.5, 3),
        ({"timeout": 0.001}, 0.001, DEFAULT_MAX_RETRIES),
        ({"max_retries": 3.0}, DEFAULT_TIMEOUT, 3),
        ({"max_retries": 100}, DEFAULT_TIMEOUT, 100),
        ({"unrelated": "x"}, DEFAULT_TIMEOUT, DEFAULT_MAX_RETRIES),
    ],
)
def test_timeout_and_max_retries_extras(extra: dict[str, Any] | None, timeout: float, max_retries: int) -> None:
    config = SigmaMindConfig.from_connection(make_conn(extra=extra))
    assert config.timeout == timeout
    assert config.max_retries == max_retries
    assert type(config.max_retries) is int


def test_extras_from_uri_form_are_parsed() -> None:
    conn = connection_from_uri(
        f"sigmamind://:{KEY}@api.example.com:8443/?timeout=7&max_retries=2", conn_id="sigmamind_uri"
    )
    assert conn.extra_dejson == {"timeout": "7", "max_retries": "2"}
    config = SigmaMindConfig.from_connection(conn)
    assert config == SigmaMindConfig(base_url="https://api.example.com:8443", api_key=KEY, timeout=7.0, max_retries=2)


@pytest.mark.parametrize(
    ("extra", "field", "match"),
    [
        ({"timeout": "abc"}, "timeout", "must be a number"),
        ({"timeout": "30s"}, "timeout", "must be a number"),
        ({"timeout": True}, "timeout", "must be a number"),
        ({"timeout": [30]}, "timeout", "must be a number"),
        ({"timeout": {"read": 30}}, "timeout", "must be a number"),
        ({"timeout": 0}, "timeout", "must be at least"),
        ({"timeout": "0"}, "timeout", "must be at least"),
        ({"timeout": -5}, "timeout", "must be at least"),
        ({"max_retries": "many"}, "max_retries", "must be a whole number"),
        ({"max_retries": "2.5"}, "max_retries", "must be a whole number"),
        ({"max_retries": 2.5}, "max_retries", "must be a whole number"),
        ({"max_retries": True}, "max_retries", "must be a whole number"),
        ({"max_retries": False}, "max_retries", "must be a whole number"),
        ({"max_retries": -1}, "max_retries", "must be at least 0"),
        ({"max_retries": "-1"}, "max_retries", "must be at least 0"),
    ],
)
def test_bad_numbers_name_the_field(extra: dict[str, Any], field: str, match: str) -> None:
    err = config_error(make_conn(extra=extra))
    assert repr(field) in str(err)
    assert match in str(err)


@pytest.mark.parametrize("value", ["nan", "NaN"])
def test_nan_timeout_is_rejected(value: str) -> None:
    err = config_error(make_conn(extra={"timeout": value}))
    assert "'timeout'" in str(err)


@pytest.mark.parametrize("extra", ["[1, 2]", '"timeout=5"', "5"])
def test_non_object_extra_is_an_invalid_input_error(extra: str) -> None:
    conn = make_conn()
    conn.extra = extra
    config_error(conn)


def test_constructor_overrides_win_over_extras() -> None:
    conn = make_conn(extra={"timeout": 99, "max_retries": 9})
    config = SigmaMindConfig.from_connection(conn, timeout=3, max_retries=0)
    assert config.timeout == 3
    assert config.max_retries == 0
    assert SigmaMindConfig.from_connection(conn, timeout=4).max_retries == 9
    assert SigmaMindConfig.from_connection(conn, max_retries=1).timeout == 99


def test_hook_applies_its_overrides_to_a_connection() -> None:
    hook = SigmaMindHook("sigmamind_test", timeout=5, max_retries=1)
    config = hook.config_from(make_conn(extra={"timeout": 99, "max_retries": 9}))
    assert (config.timeout, config.max_retries) == (5, 1)


@pytest.mark.parametrize("overrides", [{"timeout": 0}, {"timeout": -1}, {"max_retries": -1}])
def test_bad_constructor_overrides_are_rejected(overrides: dict[str, Any]) -> None:
    config_error(make_conn(), **overrides)


# -- the key never shows ---------------------------------------------------------------------------


def test_config_repr_hides_the_key() -> None:
    config = SigmaMindConfig.from_connection(make_conn())
    assert config.api_key == KEY
    assert KEY not in repr(config)
    assert KEY not in str(config)
    assert "api_key" not in repr(config)


def test_hook_repr_hides_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_REPR_TEST",
        json.dumps({"conn_type": "sigmamind", "host": "https://api.example.com", "password": KEY}),
    )
    hook = SigmaMindHook("sigmamind_repr_test", timeout=5)
    assert repr(hook) == "SigmaMindHook(sigmamind_conn_id='sigmamind_repr_test')"
    # after the connection has been read, too
    assert hook.config.api_key == KEY
    assert KEY not in repr(hook)
    assert KEY not in str(hook)
    assert KEY not in repr(hook.config)


def test_hook_init_does_no_lookup() -> None:
    hook = SigmaMindHook("no_such_connection_anywhere")
    assert hook.sigmamind_conn_id == "no_such_connection_anywhere"
    assert "config" not in vars(hook)


def test_hook_defaults() -> None:
    hook = SigmaMindHook()
    assert hook.sigmamind_conn_id == "sigmamind_default"
    assert SigmaMindHook.conn_type == "sigmamind"
    assert SigmaMindHook.conn_name_attr == "sigmamind_conn_id"


# -- SigmaMindHook.retry_policy_for ---------------------------------------------------------------

CONFIG = SigmaMindConfig(base_url="https://api.example.com", api_key=KEY, timeout=10, max_retries=4)


def test_retry_policy_from_the_connection() -> None:
    policy = SigmaMindHook("c").retry_policy_for(CONFIG)
    assert policy == RetryPolicy(max_retries=4)


def test_retry_policy_constructor_max_retries_wins_over_connection() -> None:
    conn = make_conn(extra={"max_retries": 4})
    assert SigmaMindHook("c", max_retries=0).config_from(conn).max_retries == 0
    assert SigmaMindHook("c", max_retries=7).config_from(conn).max_retries == 7


def test_a_given_retry_policy_is_used_whole() -> None:
    given = RetryPolicy(max_retries=10, backoff_initial=0.1, backoff_max=0.2, retry_after_max=3, deadline=5)
    conn = make_conn(extra={"max_retries": 4, "backoff_initial": 7})
    config = SigmaMindHook("c", retry_policy=given).config_from(conn)
    assert config.retry_policy == given
    assert config.max_retries == 10


def test_a_given_policy_without_a_count_takes_the_connections() -> None:
    given = RetryPolicy(backoff_initial=0, deadline=5)
    config = SigmaMindHook("c", retry_policy=given).config_from(make_conn(extra={"max_retries": 4, "deadline": 99}))
    assert (config.retry_policy.max_retries, config.retry_policy.deadline) == (4, 5)


def test_max_retries_argument_wins_over_a_given_policy() -> None:
    given = RetryPolicy(max_retries=10, deadline=5)
    config = SigmaMindHook("c", retry_policy=given, max_retries=1).config_from(make_conn())
    assert (config.retry_policy.max_retries, config.retry_policy.deadline) == (1, 5)
    assert given.max_retries == 10  # the caller's policy is left alone


def test_policy_extras_tune_the_backoff_in_both_forms() -> None:
    extra = {"backoff_initial": "0.5", "extra__sigmamind__backoff_max": 2, "deadline": 9, "max_retries": 1}
    policy = SigmaMindConfig.from_connection(make_conn(extra=extra)).retry_policy
    assert (policy.max_retries, policy.backoff_initial, policy.backoff_max, policy.deadline) == (1, 0.5, 2, 9)
    assert policy.retry_after_max == RetryPolicy().retry_after_max


@pytest.mark.parametrize(
    ("extra", "timeout", "max_retries"),
    [
        ({"extra__sigmamind__timeout": "7"}, 7, DEFAULT_MAX_RETRIES),
        ({"extra__sigmamind__timeout": "7", "timeout": 3}, 3, DEFAULT_MAX_RETRIES),
        ({"extra__sigmamind__max_retries": "0", "extra__sigmamind__timeout": ""}, DEFAULT_TIMEOUT, 0),
    ],
)
def test_older_forms_prefixed_extras_are_read(extra: dict[str, Any], timeout: float, max_retries: int) -> None:
    config = SigmaMindConfig.from_connection(make_conn(extra=extra))
    assert (config.timeout, config.max_retries) == (timeout, max_retries)


def test_bad_policy_extra_names_the_field() -> None:
    err = config_error(make_conn(extra={"backoff_max": "soon"}))
    assert "'backoff_max' must be a number" in str(err)


def test_ca_bundle_extra_must_be_a_file(tmp_path: Path) -> None:
    err = config_error(make_conn(extra={"ca_bundle": str(tmp_path / "missing.pem")}))
    assert "'ca_bundle'" in str(err)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert SigmaMindConfig.from_connection(make_conn(extra={"ca_bundle": str(bundle)})).ca_bundle == str(bundle)


# -- provider metadata ---------------------------------------------------------------------------


def provider_schema() -> dict[str, Any]:
    path = Path(airflow.__file__).parent / "provider_info.schema.json"
    with path.open() as f:
        return json.load(f)


def test_provider_info_validates_against_airflows_schema() -> None:
    info = get_provider_info()
    jsonschema.validate(info, provider_schema())
    assert info["package-name"] == "airflow-provider-sigmamind"
    json.dumps(info)  # plain JSON all the way down


def test_provider_info_connection_type() -> None:
    (conn_type,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "sigmamind"]
    assert conn_type["hook-class-name"] == "airflow_provider_sigmamind.hooks.sigmamind.SigmaMindHook"
    assert conn_type["hook-name"] == SigmaMindHook.hook_name
    behaviour = conn_type["ui-field-behaviour"]
    assert behaviour["relabeling"]["password"] == "API Key"
    assert "password" not in behaviour["hidden-fields"]
    assert "host" not in behaviour["hidden-fields"]
    fields = conn_type["conn-fields"]
    assert fields["timeout"]["schema"]["default"] == DEFAULT_TIMEOUT
    assert fields["max_retries"]["schema"]["default"] == DEFAULT_MAX_RETRIES
    for name in ("timeout", "max_retries"):
        assert fields[name]["label"]
        schema = fields[name]["schema"]
        # the default passes its own field schema
        jsonschema.validate(schema["default"], schema)


def test_provider_info_modules_exist() -> None:
    import importlib

    info = get_provider_info()
    module, _, cls = info["connection-types"][0]["hook-class-name"].rpartition(".")
    assert getattr(importlib.import_module(module), cls) is SigmaMindHook
    for entry in info["hooks"]:
        for mod in entry["python-modules"]:
            importlib.import_module(mod)


def test_batch_polling_is_a_yes_or_no_extra():
    def config(extra: dict[str, Any]) -> SigmaMindConfig:
        return SigmaMindConfig.from_connection(make_conn(extra=extra))

    assert config({"batch_polling": True}).batch_polling is True
    assert config({"batch_polling": "off"}).batch_polling is False
    assert config({}).batch_polling is False
    with pytest.raises(SigmaMindInvalidInputError, match="'batch_polling' must be true or false"):
        config({"batch_polling": "sometimes"})
