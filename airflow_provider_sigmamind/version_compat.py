"""Which Airflow is running, as feature gates: ``AIRFLOW_V_3_1_PLUS`` and friends.

The same gates as the official providers' ``version_compat.py`` (a module of the provider's own, so
that no other provider's internals are imported for them). The package's ``__init__`` has already
checked the running Airflow against :data:`airflow_provider_sigmamind.MIN_AIRFLOW_VERSION`. What
each gate switches is listed in ``docs/compatibility.md``.
"""

from __future__ import annotations

from airflow import __version__ as _airflow_version
from packaging.version import Version

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
]

#: The running Airflow's release as (major, minor, micro), pre-release and local parts dropped.
AIRFLOW_VERSION: tuple[int, ...] = (*Version(_airflow_version).release, 0, 0)[:3]

#: The Task SDK (``airflow.sdk``), the API server and the React UI.
AIRFLOW_V_3_0_PLUS: bool = AIRFLOW_VERSION >= (3, 0, 0)
#: ``BaseHook.aget_connection`` and ``conf`` in ``airflow.sdk``.
AIRFLOW_V_3_1_PLUS: bool = AIRFLOW_VERSION >= (3, 1, 0)
#: The connection form read from ``get_provider_info()``'s ``conn-fields`` (no hook import).
AIRFLOW_V_3_2_PLUS: bool = AIRFLOW_VERSION >= (3, 2, 0)
#: The newest minor this provider is tested on.
AIRFLOW_V_3_3_PLUS: bool = AIRFLOW_VERSION >= (3, 3, 0)
