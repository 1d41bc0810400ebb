"""transport.network: which proxy and which CA bundle, decided once for both paths."""

from __future__ import annotations

import pytest

from airflow_provider_sigmamind.transport.network import ca_file_for, proxy_for, ssl_context

PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARIABLES, "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("environment", "url", "expected"),
    [
        ({}, "https://api.sigmamind.ai", None),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "https://api.sigmamind.ai", "http://proxy:3128"),
        ({"https_proxy": "proxy:3128"}, "https://api.sigmamind.ai", "http://proxy:3128"),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "http://127.0.0.1:8765", None),
        ({"HTTP_PROXY": "http://proxy:3128"}, "http://127.0.0.1:8765", "http://proxy:3128"),
        ({"ALL_PROXY": "http://proxy:3128"}, "https://api.sigmamind.ai", "http://proxy:3128"),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "sigmamind.ai"}, "https://api.sigmamind.ai", None),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": ".sigmamind.ai"}, "https://api.sigmamind.ai", None),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "other.ai"}, "https://api.sigmamind.ai", "http://proxy:3128"),
        ({"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "*"}, "https://api.sigmamind.ai", None),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "localhost"}, "https://localhost:8443", None),
    ],
)
def test_proxy_for(monkeypatch, environment, url, expected):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert proxy_for(url) == expected


def test_ca_file_order(monkeypatch, tmp_path):
    import certifi

    assert ca_file_for(None) == certifi.where()
    monkeypatch.setenv("SSL_CERT_FILE", "/from/ssl_cert_file.pem")
    assert ca_file_for(None) == "/from/ssl_cert_file.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/from/requests.pem")
    assert ca_file_for(None) == "/from/requests.pem"
    assert ca_file_for("/from/connection.pem") == "/from/connection.pem"


def test_one_ssl_context_per_bundle(ca_file):
    assert ssl_context(ca_file) is ssl_context(ca_file)
    assert ssl_context(ca_file).verify_mode.name == "CERT_REQUIRED"
