"""Sphinx configuration for the airflow-provider-sigmamind documentation.

Build it with ``make docs`` (warnings are errors). Pages are Markdown (MyST); the API reference is
generated from the docstrings by autodoc; code samples are included from ``example_dags/`` between
their ``# [START x]`` / ``# [END x]`` markers, so they cannot drift from what the tests run.

Optional pages: a toctree line written ``?name`` is kept when the document ``name`` exists and is
dropped otherwise, so pages that other work adds (``performance``, ``reliability``, ...) join the
site by existing, and the build never fails for their absence.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import date
from pathlib import Path
from typing import Any

from airflow_provider_sigmamind import __version__

DOCS = Path(__file__).resolve().parent

project = "airflow-provider-sigmamind"
author = "airflow-provider-sigmamind maintainers"
copyright = f"{date.today().year}, {author}"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples", "img"]
# A reference page for a module that is not there yet (work in progress elsewhere) is left out.
_OPTIONAL_MODULE_PAGES = {
    "reference/triggers.md": "airflow_provider_sigmamind.triggers.campaign",
    "reference/contacts.md": "airflow_provider_sigmamind.contacts",
}


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


exclude_patterns += [page for page, module in _OPTIONAL_MODULE_PAGES.items() if not _module_exists(module)]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "separated"
autoclass_content = "class"

html_theme = "furo"
html_title = f"airflow-provider-sigmamind {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
pygments_style = "friendly"

_OPTIONAL_ENTRY = re.compile(r"^\?(?P<name>\S+)[ \t]*$", re.MULTILINE)


def _optional_toctree_entries(app: Any, docname: str, source: list[str]) -> None:
    """Keep a ``?name`` toctree line as ``name`` when that document exists; drop it otherwise."""
    base = docname.rpartition("/")[0]

    def keep_if_present(match: re.Match[str]) -> str:
        name = match["name"]
        target = f"{base}/{name}" if base else name
        return name if target in app.env.found_docs else ""

    source[0] = _OPTIONAL_ENTRY.sub(keep_if_present, source[0])


def setup(app: Any) -> dict[str, Any]:
    """Register the optional-toctree-entry hook."""
    app.connect("source-read", _optional_toctree_entries)
    return {"parallel_read_safe": True}
