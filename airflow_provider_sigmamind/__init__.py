"""Apache Airflow provider for SigmaMind AI outbound voice campaigns."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
