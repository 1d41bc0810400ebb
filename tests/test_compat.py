"""Every supported Airflow: the version gate, the compatibility names, one connection form definition.

Run by the main suite and by every lane of ``.ci/lane`` (each with its own Airflow).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import airflow
import pytest
from packaging.version import Version

from airflow_provider_sigmamind import MIN_AIRFLOW_VERSION, require_airflow
from airflow_provider_sigmamind.connection_form import (
    CONN_FIELDS,
    UI_FIELD_BEHAVIOUR,
    connection_extra,
    ui_field_behaviour,
)
from airflow_provider_sigmamind.get_provider_info import get_provider_info
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook

RUNNING = Version(airflow.__version__).release


# -- the version gate ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.10.5", "2.9.0", "1.10.15", "2.10.5+astro.1"])
def test_an_airflow_older_than_2_11_is_refused_naming_the_version_needed(version):
    with pytest.raises(RuntimeError) as excinfo:
        require_airflow(version)
    message = str(excinfo.value)
    assert "needs Apache Airflow 2.11.0+" in message
    assert f"Airflow {version} is installed" in message


@pytest.mark.parametrize(
    "version", ["2.11.0", "2.11.0.dev0", "2.11.2", "3.0.0rc1", "3.0.6", "3.3.2", "3.4.0b1", "4.0.0"]
)
def test_supported_airflow_versions_pass_the_gate(version):
    require_airflow(version)


def test_the_gate_names_the_oldest_tested_minor():
    assert MIN_AIRFLOW_VERSION == "2.11.0"


def test_importing_the_package_on_an_old_airflow_fails_at_once(tmp_path):
    """A real import: the installed Airflow's metadata says 2.10.5 (the package is not touched)."""
    for name in ("apache_airflow_core-2.10.5.dist-info", "apache_airflow-2.10.5.dist-info"):
        meta = tmp_path / name
        meta.mkdir()
        dist = name.split("-")[0].replace("_", "-")
        (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 2.10.5\n")
    result = subprocess.run(
        [sys.executable, "-c", "import airflow_provider_sigmamind"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "RuntimeError: The package `airflow-provider-sigmamind:" in result.stderr
    assert "needs Apache Airflow 2.11.0+, but Airflow 2.10.5 is installed" in result.stderr


def test_the_feature_gates_match_the_running_airflow():
    from airflow_provider_sigmamind import version_compat

    assert RUNNING[:3] == version_compat.AIRFLOW_VERSION
    assert (RUNNING >= (3, 0)) == version_compat.AIRFLOW_V_3_0_PLUS
    assert (RUNNING >= (3, 1)) == version_compat.AIRFLOW_V_3_1_PLUS
    assert (RUNNING >= (3, 2)) == version_compat.AIRFLOW_V_3_2_PLUS
    assert (RUNNING >= (3, 3)) == version_compat.AIRFLOW_V_3_3_PLUS


# -- the names the provider uses, on this Airflow -------------------------------------------------


def test_every_compat_name_resolves_on_this_airflow():
    from airflow_provider_sigmamind import compat

    for name in compat.__all__:
        assert getattr(compat, name) is not None, name
    assert issubclass(compat.AirflowFailException, compat.AirflowException)
    assert issubclass(compat.AirflowSkipException, compat.AirflowException)
    assert issubclass(compat.BaseSensorOperator, compat.BaseOperator)
    assert compat.PokeReturnValue(is_done=True, xcom_value=1).xcom_value == 1
    assert compat.conf.get("core", "dags_folder")


def test_the_provider_classes_sit_on_this_airflows_bases():
    from airflow_provider_sigmamind import compat
    from airflow_provider_sigmamind.exceptions import SigmaMindCampaignStatusError, SigmaMindError
    from airflow_provider_sigmamind.operators.campaign import GetCampaignOperator
    from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor
    from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger

    # The classes Airflow itself checks against on this version (the SDK's on 3.x, the old ones on 2.11).
    homes = {
        "BaseHook": ("airflow.sdk", "airflow.hooks.base"),
        "BaseOperator": ("airflow.sdk", "airflow.models.baseoperator"),
        "BaseSensorOperator": ("airflow.sdk", "airflow.sensors.base"),
    }
    for name, modules in homes.items():
        expected = next(
            getattr(module, name)
            for module in map(_import_or_none, modules)
            if module is not None and hasattr(module, name)
        )
        assert getattr(compat, name) is expected, name
    assert issubclass(SigmaMindHook, compat.BaseHook)
    assert issubclass(GetCampaignOperator, compat.BaseOperator)
    assert issubclass(CampaignStatusSensor, compat.BaseSensorOperator)
    assert issubclass(CampaignStatusTrigger, compat.BaseTrigger)
    assert issubclass(SigmaMindError, compat.AirflowException)
    assert issubclass(SigmaMindCampaignStatusError, compat.AirflowFailException)


def _import_or_none(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def test_importing_the_exceptions_imports_no_more_than_airflows_own_exceptions():
    """The compatibility names are looked up on first use: the exceptions module does not pull in the
    operator, sensor and trigger base classes (beyond what this Airflow's own exceptions import)."""
    heavy = ("airflow.models.baseoperator", "airflow.sdk.bases.sensor", "airflow.sensors.base", "airflow.triggers.base")

    def loaded_after(statement: str) -> set[str]:
        code = f"import sys\n{statement}\nprint(','.join(m for m in {heavy!r} if m in sys.modules))\n"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        return set(filter(None, result.stdout.strip().split(",")))

    airflows_own = loaded_after(
        "from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException"
    )
    assert loaded_after("import airflow_provider_sigmamind.exceptions") <= airflows_own


# -- one connection form, read by every version ---------------------------------------------------


def test_provider_info_carries_the_one_form_definition():
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["conn-fields"] == CONN_FIELDS
    assert conn_type["ui-field-behaviour"] == UI_FIELD_BEHAVIOUR


def test_the_hook_form_is_the_same_definition_in_the_hook_api_spelling():
    behaviour = SigmaMindHook.get_ui_field_behaviour()
    assert behaviour == {
        "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
        "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
        "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
    }
    behaviour["relabeling"]["host"] = "changed"  # a copy: a caller cannot change the definition
    assert ui_field_behaviour()["relabeling"]["host"] == "Base URL"


def test_the_hook_form_widgets_are_built_from_conn_fields():
    pytest.importorskip("wtforms")
    widgets = SigmaMindHook.get_connection_form_widgets()
    assert set(widgets) == set(CONN_FIELDS)
    for name, widget in widgets.items():
        schema = CONN_FIELDS[name]["schema"]
        # The only classes Airflow 2.11 to 3.1 accept: another one makes them drop the whole hook.
        kind = "IntegerField" if "integer" in schema["type"] else "StringField"
        assert widget.field_class.__name__ == kind
        assert widget.kwargs["label"] == CONN_FIELDS[name]["label"]
        assert widget.kwargs["description"] == CONN_FIELDS[name]["description"]
        assert widget.kwargs["default"] == schema.get("default")
        if kind == "IntegerField":
            (minimum,) = [v.min for v in widget.kwargs["validators"] if hasattr(v, "min")]
            assert minimum == schema["minimum"]


@pytest.mark.parametrize(
    ("typed", "valid"),
    [("2.5", True), ("20", True), (".5", True), ("", True), ("abc", False), ("-1", False), ("1e3", False)],
)
def test_the_number_field_of_an_older_form_accepts_decimals_only(typed, valid):
    wtforms = pytest.importorskip("wtforms")

    class Posted(dict):  # the form data as a browser posts it (WTForms reads it with getlist)
        def getlist(self, key: str) -> list[str]:
            return [self[key]] if key in self else []

    form_class = type("Form", (wtforms.Form,), SigmaMindHook.get_connection_form_widgets())
    form = form_class(Posted(max_requests_per_second=typed))
    form.validate()
    assert ("max_requests_per_second" not in form.errors) is valid, form.errors


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"timeout": 7}, 7),
        ({"extra__sigmamind__timeout": "7"}, "7"),  # what older forms and `airflow providers widgets` name it
        ({"timeout": 9, "extra__sigmamind__timeout": "7"}, 9),  # the plain name wins
        ({"timeout": "", "extra__sigmamind__timeout": "7"}, "7"),  # an empty field is not set
        ({"timeout": None, "extra__sigmamind__timeout": 7}, 7),
        ({"timeout": 0}, 0),  # zero is a value (the hook rejects it with a clear message)
        ({"extra__sigmamind__timeout": ""}, None),
        ({}, None),
        ({"extra__other__timeout": 7, "max_retries": 2}, None),  # another type's field, another field
    ],
)
def test_connection_extra_reads_both_spellings(extra, expected):
    assert connection_extra(extra, "timeout") == expected


def test_connection_extra_reads_any_field_name():
    extra = {"extra__sigmamind__max_retries": 0, "allow_insecure_http": True}
    assert connection_extra(extra, "max_retries") == 0
    assert connection_extra(extra, "allow_insecure_http") is True


def test_the_form_definition_imports_nothing_of_airflow():
    code = "import sys, airflow_provider_sigmamind.connection_form\nprint('airflow' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_the_checkout_or_the_wheel_is_what_is_tested():
    """In a lane the package comes from the wheel in the lane's venv; in `make test` from the checkout."""
    import airflow_provider_sigmamind

    location = Path(airflow_provider_sigmamind.__file__).resolve()
    if os.environ.get("SIGMAMIND_LANE_VENV"):
        assert location.is_relative_to(Path(os.environ["SIGMAMIND_LANE_VENV"]).resolve())
    else:
        assert location.parent.parent == Path(__file__).resolve().parent.parent
