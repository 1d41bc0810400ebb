"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

import copy
from typing import Any

from airflow_provider_sigmamind import __version__
from airflow_provider_sigmamind.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_sigmamind.defaults import CONN_TYPE

INTEGRATION = "SigmaMind AI"
_PKG = "airflow_provider_sigmamind"
_ASSET_URIS = {
    "schemes": ["sigmamind"],
    "handler": f"{_PKG}.assets.sanitize_uri",
    "factory": f"{_PKG}.assets.create_asset",
    "to_openlineage_converter": f"{_PKG}.assets.convert_asset_to_openlineage",
}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: its modules and the ``sigmamind`` connection form (read by Airflow 3.2+)."""
    return {
        "package-name": "airflow-provider-sigmamind",
        "name": INTEGRATION,
        "description": "Create, update, list and fetch SigmaMind AI voice campaigns; wait until live or complete.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.sigmamind.ai",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": [f"{_PKG}.hooks.sigmamind"]}],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [f"{_PKG}.operators.campaign", f"{_PKG}.operators.calls"],
            }
        ],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": [f"{_PKG}.sensors.campaign"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": [f"{_PKG}.triggers.campaign"]}],
        # The sigmamind://campaigns/<id> assets (airflow_provider_sigmamind.assets); "dataset-uris" for Airflow 2.
        "asset-uris": [_ASSET_URIS],
        "dataset-uris": [_ASSET_URIS],
        "connection-types": [
            {
                "hook-class-name": f"{_PKG}.hooks.sigmamind.SigmaMindHook",
                "hook-name": "SigmaMind",
                "connection-type": CONN_TYPE,
                # One definition for every Airflow version (the hook builds the pre-3.2 form from it).
                "ui-field-behaviour": copy.deepcopy(UI_FIELD_BEHAVIOUR),
                "conn-fields": copy.deepcopy(CONN_FIELDS),
            }
        ],
    }
