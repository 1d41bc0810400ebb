"""The simulator as an HTTP server: auth, routing, faults, scripts, clock, recording, lifecycle."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import requests

from airflow_provider_sigmamind.simulator import (
    DEFAULT_API_KEY,
    MISSING,
    Fault,
    SigmaMindSimulator,
)
from tests.simulator.helpers import FakeClock

ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CAMPAIGN_KEYS = {
    "campaignId",
    "campaignName",
    "campaignStatus",
    "scheduledDate",
    "concurrentCalls",
    "agent",
    "phoneNumber",
    "errors",
    "scheduled",
}


def raw_get(sim: SigmaMindSimulator, target: str, key: str | None = DEFAULT_API_KEY) -> int:
    """Send a GET with the target exactly as given (no client normalisation); return the status."""
    connection = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
    try:
        connection.request("GET", target, headers={"X-API-Key": key} if key else {})
        return connection.getresponse().status
    finally:
        connection.close()


# -- auth, routing, payload -----------------------------------------------------------------------


def test_wrong_or_missing_key_gets_401_error_shape(sigmamind_simulator: SigmaMindSimulator) -> None:
    sim = sigmamind_simulator
    sim.add_campaign("camp_A")
    wrong = requests.get(f"{sim.url}/v1/campaigns/camp_A", headers={"X-API-Key": "nope"}, timeout=5)
    missing = requests.get(f"{sim.url}/v1/campaigns/camp_A", timeout=5)
    assert (wrong.status_code, missing.status_code) == (401, 401)
    body = wrong.json()
    assert set(body) == {"error", "message", "path", "status", "timestamp"}
    assert (body["error"], body["status"], body["path"]) == ("Unauthorized", 401, "/v1/campaigns/camp_A")
    assert ISO_MS_Z.fullmatch(body["timestamp"])
    assert [(r.authorized, r.api_key_sent, r.status) for r in sim.requests] == [
        (False, True, 401),
        (False, False, 401),
    ]


def test_get_serves_documented_shape(sigmamind_simulator: SigmaMindSimulator, api: requests.Session) -> None:
    added = sigmamind_simulator.add_campaign(name="Q4", errors=["Row 7: invalid phone number '+1234'"])
    response = api.get(f"{sigmamind_simulator.url}/v1/campaigns/{added['campaignId']}", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body == added
    assert set(body) == CAMPAIGN_KEYS
    assert re.fullmatch(r"camp_[A-Za-z0-9]{16}", body["campaignId"])
    assert (body["campaignStatus"], body["scheduledDate"], body["scheduled"]) == ("live", None, False)
    assert body["errors"] == ["Row 7: invalid phone number '+1234'"]
    assert set(body["agent"]) == {"name", "agentId", "status"}
    assert body["phoneNumber"]["sipPhoneNumber"].startswith("+")


@pytest.mark.parametrize(
    "target",
    ["/v1/campaigns/unknown", "/v1/campaigns/camp_A/extra", "/v1/campaigns/camp_A/", "/v2/campaigns/camp_A"],
)
def test_unknown_campaign_or_extra_segments_get_404(sigmamind_simulator: SigmaMindSimulator, target: str) -> None:
    sigmamind_simulator.add_campaign("camp_A")
    assert raw_get(sigmamind_simulator, target) == 404
    assert raw_get(sigmamind_simulator, "/v1/campaigns/camp_A") == 200


def test_encoded_ids_are_decoded_and_raw_path_kept(sigmamind_simulator: SigmaMindSimulator) -> None:
    sim = sigmamind_simulator
    sim.add_campaign("a/b")
    assert raw_get(sim, "/v1/campaigns/a%2Fb") == 200
    assert raw_get(sim, "/v1/campaigns/%2e%2e") == 404
    first, second = sim.requests
    assert (first.raw_path, first.path, first.campaign_id) == ("/v1/campaigns/a%2Fb", "/v1/campaigns/a/b", "a/b")
    assert (second.raw_path, second.campaign_id) == ("/v1/campaigns/%2e%2e", "..")
    assert [r.raw_path for r in sim.requests_for("a/b")] == ["/v1/campaigns/a%2Fb"]


def test_api_key_is_never_recorded(sigmamind_simulator_factory) -> None:
    key = "k3y-that-must-not-leak-0123456789"
    sim = sigmamind_simulator_factory(api_key=key)
    sim.add_campaign("camp_A")
    response = requests.get(
        f"{sim.url}/v1/campaigns/camp_A?x=1", headers={"X-API-Key": key, "X-Trace": "t1"}, timeout=5
    )
    assert response.status_code == 200
    (record,) = sim.requests
    assert record.authorized
    assert record.api_key_sent
    assert record.headers["x-trace"] == "t1"
    assert "x-api-key" not in record.headers
    assert record.query == {"x": "1"}
    assert key not in repr(sim.requests)
    assert key not in repr(sim)
    admin_view = requests.get(f"{sim.url}/_sim/requests", timeout=5)
    assert admin_view.status_code == 200
    assert "t1" in admin_view.text
    assert key not in admin_view.text


def test_keep_alive_reuses_one_connection(sigmamind_simulator: SigmaMindSimulator, api: requests.Session) -> None:
    sigmamind_simulator.add_campaign("camp_A")
    statuses = [api.get(f"{sigmamind_simulator.url}/v1/campaigns/camp_A", timeout=5).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert sigmamind_simulator.stats["total_connections"] == 1
    assert sigmamind_simulator.stats["total_requests"] == 5


def test_chunked_request_body_is_read(sigmamind_simulator: SigmaMindSimulator) -> None:
    sim = sigmamind_simulator
    sim.add_campaign("camp_A", name="Before")
    body = iter([b'{"campaignName"', b': "After"}'])  # an iterator makes httpx send it chunked
    response = httpx.patch(f"{sim.url}/v1/campaigns/camp_A", content=body, headers={"X-API-Key": sim.api_key})
    assert response.status_code == 200
    assert sim.requests[0].headers["transfer-encoding"] == "chunked"
    assert sim.campaign("camp_A")["campaignName"] == "After"


def test_unparseable_request_gets_400_and_close(sigmamind_simulator: SigmaMindSimulator) -> None:
    with socket.create_connection((sigmamind_simulator.host, sigmamind_simulator.port), timeout=5) as sock:
        sock.sendall(b"NOT A REQUEST\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in reply


# -- faults ---------------------------------------------------------------------------------------


def get_a(sim: SigmaMindSimulator, **kwargs) -> requests.Response:
    """GET campaign camp_A with the right key and redirects off."""
    return requests.get(
        f"{sim.url}/v1/campaigns/camp_A",
        headers={"X-API-Key": sim.api_key},
        allow_redirects=False,
        timeout=kwargs.pop("timeout", 5),
        **kwargs,
    )


@pytest.fixture
def sim(sigmamind_simulator: SigmaMindSimulator) -> SigmaMindSimulator:
    """A simulator holding campaign camp_A."""
    sigmamind_simulator.add_campaign("camp_A")
    return sigmamind_simulator


def test_status_fault_with_body_and_headers(sim: SigmaMindSimulator) -> None:
    sim.inject(Fault.status(418, body={"teapot": True}, headers={"X-Why": "tea"}))
    response = get_a(sim)
    assert (response.status_code, response.json(), response.headers["X-Why"]) == (418, {"teapot": True}, "tea")
    assert sim.requests[0].fault == "status"
    assert get_a(sim).status_code == 200  # times=1: used up


def test_status_fault_default_body_is_error_shape(sim: SigmaMindSimulator) -> None:
    sim.inject(Fault.status(409))
    body = get_a(sim).json()
    assert (body["status"], body["error"], body["path"]) == (409, "Conflict", "/v1/campaigns/camp_A")


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [
        (7, "7"),
        (2.0, "2"),
        (0.5, "0.5"),
        ("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("soon-ish", "soon-ish"),
        (None, None),
    ],
)
def test_rate_limit_fault(sim: SigmaMindSimulator, retry_after: object, header: str | None) -> None:
    sim.inject(Fault.rate_limit(retry_after))  # type: ignore[arg-type]
    response = get_a(sim)
    assert response.status_code == 429
    assert response.headers.get("Retry-After") == header
    assert response.json()["error"] == "Too Many Requests"


def test_server_error_fault_then_recovery(sim: SigmaMindSimulator) -> None:
    sim.inject(Fault.server_error(), times=2)
    assert [get_a(sim).status_code for _ in range(3)] == [503, 503, 200]
    assert [r.fault for r in sim.requests] == ["server_error", "server_error", None]


def test_slow_fault_delays_then_answers(sim: SigmaMindSimulator) -> None:
    sim.inject(Fault.slow(0.3))
    with pytest.raises(requests.ReadTimeout):
        get_a(sim, timeout=0.05)
    sim.inject(Fault.slow(0.1, then=Fault.server_error(502)))
    started = time.monotonic()
    response = get_a(sim)
    assert response.status_code == 502
    assert time.monotonic() - started >= 0.1


def test_drop_fault_closes_without_response(sim: SigmaMindSimulator) -> None:
    sim.inject(Fault.drop())
    with pytest.raises(requests.ConnectionError):
        get_a(sim)
    assert (sim.requests[0].status, sim.requests[0].fault) == (None, "drop")
    assert get_a(sim).status_code == 200


def test_reset_mid_body_processes_request_but_cuts_response(sim: SigmaMindSimulator) -> None:
    sim.inject(Fault.reset_mid_body())
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.patch(
            f"{sim.url}/v1/campaigns/camp_A",
            json={"campaignName": "Renamed"},
            headers={"X-API-Key": sim.api_key},
            timeout=5,
        )
    assert sim.campaign("camp_A")["campaignName"] == "Renamed"
    assert sim.requests[0].status == 200


def test_trickle_fault_sends_one_byte_per_interval(sim: SigmaMindSimulator) -> None:
    sim.inject(Fault.trickle(0.02))
    with httpx.stream(
        "GET", f"{sim.url}/v1/campaigns/camp_A", headers={"X-API-Key": sim.api_key}, timeout=5
    ) as response:
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == 100_000  # more than is ever sent
        chunks = []
        for chunk in response.iter_raw():
            chunks.append(chunk)
            if len(chunks) == 3:
                break
    assert [len(chunk) for chunk in chunks] == [1, 1, 1]
    assert b"".join(chunks) == b'{"c'


@pytest.mark.parametrize("kind", ["html", "empty", "truncated", "array", "scalar", "not_json"])
def test_malformed_fault_is_200_without_a_campaign_object(sim: SigmaMindSimulator, kind: str) -> None:
    sim.inject(Fault.malformed(kind))
    response = get_a(sim)
    assert response.status_code == 200
    expected_type = "text/html" if kind == "html" else "application/json"
    assert response.headers["Content-Type"] == expected_type
    try:
        decoded = json.loads(response.content)
    except ValueError:
        decoded = None
    assert not isinstance(decoded, dict)
    assert (decoded is None) == (kind in ("html", "empty", "truncated", "not_json"))


def test_body_fault_serves_exact_bytes(sim: SigmaMindSimulator) -> None:
    sim.inject(Fault.body(b"<x>1</x>", content_type="application/xml", status=202))
    response = get_a(sim)
    assert (response.status_code, response.content, response.headers["Content-Type"]) == (
        202,
        b"<x>1</x>",
        "application/xml",
    )


def test_huge_fault_streams_exact_size(sim: SigmaMindSimulator) -> None:
    size = 3 * 1024 * 1024 + 7
    sim.inject(Fault.huge(size))
    response = get_a(sim)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content) == size
    assert json.loads(response.content)["campaignId"] == "camp_huge"
    assert get_a(sim).status_code == 200  # the connection stays usable


def test_redirect_fault_is_not_followed(sim: SigmaMindSimulator) -> None:
    sim.inject(Fault.redirect("http://evil.example/steal", code=307))
    response = get_a(sim)
    assert (response.status_code, response.headers["Location"]) == (307, "http://evil.example/steal")
    assert len(sim.requests) == 1


def test_fault_scoped_to_campaign_and_forever(sim: SigmaMindSimulator) -> None:
    sim.add_campaign("camp_B")
    sim.inject(Fault.server_error(500), campaign_id="camp_B", times=None)
    statuses = [get_a(sim).status_code]
    statuses += [
        requests.get(f"{sim.url}/v1/campaigns/camp_B", headers={"X-API-Key": sim.api_key}, timeout=5).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 500, 500, 500]
    sim.clear_faults()
    assert (
        requests.get(f"{sim.url}/v1/campaigns/camp_B", headers={"X-API-Key": sim.api_key}, timeout=5).status_code == 200
    )


def test_faults_serve_in_queue_order(sim: SigmaMindSimulator) -> None:
    sim.inject(Fault.rate_limit(), times=2)
    sim.inject(Fault.server_error(500))
    assert [get_a(sim).status_code for _ in range(4)] == [429, 429, 500, 200]


@pytest.mark.parametrize(
    "build",
    [
        lambda: Fault.status(99),
        lambda: Fault.server_error(404),
        lambda: Fault.malformed("xml"),
        lambda: Fault.redirect("http://x/\r\nSet-Cookie: a=b"),
        lambda: Fault.status(200, headers={"X-A": "1\r\n2"}),
        lambda: Fault.slow(-1),
        lambda: Fault.trickle(0),
        lambda: Fault.huge(-1),
        lambda: Fault.from_dict({"fault": "explode"}),
        lambda: Fault.from_dict({"fault": "drop", "extra": 1}),
    ],
)
def test_bad_fault_arguments_are_refused(build) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        build()


def test_fault_from_dict_builds_nested_slow() -> None:
    fault = Fault.from_dict({"fault": "slow", "delay": 1.5, "then": {"fault": "rate_limit", "retry_after": 3}})
    assert fault == Fault.slow(1.5, then=Fault.rate_limit(3))


# -- scripts and the clock ------------------------------------------------------------------------


def statuses_of(sim: SigmaMindSimulator, campaign_id: str, count: int) -> list[object]:
    """GET a campaign ``count`` times; return each campaignStatus, or the HTTP status when not 200."""
    out: list[object] = []
    for _ in range(count):
        response = requests.get(f"{sim.url}/v1/campaigns/{campaign_id}", headers={"X-API-Key": sim.api_key}, timeout=5)
        out.append(response.json()["campaignStatus"] if response.status_code == 200 else response.status_code)
    return out


def test_script_serves_entries_in_order_and_repeats_last(sigmamind_simulator: SigmaMindSimulator) -> None:
    sim = sigmamind_simulator
    sim.add_campaign("camp_S", script=["scheduled", Fault.server_error(), "live", "archived"])
    assert sim.campaign("camp_S")["campaignStatus"] == "scheduled"  # peeking consumes nothing
    assert statuses_of(sim, "camp_S", 6) == ["scheduled", 503, "live", "archived", "archived", "archived"]
    assert sim.campaign("camp_S")["campaignStatus"] == "archived"


def test_injected_fault_wins_over_script_without_consuming(sigmamind_simulator: SigmaMindSimulator) -> None:
    sim = sigmamind_simulator
    sim.add_campaign("camp_S", script=["scheduled", "live"])
    sim.inject(Fault.rate_limit(), campaign_id="camp_S")
    assert statuses_of(sim, "camp_S", 4) == [429, "scheduled", "live", "live"]


def test_timeline_follows_the_clock(sigmamind_simulator_factory, clock: FakeClock) -> None:
    sim = sigmamind_simulator_factory(clock=clock)
    before = datetime.now(UTC)
    added = sim.add_campaign("camp_T", live_after=10, complete_after=20)
    assert (added["campaignStatus"], added["scheduled"]) == ("scheduled", True)
    assert ISO_MS_Z.fullmatch(added["scheduledDate"])
    launch = datetime.strptime(added["scheduledDate"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert before + timedelta(seconds=9) <= launch <= datetime.now(UTC) + timedelta(seconds=11)
    seen = statuses_of(sim, "camp_T", 1)
    clock.advance(9.999)
    seen += statuses_of(sim, "camp_T", 1)
    clock.advance(0.001)
    seen += statuses_of(sim, "camp_T", 1)
    clock.advance(10)
    seen += statuses_of(sim, "camp_T", 1)
    assert seen == ["scheduled", "scheduled", "live", "completed"]
    assert [r.started_at for r in sim.requests] == pytest.approx([1000.0, 1009.999, 1010.0, 1020.0])


def test_complete_after_alone_starts_live(sigmamind_simulator_factory, clock: FakeClock) -> None:
    sim = sigmamind_simulator_factory(clock=clock)
    added = sim.add_campaign("camp_T", complete_after=5)
    assert (added["campaignStatus"], added["scheduledDate"], added["scheduled"]) == ("live", None, False)
    clock.advance(5)
    assert sim.campaign("camp_T")["campaignStatus"] == "completed"


def test_set_status_pins_and_remove_gives_404(sigmamind_simulator: SigmaMindSimulator) -> None:
    sim = sigmamind_simulator
    sim.add_campaign("camp_A", live_after=100)
    sim.set_status("camp_A", "paused")
    assert statuses_of(sim, "camp_A", 1) == ["paused"]
    sim.remove_campaign("camp_A")
    assert statuses_of(sim, "camp_A", 1) == [404]
    with pytest.raises(KeyError):
        sim.set_status("camp_A", "live")
    sim.add_campaign("camp_B")
    with pytest.raises(ValueError, match="already exists"):
        sim.add_campaign("camp_B")


def test_overrides_serve_drift(sigmamind_simulator: SigmaMindSimulator) -> None:
    sim = sigmamind_simulator
    sim.add_campaign(
        "camp_D", overrides={"errors": None, "phoneNumber": "Object", "campaignStatus": MISSING, "newField": 1}
    )
    body = requests.get(f"{sim.url}/v1/campaigns/camp_D", headers={"X-API-Key": sim.api_key}, timeout=5).json()
    assert "campaignStatus" not in body
    assert (body["errors"], body["phoneNumber"], body["newField"]) == (None, "Object", 1)


def test_seed_demo_campaigns(sigmamind_simulator_factory, clock: FakeClock) -> None:
    sim = sigmamind_simulator_factory(seed_demo=True, clock=clock)
    status = {
        cid: sim.campaign(cid)["campaignStatus"]
        for cid in ("camp_DemoLive0000001", "camp_DemoSched000001", "camp_DemoDone000001", "camp_DemoPaused00001")
    }
    assert list(status.values()) == ["live", "scheduled", "completed", "paused"]
    assert len(sim.campaign("camp_DemoDone000001")["errors"]) == 2
    clock.advance(15)
    assert sim.campaign("camp_DemoSched000001")["campaignStatus"] == "completed"
    sim.reset()
    assert sim.campaign("camp_DemoSched000001")["campaignStatus"] == "scheduled"  # re-seeded


# -- admin endpoints ------------------------------------------------------------------------------


def test_admin_endpoints_drive_another_process(sigmamind_simulator: SigmaMindSimulator) -> None:
    sim = sigmamind_simulator
    created = requests.post(
        f"{sim.url}/_sim/campaigns",
        json={
            "campaign_id": "camp_X",
            "script": ["scheduled", {"fault": "rate_limit", "retry_after": 4}, "live"],
            "overrides": {"errors": "$missing"},
        },
        timeout=5,
    )
    assert created.status_code == 201
    assert created.json()["campaignId"] == "camp_X"
    assert "errors" not in created.json()
    assert statuses_of(sim, "camp_X", 3) == ["scheduled", 429, "live"]
    queued = requests.post(
        f"{sim.url}/_sim/faults",
        json={"fault": "server_error", "code": 502, "campaign_id": "camp_X", "times": 1},
        timeout=5,
    )
    assert queued.status_code == 201
    assert statuses_of(sim, "camp_X", 2) == [502, "live"]
    pinned = requests.post(f"{sim.url}/_sim/campaigns/camp_X/status", json={"status": "completed"}, timeout=5)
    assert (pinned.status_code, pinned.json()["campaignStatus"]) == (200, "completed")
    recorded = requests.get(f"{sim.url}/_sim/requests?campaign_id=camp_X", timeout=5).json()
    assert [r["status"] for r in recorded] == [200, 429, 200, 502, 200]
    health = requests.get(f"{sim.url}/_sim/health", timeout=5).json()
    assert health["status"] == "ok"
    assert health["total_requests"] == 5
    assert requests.post(f"{sim.url}/_sim/reset", timeout=5).status_code == 200
    assert sim.requests == []
    assert statuses_of(sim, "camp_X", 1) == [404]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_sim/campaigns", {"bogus": 1}, 400),
        ("/_sim/faults", {"fault": "nope"}, 400),
        ("/_sim/campaigns/missing/status", {"status": "live"}, 404),
        ("/_sim/nothing", {}, 404),
    ],
)
def test_admin_rejects_bad_input(sigmamind_simulator: SigmaMindSimulator, path: str, body: dict, status: int) -> None:
    response = requests.post(f"{sigmamind_simulator.url}{path}", json=body, timeout=5)
    assert response.status_code == status
    assert response.json()["status"] == status


# -- lifecycle and scale --------------------------------------------------------------------------


def test_only_loopback_is_accepted() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        SigmaMindSimulator(host="0.0.0.0")
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        SigmaMindSimulator(host="localhost")


def test_stop_closes_connections_and_thread(sigmamind_simulator_factory) -> None:
    threads_before = set(threading.enumerate())
    sim = sigmamind_simulator_factory()
    sim.add_campaign("camp_A")
    sim.inject(Fault.slow(30))  # a request still waiting must not keep stop() waiting
    outcome: list[str] = []

    def call() -> None:
        try:
            get_a(sim)
            outcome.append("answered")
        except requests.ConnectionError:
            outcome.append("disconnected")

    waiting = threading.Thread(target=call)
    waiting.start()
    deadline = time.monotonic() + 5
    while sim.stats["total_requests"] == 0 and time.monotonic() < deadline:
        time.sleep(0.005)  # wait until the server holds the request
    started = time.monotonic()
    sim.stop()
    waiting.join(5)
    assert time.monotonic() - started < 2
    assert outcome == ["disconnected"]
    assert not sim.running
    assert set(threading.enumerate()) <= threads_before
    sim.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        get_a(sim)


def test_port_in_use_raises_on_start(sigmamind_simulator: SigmaMindSimulator) -> None:
    threads_before = set(threading.enumerate())
    with pytest.raises(OSError):  # noqa: PT011 - errno differs by platform
        SigmaMindSimulator(port=sigmamind_simulator.port).start()
    assert set(threading.enumerate()) == threads_before


def test_500_concurrent_keep_alive_connections(sigmamind_simulator: SigmaMindSimulator) -> None:
    sim = sigmamind_simulator
    sim.add_campaign("camp_A")
    clients, per_client = 50, 10  # one pool of 500 is slow in httpcore itself, not in the server
    sim.inject(Fault.slow(0.5), times=clients * per_client)  # hold every request: all 500 in flight at once

    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
        tls = ssl.create_default_context()  # unused over http; shared so 50 clients skip loading CA certs
        pools = [
            httpx.AsyncClient(
                base_url=sim.url, headers={"X-API-Key": sim.api_key}, limits=limits, timeout=20, verify=tls
            )
            for _ in range(clients)
        ]
        try:
            statuses = []
            for _ in range(2):  # the second round must reuse the 500 open connections
                responses = await asyncio.gather(
                    *(pool.get("/v1/campaigns/camp_A") for pool in pools for _ in range(per_client))
                )
                statuses += [response.status_code for response in responses]
            return statuses
        finally:
            await asyncio.gather(*(pool.aclose() for pool in pools))

    statuses = asyncio.run(run())
    assert statuses == [200] * 1000
    stats = sim.stats
    assert stats["peak_open_connections"] >= 500
    assert stats["total_connections"] == 500
    assert stats["total_requests"] == 1000
