"""The hook's async path (used by the trigger) against the simulator: the same answers, errors and
retries as the sync path, one pooled client per event loop, and bodies and time bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest

from airflow_provider_sigmamind.coalesce import shared_polls
from airflow_provider_sigmamind.exceptions import (
    SigmaMindAuthError,
    SigmaMindError,
    SigmaMindInvalidInputError,
    SigmaMindNotFoundError,
    SigmaMindRateLimitError,
    SigmaMindRejectedError,
    SigmaMindResponseError,
    SigmaMindServerError,
    SigmaMindTLSError,
    SigmaMindTransportError,
)
from airflow_provider_sigmamind.hooks import sigmamind as hook_module
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import Campaign, CampaignStatus
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.transport.pool import ASYNC_MAX_CONNECTIONS, shared_sessions
from tests import helpers
from tests.helpers import CANARY_API_KEY, connection_json


def fetch(campaign_id: str, *, asynchronous: bool, **hook_kwargs) -> Campaign | SigmaMindError:
    """One ``get_campaign`` (sync) or ``aget_campaign`` (async) with a fresh hook: the campaign or the error."""
    return helpers.fetch(campaign_id, path="async" if asynchronous else "sync", **hook_kwargs)


@pytest.mark.parametrize(
    ("faults", "expected", "attempts"),
    [
        ([], Campaign, 1),
        ([Fault.rate_limit(retry_after=0), Fault.server_error(502), Fault.drop()], Campaign, 4),
        ([Fault.reset_mid_body()], Campaign, 2),
        ([Fault.status(401)], SigmaMindAuthError, 1),
        ([Fault.status(404)], SigmaMindNotFoundError, 1),
        ([Fault.status(409)], SigmaMindRejectedError, 1),
        ([Fault.rate_limit(retry_after=0)] * 4, SigmaMindRateLimitError, 4),
        ([Fault.server_error(503)] * 4, SigmaMindServerError, 4),
        ([Fault.server_error(501)], SigmaMindServerError, 1),
        ([Fault.drop()] * 4, SigmaMindTransportError, 4),
        ([Fault.malformed("html")], SigmaMindResponseError, 1),
        ([Fault.malformed("truncated")], SigmaMindResponseError, 1),
        ([Fault.malformed("array")], SigmaMindResponseError, 1),
        ([Fault.redirect("http://127.0.0.1:9/steal")], SigmaMindResponseError, 1),
        ([Fault.huge(11 * 1024 * 1024)], SigmaMindResponseError, 1),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_async_path_answers_and_fails_like_the_sync_path(sigmamind_conn, simulator, faults, expected, attempts):
    cid = simulator.add_campaign()["campaignId"]
    outcomes = []
    for asynchronous in (False, True):
        for fault in faults:
            simulator.inject(fault, campaign_id=cid)
        before = len(simulator.requests_for(cid))
        outcome = fetch(cid, asynchronous=asynchronous, max_retries=3)
        outcomes.append((type(outcome), len(simulator.requests_for(cid)) - before))
        if isinstance(outcome, SigmaMindError):
            assert CANARY_API_KEY not in f"{outcome} {outcome!r}"
            assert outcome.attempts == (attempts if outcome.retryable else None)
        else:
            assert outcome.payload == simulator.campaign(cid)
    assert outcomes == [(expected, attempts), (expected, attempts)]


def test_same_messages_on_both_paths(sigmamind_conn, simulator):
    cid = simulator.add_campaign()["campaignId"]
    messages = []
    for asynchronous in (False, True):
        simulator.inject(Fault.status(404), campaign_id=cid)
        messages.append(str(fetch(cid, asynchronous=asynchronous)))
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"campaign {cid!r} was not found (HTTP 404 on GET /v1/campaigns/{cid})")


def test_a_trickling_body_is_cut_off_by_the_request_timeout(simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=0.3, max_retries=0))
    cid = simulator.add_campaign()["campaignId"]
    simulator.inject(Fault.trickle(interval=0.05), campaign_id=cid)
    error = fetch(cid, asynchronous=True)
    assert isinstance(error, SigmaMindTransportError)
    assert "did not finish within the request timeout" in str(error)


def test_a_slow_answer_is_cut_off_by_the_request_timeout_and_retried(simulator, monkeypatch):
    # 1 s: the retry's normal answer fits in it on a loaded machine too; the 5 s answer never does.
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=1, max_retries=1))
    cid = simulator.add_campaign()["campaignId"]
    simulator.inject(Fault.slow(5), campaign_id=cid)
    result = fetch(cid, asynchronous=True)
    assert isinstance(result, Campaign)
    assert len(simulator.requests_for(cid)) == 2


def test_connection_refused(simulator, monkeypatch):
    url = simulator.url
    simulator.stop()
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(url, max_retries=1))
    error = fetch("camp_x", asynchronous=True)
    assert isinstance(error, SigmaMindTransportError)
    assert "connection refused" in str(error)
    assert error.attempts == 2


@pytest.fixture
def plain_http_server():
    """A server on 127.0.0.1 that answers every connection with plain HTTP at once: a TLS client
    fails its handshake ("wrong version number")."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_tls_failure_is_not_retried(plain_http_server, monkeypatch):
    url = f"https://127.0.0.1:{plain_http_server}"
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(url, max_retries=3, timeout=5))
    errors = [fetch("camp_x", asynchronous=a) for a in (False, True)]
    assert [type(e) for e in errors] == [SigmaMindTLSError, SigmaMindTLSError]
    assert all(e.attempts is None for e in errors)  # raised at the first attempt: never retried


def test_invalid_ids_are_refused_before_any_request(sigmamind_conn, simulator):
    assert isinstance(fetch("camp\nx", asynchronous=True), SigmaMindInvalidInputError)
    assert simulator.requests == []


def test_one_hook_asking_for_several_campaigns_gets_each_and_checks_every_id(sigmamind_conn, simulator):
    """A hook keeps the path of the campaign it asked for last (a trigger's asks for one at every
    poll): another id gets its own path, and an invalid one is still refused before any request."""
    first, second = (simulator.add_campaign()["campaignId"] for _ in range(2))

    async def scenario() -> list[str]:
        async with SigmaMindHook() as hook:
            seen = [(await hook.aget_campaign(cid)).campaign_id for cid in (first, first, second, first)]
            for bad in ("camp\nx", "..", ""):
                with pytest.raises(SigmaMindInvalidInputError):
                    await hook.aget_campaign(bad)
            return seen

    assert asyncio.run(scenario()) == [first, first, second, first]
    assert [len(simulator.requests_for(cid)) for cid in (first, second)] == [3, 1]
    assert len(simulator.requests) == 4


def test_headers_and_no_cookies_kept(sigmamind_conn, simulator):
    """The shared client sends the key in its header only, and keeps no cookie a server sets."""
    served = simulator.add_campaign(status="live")
    cid = served["campaignId"]
    simulator.inject(
        Fault.status(200, body=simulator.campaign(cid), headers={"Set-Cookie": "session=abc; Path=/"}), campaign_id=cid
    )

    async def twice() -> list[Campaign]:
        async with SigmaMindHook() as hook:
            return [await hook.aget_campaign(cid), await hook.aget_campaign(cid)]

    assert [c.status for c in asyncio.run(twice())] == [CampaignStatus.LIVE, CampaignStatus.LIVE]
    first, second = simulator.requests_for(cid)
    assert first.authorized
    assert second.authorized
    assert second.headers["user-agent"].startswith("airflow-provider-sigmamind/")
    assert second.headers["accept"] == "application/json"
    assert "cookie" not in second.headers
    assert CANARY_API_KEY not in second.raw_path + json.dumps(second.headers)


def test_one_session_per_loop_shared_and_closed_by_the_last_hook(sigmamind_conn, simulator):
    cid = simulator.add_campaign()["campaignId"]
    sessions = []

    async def scenario() -> None:
        first, second = SigmaMindHook(), SigmaMindHook()
        await asyncio.gather(*(hook.aget_campaign(cid) for hook in (first, second) for _ in range(5)))
        assert first._session() is second._session()
        assert shared_sessions.open_sessions() == 1
        session = first._session()
        sessions.append(session)
        await first.aclose()
        assert not session.closed
        await second.aclose()
        assert session.closed
        assert shared_sessions.open_sessions() == 0
        await first.aclose()  # idempotent

    asyncio.run(scenario())
    assert simulator.stats["total_connections"] <= 10
    asyncio.run(scenario())
    assert sessions[0] is not sessions[1]  # a new loop gets a new session


def test_a_hook_watches_what_it_polls_with_max_age_until_it_is_closed(sigmamind_conn, simulator):
    cid = simulator.add_campaign()["campaignId"]

    async def scenario() -> None:
        table = shared_polls._table()
        alone = SigmaMindHook()
        for _ in range(2):
            await alone.aget_campaign(cid, max_age=60)
        assert list(table.watchers.values()) == [1]
        assert len(simulator.requests_for(cid)) == 2  # a lone wait's answer is not kept
        other = SigmaMindHook()
        await other.aget_campaign(cid, max_age=60)
        await alone.aget_campaign(cid, max_age=60)
        assert len(simulator.requests_for(cid)) == 3  # two watch it now: one request between them
        await alone.aclose()
        await other.aclose()
        await other.aclose()  # idempotent
        assert table.watchers == {}

    asyncio.run(scenario())


def test_a_hook_left_open_works_in_a_second_event_loop(sigmamind_conn, simulator):
    """A hook used under one asyncio.run and not closed, then under another: the second loop gets a
    session of its own instead of a closed loop's."""
    cid = simulator.add_campaign()["campaignId"]
    hook = SigmaMindHook()
    first = asyncio.run(hook.aget_campaign(cid))
    second = asyncio.run(hook.aget_campaign(cid))
    assert first.campaign_id == second.campaign_id == cid

    async def close() -> int:
        await hook.aclose()
        return shared_sessions.open_sessions()

    assert asyncio.run(close()) == 0


def test_the_pool_admits_no_more_requests_than_it_has_connections(sigmamind_conn, simulator):
    """However many requests wait, at most ASYNC_MAX_CONNECTIONS sockets are open at once."""
    cid = simulator.add_campaign()["campaignId"]
    simulator.inject(Fault.slow(0.2), campaign_id=cid, times=None)

    async def scenario() -> None:
        async with SigmaMindHook() as hook:
            await asyncio.gather(*(hook.aget_campaign(cid) for _ in range(3 * ASYNC_MAX_CONNECTIONS)))

    asyncio.run(scenario())
    assert simulator.stats["peak_open_connections"] == ASYNC_MAX_CONNECTIONS
    assert len(simulator.requests_for(cid)) == 3 * ASYNC_MAX_CONNECTIONS


def test_waiting_for_a_connection_of_a_full_pool_counts_against_the_request_timeout(simulator, monkeypatch):
    """Twice as many requests as connections, each answer slower than the timeout: the half that
    queued for a connection ends at its own timeout too, not a timeout after a connection freed."""
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=0.5, max_retries=0))
    cid = simulator.add_campaign()["campaignId"]
    simulator.inject(Fault.slow(3), campaign_id=cid, times=None)

    async def scenario() -> tuple[list[BaseException | Campaign], float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with SigmaMindHook() as hook:
            calls = (hook.aget_campaign(cid) for _ in range(2 * ASYNC_MAX_CONNECTIONS))
            results = await asyncio.gather(*calls, return_exceptions=True)
        return results, loop.time() - started

    results, elapsed = asyncio.run(scenario())
    assert all(isinstance(r, SigmaMindTransportError) for r in results), {type(r).__name__ for r in results}
    assert all("did not finish within the request timeout (0.5s)" in str(r) for r in results)
    assert elapsed < 0.95, f"the queued half waited for connections: {elapsed:.2f} s"


def test_the_connection_is_looked_up_once_per_hook(sigmamind_conn, simulator, monkeypatch):
    cid = simulator.add_campaign()["campaignId"]
    lookups = []
    original = hook_module.get_async_connection  # the hook's one way to an async lookup, on every Airflow

    async def counting(conn_id, hook=None):
        lookups.append(conn_id)
        return await original(conn_id, hook)

    monkeypatch.setattr(hook_module, "get_async_connection", counting)

    async def three() -> None:
        async with SigmaMindHook() as hook:
            for _ in range(3):
                await hook.aget_campaign(cid)

    asyncio.run(three())
    assert lookups == ["sigmamind_default"]
