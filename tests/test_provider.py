"""The installed package as Airflow sees it: provider registry, connection form, CLI connection test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CANARY_API_KEY, connection_json


def test_airflow_discovers_the_provider_hook_and_form():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-sigmamind" in manager.providers
    hook = manager.hooks["sigmamind"]
    assert hook.hook_class_name == "airflow_provider_sigmamind.hooks.sigmamind.SigmaMindHook"
    assert hook.connection_id_attribute_name == "sigmamind_conn_id"
    behaviour = manager.field_behaviours["sigmamind"]
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API Key"}
    assert {"login", "schema", "port", "extra"} <= set(behaviour["hidden_fields"])


@pytest.mark.parametrize(
    ("api_key", "exit_code", "expected"),
    [(CANARY_API_KEY, 0, "Connection success!"), ("wrong-key-4242", 1, "rejected the API key")],
    ids=["canary-key", "wrong-key"],  # a parameter's value would put the key in the test's id
)
def test_airflow_connections_test_cli(simulator, api_key, exit_code, expected):
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
    assert result.returncode == exit_code, output
    assert expected in output
    assert api_key not in output
    assert len(simulator.requests) == 1
