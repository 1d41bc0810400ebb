"""Apache Airflow provider for SigmaMind AI outbound voice campaigns.

Needs Apache Airflow 2.11.0 or newer (:data:`MIN_AIRFLOW_VERSION`): on an older Airflow, importing
the package raises a ``RuntimeError`` naming the version needed, as the official providers do. The
check reads the installed distribution's version without importing Airflow, so the simulator
(:mod:`airflow_provider_sigmamind.simulator`) stays importable, and cheap, where Airflow is absent.
"""

from __future__ import annotations

__version__ = "0.2.0"

#: The oldest Apache Airflow this provider supports (each supported minor is tested: docs/compatibility.md).
MIN_AIRFLOW_VERSION = "2.11.0"

__all__ = ["MIN_AIRFLOW_VERSION", "__version__", "require_airflow"]


def require_airflow(airflow_version: str) -> None:
    """Raise ``RuntimeError`` when ``airflow_version`` is older than :data:`MIN_AIRFLOW_VERSION`.

    Pre-releases count as their release (``3.0.0rc1`` passes), as in the official providers' check.

    :param airflow_version: an Airflow version string, such as ``airflow.__version__``.
    :raises RuntimeError: naming the version needed and the one found.
    """
    from packaging.version import Version

    if Version(Version(airflow_version).base_version) < Version(MIN_AIRFLOW_VERSION):
        raise RuntimeError(
            f"The package `airflow-provider-sigmamind:{__version__}` needs Apache Airflow "
            f"{MIN_AIRFLOW_VERSION}+, but Airflow {airflow_version} is installed: upgrade Airflow, "
            "or use an airflow-provider-sigmamind release made for it."
        )


def _installed_airflow_version() -> str | None:
    """The installed Airflow's version from its distribution metadata, or ``None`` without Airflow."""
    from importlib.metadata import PackageNotFoundError, version

    for distribution in ("apache-airflow-core", "apache-airflow"):  # core holds `airflow` from 3.0 on
        try:
            return version(distribution)
        except PackageNotFoundError:
            continue
    return None


if (_found := _installed_airflow_version()) is not None:
    require_airflow(_found)
