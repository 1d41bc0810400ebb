"""The ``sigmamind`` connection form, defined once for every Airflow version.

Airflow 3.2 and later read the form from :func:`~airflow_provider_sigmamind.get_provider_info.get_provider_info`
(its ``conn-fields`` and ``ui-field-behaviour``) without importing the hook. Airflow 2.11 to 3.1
call the hook's ``get_connection_form_widgets()`` and ``get_ui_field_behaviour()``, which build the
same form from the same definition (:data:`CONN_FIELDS`, :data:`UI_FIELD_BEHAVIOUR`) with
:func:`connection_form_widgets` and :func:`ui_field_behaviour`.

A form saves each extra field under its plain name (``timeout``), but connections made by hand after
``airflow providers widgets`` (or by older tools) may carry the prefixed key that command lists
(``extra__sigmamind__timeout``): :func:`connection_extra` reads both.

No Airflow import here: cheap to load, and usable where Airflow is absent.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from airflow_provider_sigmamind.defaults import CONN_TYPE, DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT

__all__ = [
    "CONN_FIELDS",
    "EXTRA_PREFIX",
    "UI_FIELD_BEHAVIOUR",
    "connection_extra",
    "connection_form_widgets",
    "ui_field_behaviour",
]

#: The prefix Airflow's forms put before an extra field's name in their own keys.
EXTRA_PREFIX = f"extra__{CONN_TYPE}__"

#: The form's extra fields, in ``get_provider_info()``'s ``conn-fields`` format (a JSON schema each).
CONN_FIELDS: dict[str, dict[str, Any]] = {
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
    "max_requests_per_second": {
        "label": "Max requests per second",
        "description": "The rate budget of this API key, shared by every task and trigger of a process; "
        "empty for no limit. A 429 slows the process down whatever is set here.",
        "schema": {"type": ["number", "null"], "minimum": 0.01},
    },
}

#: What a ``number`` field of the form accepts on Airflow 2.11 to 3.1, where it is a text field.
NUMBER_PATTERN = r"^\s*[0-9]+(\.[0-9]*)?\s*$|^\s*\.[0-9]+\s*$"

#: The standard fields' behaviour, in ``get_provider_info()``'s ``ui-field-behaviour`` format.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port", "extra"],
    "relabeling": {"host": "Base URL", "password": "API Key"},
    "placeholders": {"host": DEFAULT_BASE_URL, "password": "your SigmaMind API key"},
}


def ui_field_behaviour() -> dict[str, Any]:
    """:data:`UI_FIELD_BEHAVIOUR` as a hook's ``get_ui_field_behaviour()`` returns it (``hidden_fields``, ...)."""
    return {key.replace("-", "_"): copy.deepcopy(value) for key, value in UI_FIELD_BEHAVIOUR.items()}


def connection_form_widgets() -> dict[str, Any]:
    """:data:`CONN_FIELDS` as a hook's ``get_connection_form_widgets()`` returns them: WTForms fields.

    WTForms is imported here, when Airflow asks for the form, and only then (Airflow 2.11 ships it with
    its Flask UI; Airflow 3.0 and 3.1 read the form through it when it is installed, as with the FAB
    provider). Flask-AppBuilder's widgets style the fields when it is installed.

    :raises ImportError: without WTForms (Airflow then shows the form without these fields).
    """
    from wtforms import BooleanField, IntegerField, PasswordField, StringField
    from wtforms.validators import NumberRange, Optional, Regexp

    try:
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    except ImportError:
        BS3PasswordFieldWidget = BS3TextFieldWidget = None  # WTForms' own widgets then

    widgets: dict[str, Any] = {}
    for name, field in CONN_FIELDS.items():
        schema = field["schema"]
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        validators: list[Any] = [Optional()] if "null" in types else []
        widget_class = BS3TextFieldWidget
        if "integer" in types:
            field_class: Any = IntegerField
            if "minimum" in schema:
                validators.append(NumberRange(min=schema["minimum"]))
        elif "number" in types:
            # Text checked as a decimal: these forms accept no other field classes than these four
            # (a FloatField makes Airflow 2.11 to 3.1 drop the whole hook), and the minimum is the
            # connection's to check when it is read (SigmaMindConfig).
            field_class = StringField
            validators.append(Regexp(NUMBER_PATTERN, message="Not a number (such as 2.5)."))
        elif "boolean" in types:
            field_class, widget_class = BooleanField, None
        elif schema.get("format") == "password":
            field_class, widget_class = PasswordField, BS3PasswordFieldWidget
        else:
            field_class = StringField
        widgets[name] = field_class(
            label=field["label"],
            validators=validators,
            description=field["description"],
            default=schema.get("default"),
            widget=widget_class() if widget_class is not None else None,
        )
    return widgets


def connection_extra(extra: Mapping[str, Any], name: str) -> Any:
    """The connection extra ``name``, saved under its plain name or with the form's prefix.

    A value that is missing, ``None`` or ``""`` counts as not set. When both keys are set, the plain
    name wins (it is what the current forms save).

    :param extra: the connection's extra, decoded (``conn.extra_dejson``).
    :param name: the field's plain name, such as ``timeout``.
    :return: the value as stored (not converted), or ``None`` when neither key is set.
    """
    for key in (name, EXTRA_PREFIX + name):
        value = extra.get(key)
        if value is not None and value != "":
            return value
    return None
