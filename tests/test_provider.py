"""The installed package as Airflow sees it: provider registry, connection form, CLI connection test,
and the API route behind the form's Test button. Run on every supported Airflow (``.ci/lane``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from airflow_provider_sigmamind.connection_form import CONN_FIELDS
from airflow_provider_sigmamind.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_2_PLUS, AIRFLOW_V_3_3_PLUS
from tests.helpers import CANARY_API_KEY, connection_json


def test_airflow_discovers_the_provider_hook_and_form():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-sigmamind" in manager.providers
    hook = manager.hooks["sigmamind"]
    assert hook.hook_class_name == "airflow_provider_sigmamind.hooks.sigmamind.SigmaMindHook"
    assert hook.connection_id_attribute_name == "sigmamind_conn_id"
    assert hook.connection_testable
    behaviour = manager.field_behaviours["sigmamind"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API Key"}
    assert {"login", "schema", "port", "extra"} <= set(behaviour["hidden_fields"])


def test_airflow_has_the_forms_extra_fields():
    """3.2+ from get_provider_info(); 2.11 to 3.1 from the hook (through WTForms, which they need for it)."""
    from airflow.providers_manager import ProvidersManager

    if not AIRFLOW_V_3_2_PLUS:
        pytest.importorskip("wtforms", reason="Airflow before 3.2 reads the hook's form through WTForms")
    widgets = ProvidersManager().connection_form_widgets
    for name, field in CONN_FIELDS.items():
        widget = widgets[f"extra__sigmamind__{name}"]
        assert widget.field_name == name  # the form saves the plain name
        assert widget.hook_class_name in ("SigmaMindHook", "airflow_provider_sigmamind.hooks.sigmamind.SigmaMindHook")
        if AIRFLOW_V_3_2_PLUS:
            assert widget.field["schema"]["title"] == field["label"]
        else:
            assert widget.field.kwargs["label"] == field["label"]


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 2.11's form is Flask's, built from the widgets above")
def test_the_ui_receives_the_extra_fields_with_their_schema():
    """What the React UI's connection form is built from (its ``/ui/connections/hook_meta`` answer),
    computed in a fresh process, as an API server does."""
    if not AIRFLOW_V_3_2_PLUS:
        pytest.importorskip("wtforms", reason="Airflow before 3.2 reads the hook's form through WTForms")
    code = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
(meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "sigmamind"]
print(json.dumps(meta.model_dump(mode="json")))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    meta = json.loads(result.stdout.strip().splitlines()[-1])
    assert meta["standard_fields"]["host"]["title"] == "Base URL"
    assert meta["standard_fields"]["password"]["title"] == "API Key"
    assert meta["standard_fields"]["login"]["hidden"]
    for name, field in CONN_FIELDS.items():
        schema = meta["extra_fields"][name]["schema"]
        assert schema["title"] == field["label"]
        expected = field["schema"]["type"]
        if not AIRFLOW_V_3_2_PLUS:  # from the hook's WTForms fields, where a number is text
            expected = [kind.replace("number", "string") for kind in expected]
        assert schema["type"] == expected
        assert meta["extra_fields"][name]["value"] == field["schema"].get("default")


@pytest.mark.parametrize(
    ("api_key", "succeeds", "expected"),
    [(CANARY_API_KEY, True, "Connection success!"), ("wrong-key-4242", False, "rejected the API key")],
    ids=["canary-key", "wrong-key"],  # a parameter's value would put the key in the test's id
)
def test_airflow_connections_test_cli(simulator, api_key, succeeds, expected):
    env = {
        **os.environ,
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT": connection_json(simulator.url, api_key=api_key),
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    result = subprocess.run(
        [airflow, "connections", "test", "sigmamind_default"], env=env, capture_output=True, text=True, timeout=120
    )
    output = result.stdout + result.stderr
    # Before 3.3 the command exits 0 after a failed test too; its output says which it was.
    assert result.returncode == (0 if succeeds or not AIRFLOW_V_3_3_PLUS else 1), output
    assert ("Connection success!" if succeeds else "Connection failed!") in output
    assert expected in output
    assert api_key not in output
    assert len(simulator.requests) == 1


@pytest.fixture(scope="module")
def test_button_route(airflow_db) -> Iterator[Callable[[dict[str, object]], tuple[int, dict[str, object]]]]:
    """POST a connection form's fields to the API route behind its Test button: this Airflow's API
    app, in-process, created once for the module (``[core] test_connection = Enabled``)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
        env.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
        env.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "test-button-" + "s" * 64)
        env.setenv("AIRFLOW__API_AUTH__JWT_ISSUER", "sigmamind-tests")  # 3.0 with today's PyJWT needs one
        env.setenv("AIRFLOW__API__AUTH_BACKENDS", "airflow.api.auth.backend.default")  # 2.11: no login
        if AIRFLOW_V_3_0_PLUS:
            from airflow.api_fastapi.app import create_app, get_auth_manager
            from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
            from fastapi.testclient import TestClient

            with TestClient(create_app("core")) as client:
                token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))

                def post(body: dict[str, object]) -> tuple[int, dict[str, object]]:
                    answer = client.post(
                        "/api/v2/connections/test", json=body, headers={"Authorization": f"Bearer {token}"}
                    )
                    return answer.status_code, answer.json()

                yield post
        else:
            from airflow.www.app import create_app  # Airflow 2.11: the Flask app and its REST API

            # Anyone is an Admin: the default auth backend lets the request in, the public role authorizes it.
            with create_app(config={"AUTH_ROLE_PUBLIC": "Admin"}, testing=True).test_client() as flask_client:

                def post(body: dict[str, object]) -> tuple[int, dict[str, object]]:
                    answer = flask_client.post("/api/v1/connections/test", json=body)
                    return answer.status_code, answer.get_json()

                yield post


@pytest.mark.parametrize(
    ("api_key", "succeeds", "expected"),
    [(CANARY_API_KEY, True, "the API key was accepted"), ("wrong-key-4242", False, "rejected the API key")],
    ids=["canary-key", "wrong-key"],
)
def test_the_test_button_route_reports_the_hooks_verdict(test_button_route, simulator, api_key, succeeds, expected):
    body = {
        "connection_id": "sigmamind_form",
        "conn_type": "sigmamind",
        "host": simulator.url,
        "password": api_key,
        "extra": '{"timeout": 5, "max_retries": 0}',  # what the form's two extra fields save
    }
    status, answer = test_button_route(body)
    assert status == 200, answer
    assert answer["status"] is succeeds, answer
    assert expected in str(answer["message"])
    assert api_key not in str(answer)
    assert len(simulator.requests) == 1
