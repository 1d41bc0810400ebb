"""Defaults shared by the connection form, the hook and the docs. No imports: cheap to load."""

from __future__ import annotations

CONN_TYPE = "sigmamind"
DEFAULT_CONN_ID = "sigmamind_default"
DEFAULT_BASE_URL = "https://api.sigmamind.ai"
#: Seconds allowed for one request, connect to last byte (connection extra ``timeout``).
DEFAULT_TIMEOUT = 30
#: Retries after the first attempt (connection extra ``max_retries``).
DEFAULT_MAX_RETRIES = 5
#: Connect timeout ceiling; the per-request timeout bounds it further.
CONNECT_TIMEOUT = 10.0
#: Largest response body read, in bytes; a campaign is a few kilobytes.
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
