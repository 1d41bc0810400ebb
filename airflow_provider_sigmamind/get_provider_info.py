"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_sigmamind import __version__
from airflow_provider_sigmamind.defaults import (
    CONN_TYPE,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
)

INTEGRATION = "SigmaMind AI"
_PKG = "airflow_provider_sigmamind"


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: its modules and the ``sigmamind`` connection form."""
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
        "operators": [{"integration-name": INTEGRATION, "python-modules": [f"{_PKG}.operators.campaign"]}],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": [f"{_PKG}.sensors.campaign"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": [f"{_PKG}.triggers.campaign"]}],
        "connection-types": [
            {
                "hook-class-name": f"{_PKG}.hooks.sigmamind.SigmaMindHook",
                "hook-name": "SigmaMind",
                "connection-type": CONN_TYPE,
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port", "extra"],
                    "relabeling": {"host": "Base URL", "password": "API Key"},
                    "placeholders": {"host": DEFAULT_BASE_URL, "password": "your SigmaMind API key"},
                },
                "conn-fields": {
                    "timeout": {
                        "label": "Timeout (seconds per request)",
                        "description": "Seconds allowed for one request, from connecting to the last byte.",
                        "schema": {"type": ["integer", "null"], "minimum": 1, "default": DEFAULT_TIMEOUT},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retries after the first attempt on timeouts, 429 and 5xx answers.",
                        "schema": {"type": ["integer", "null"], "minimum": 0, "default": DEFAULT_MAX_RETRIES},
                    },
                },
            }
        ],
    }
