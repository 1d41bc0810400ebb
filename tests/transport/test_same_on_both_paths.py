"""What the HTTP seam promises, checked on both request paths against real servers on 127.0.0.1:
CA bundles, proxies, the whole-attempt timeout, the bounded body, cookies."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from airflow_provider_sigmamind.exceptions import SigmaMindResponseError, SigmaMindTLSError, SigmaMindTransportError
from airflow_provider_sigmamind.models import Campaign
from airflow_provider_sigmamind.simulator import Fault
from tests.helpers import PATHS, connection_json, fetch


def use(monkeypatch: pytest.MonkeyPatch, url: str, **extra: object) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(url, **extra))


@pytest.fixture(autouse=True)
def no_proxy_or_ca_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)


# -- TLS and CA bundles ------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_a_server_signed_by_an_unknown_ca_is_a_tls_error_not_retried(tls_simulator, monkeypatch, path):
    use(monkeypatch, tls_simulator.url, max_retries=3)
    cid = tls_simulator.add_campaign()["campaignId"]
    error = fetch(cid, path=path)
    assert isinstance(error, SigmaMindTLSError)
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)
    assert error.attempts is None  # the first attempt raised: never retried
    assert tls_simulator.requests == []


@pytest.mark.parametrize("path", PATHS)
def test_the_connections_ca_bundle_is_trusted(tls_simulator, ca_file, monkeypatch, path):
    use(monkeypatch, tls_simulator.url, ca_bundle=ca_file)
    cid = tls_simulator.add_campaign()["campaignId"]
    campaign = fetch(cid, path=path)
    assert isinstance(campaign, Campaign)
    assert campaign.campaign_id == cid


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
@pytest.mark.parametrize("path", PATHS)
def test_the_environments_ca_bundle_is_trusted(tls_simulator, ca_file, monkeypatch, path, variable):
    use(monkeypatch, tls_simulator.url)
    monkeypatch.setenv(variable, ca_file)
    cid = tls_simulator.add_campaign()["campaignId"]
    assert isinstance(fetch(cid, path=path), Campaign)


# -- proxies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
@pytest.mark.parametrize("path", PATHS)
def test_https_goes_through_the_https_proxy(tls_simulator, ca_file, connect_proxy, monkeypatch, path, variable):
    use(monkeypatch, tls_simulator.url, ca_bundle=ca_file)
    monkeypatch.setenv(variable, connect_proxy.url)
    cid = tls_simulator.add_campaign()["campaignId"]
    assert isinstance(fetch(cid, path=path), Campaign)
    assert connect_proxy.tunnels == [f"localhost:{tls_simulator.port}"]
    (request,) = tls_simulator.requests_for(cid)
    assert request.authorized  # the key went through the tunnel, encrypted end to end


@pytest.mark.parametrize("no_proxy", ["localhost", "example.com,localhost", "*"])
@pytest.mark.parametrize("path", PATHS)
def test_no_proxy_hosts_are_reached_directly(tls_simulator, ca_file, connect_proxy, monkeypatch, path, no_proxy):
    use(monkeypatch, tls_simulator.url, ca_bundle=ca_file)
    monkeypatch.setenv("HTTPS_PROXY", connect_proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    cid = tls_simulator.add_campaign()["campaignId"]
    assert isinstance(fetch(cid, path=path), Campaign)
    assert connect_proxy.tunnels == []


@pytest.mark.parametrize("path", PATHS)
def test_plain_http_ignores_the_https_proxy(simulator, connect_proxy, monkeypatch, path):
    use(monkeypatch, simulator.url)
    monkeypatch.setenv("HTTPS_PROXY", connect_proxy.url)
    cid = simulator.add_campaign()["campaignId"]
    assert isinstance(fetch(cid, path=path), Campaign)
    assert connect_proxy.tunnels == []


# -- one deadline for the whole attempt ---------------------------------------------------------


@pytest.mark.parametrize(
    "fault", [Fault.trickle_head(interval=0.05), Fault.trickle(interval=0.05)], ids=["head", "body"]
)
@pytest.mark.parametrize("path", PATHS)
def test_a_trickling_answer_is_cut_off_at_the_request_timeout(simulator, monkeypatch, path, fault):
    """Each byte comes well within a read timeout, the whole answer never does: the attempt ends at
    its timeout (the head alone would take about 6 s at this pace; a body never ends)."""
    use(monkeypatch, simulator.url, timeout=1, max_retries=0)
    cid = simulator.add_campaign()["campaignId"]
    simulator.inject(fault, campaign_id=cid)
    started = time.monotonic()
    error = fetch(cid, path=path)
    elapsed = time.monotonic() - started
    assert isinstance(error, SigmaMindTransportError)
    assert "did not finish within the request timeout (1s)" in str(error)
    assert elapsed < 4, f"the 1 s timeout took {elapsed:.1f} s"


@pytest.mark.parametrize("path", PATHS)
def test_the_next_request_after_a_cut_off_one_succeeds(simulator, monkeypatch, path):
    use(monkeypatch, simulator.url, timeout=1, max_retries=1)
    cid = simulator.add_campaign()["campaignId"]
    simulator.inject(Fault.trickle_head(interval=0.05), campaign_id=cid)
    assert isinstance(fetch(cid, path=path), Campaign)
    assert len(simulator.requests_for(cid)) == 2


# -- the body is bounded before it is inflated --------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_a_gzip_bomb_is_refused_without_inflating_it(simulator, monkeypatch, path):
    use(monkeypatch, simulator.url, max_retries=0)
    cid = simulator.add_campaign()["campaignId"]
    simulator.inject(Fault.gzip_bomb(300 * 1024 * 1024), campaign_id=cid)
    tracemalloc.start()
    try:
        error = fetch(cid, path=path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(error, SigmaMindResponseError)
    assert "larger than 10 MiB" in str(error)
    assert peak < 40 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB while refusing a 300 MiB bomb"


@pytest.mark.parametrize("path", PATHS)
def test_a_gzip_answer_is_decompressed(simulator, monkeypatch, path):
    import gzip
    import json

    use(monkeypatch, simulator.url)
    served = simulator.add_campaign()
    packed = gzip.compress(json.dumps(served).encode())
    fault = Fault.status(200, body=packed, headers={"Content-Encoding": "gzip"})
    simulator.inject(fault, campaign_id=served["campaignId"])
    campaign = fetch(served["campaignId"], path=path)
    assert isinstance(campaign, Campaign)
    assert campaign.payload == served
    (request,) = simulator.requests_for(served["campaignId"])
    assert request.headers["accept-encoding"] == "gzip"


# -- no state between calls ---------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_cookies_a_server_sets_are_never_sent_back(simulator, monkeypatch, path):
    import asyncio

    from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook

    use(monkeypatch, simulator.url)
    served = simulator.add_campaign()
    cid = served["campaignId"]
    simulator.inject(Fault.status(200, body=served, headers={"Set-Cookie": "session=abc; Path=/"}), campaign_id=cid)
    if path == "sync":
        with SigmaMindHook() as hook:
            hook.get_campaign(cid)
            hook.get_campaign(cid)
    else:

        async def twice() -> None:
            async with SigmaMindHook() as hook:
                await hook.aget_campaign(cid)
                await hook.aget_campaign(cid)

        asyncio.run(twice())
    first, second = simulator.requests_for(cid)
    assert first.authorized
    assert "cookie" not in second.headers


def test_both_paths_send_the_same_headers_and_no_library_defaults(simulator, monkeypatch):
    use(monkeypatch, simulator.url)
    cid = simulator.add_campaign()["campaignId"]
    for path in PATHS:
        assert isinstance(fetch(cid, path=path), Campaign)
    sync_request, async_request = simulator.requests_for(cid)
    sent = [{name: value for name, value in r.headers.items() if name != "host"} for r in (sync_request, async_request)]
    assert sent[0] == sent[1]  # neither library adds a header of its own (aiohttp's Accept: */*, its User-Agent)
    assert set(sent[0]) == {"accept", "accept-encoding", "user-agent"}  # and the key, which the simulator does not keep
    assert sent[0]["accept"] == "application/json"
    assert sync_request.authorized
    assert async_request.authorized
