"""Admin endpoints (``/_sim/...``) that let another process drive a running SigmaMind simulator.

No key is needed and only loopback peers are served. Admin requests are neither recorded nor faulted.

- ``GET /_sim/health``: ``{"status": "ok", ...stats}``
- ``GET /_sim/requests[?campaign_id=ID]``: the recorded requests as JSON
- ``POST /_sim/reset``
- ``POST /_sim/campaigns``: body = ``add_campaign`` keyword arguments; script faults as
  ``{"fault": "rate_limit", "retry_after": 2}``; an overrides value ``"$missing"`` removes that field;
  ``call_mix`` as in ``CallMix.from_dict`` (``{"generation": "newer", "outcomes": [...]}``)
- ``POST /_sim/campaigns/{id}/status``: ``{"status": "completed"}``
- ``POST /_sim/faults``: ``{"fault": kind, ...constructor arguments, "campaign_id": ..., "times": ...}``
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from airflow_provider_sigmamind.simulator.calls import CallMix
from airflow_provider_sigmamind.simulator.campaigns import MISSING, MISSING_JSON, ApiError, error_body
from airflow_provider_sigmamind.simulator.faults import Fault
from airflow_provider_sigmamind.simulator.protocol import Request, Response

if TYPE_CHECKING:
    from airflow_provider_sigmamind.simulator.server import SigmaMindSimulator

_ADD_CAMPAIGN_ARGS = frozenset(
    {
        "campaign_id",
        "name",
        "status",
        "live_after",
        "complete_after",
        "script",
        "errors",
        "overrides",
        "concurrent_calls",
        "calls",
        "call_mix",
    }
)


def admin_response(simulator: SigmaMindSimulator, request: Request, peer_host: str) -> Response:
    """Answer one admin request.

    :param simulator: the simulator to drive.
    :param request: the request.
    :param peer_host: the client's IP address.
    """
    raw_path, _, query_string = request.target.partition("?")
    path = unquote(raw_path)
    try:
        if not peer_host.startswith("127."):
            raise ApiError(403, "admin endpoints are for loopback clients only")
        body: Any = json.loads(request.body) if request.body.strip() else {}
        route = (request.method, path.rstrip("/"))
        if route == ("GET", "/_sim/health"):
            return _json(200, {"status": "ok", **simulator.stats})
        if route == ("GET", "/_sim/requests"):
            wanted = dict(parse_qsl(query_string)).get("campaign_id")
            records = simulator.requests if wanted is None else simulator.requests_for(wanted)
            return _json(200, [record.to_dict() for record in records])
        if route == ("POST", "/_sim/reset"):
            simulator.reset()
            return _json(200, {"reset": True})
        if route == ("POST", "/_sim/faults"):
            options = {key: body.pop(key) for key in ("campaign_id", "times") if key in body}
            simulator.inject(Fault.from_dict(body), **options)
            return _json(201, {"queued": True})
        if route == ("POST", "/_sim/campaigns"):
            return _json(201, simulator.add_campaign(**_campaign_kwargs(body)))
        parts = request.segments
        if request.method == "POST" and len(parts) == 5 and parts[:3] == ["", "_sim", "campaigns"]:
            campaign_id = parts[3]
            if parts[4] == "status" and isinstance(body.get("status"), str):
                simulator.set_status(campaign_id, body["status"])
                return _json(200, simulator.campaign(campaign_id))
        raise ApiError(404, "No such admin endpoint")
    except ApiError as exc:
        return Response(exc.status, error_body(exc.status, exc.message, path))
    except KeyError as exc:
        return Response(404, error_body(404, f"Unknown campaign {exc}", path))
    except (ValueError, TypeError, AttributeError) as exc:
        return Response(400, error_body(400, str(exc), path))


def _json(status: int, data: Any) -> Response:
    """Return a JSON response.

    :param status: the HTTP status.
    :param data: the JSON-ready data.
    """
    return Response(status, json.dumps(data).encode())


def _campaign_kwargs(body: Any) -> dict[str, Any]:
    """Turn an admin JSON body into ``add_campaign`` arguments (faults and ``$missing`` decoded).

    :param body: the decoded JSON object.
    """
    if not isinstance(body, dict) or not set(body) <= _ADD_CAMPAIGN_ARGS:
        raise ValueError(f"body must be an object with keys among {sorted(_ADD_CAMPAIGN_ARGS)}")
    kwargs = dict(body)
    if kwargs.get("script") is not None:
        kwargs["script"] = [Fault.from_dict(entry) if isinstance(entry, dict) else entry for entry in kwargs["script"]]
    if kwargs.get("call_mix") is not None:
        kwargs["call_mix"] = CallMix.from_dict(kwargs["call_mix"])
    if kwargs.get("overrides") is not None:
        kwargs["overrides"] = {
            key: MISSING if value == MISSING_JSON else value for key, value in kwargs["overrides"].items()
        }
    return kwargs
