"""Which proxy and which CA bundle a request uses: decided here, once, for both request paths.

Proxies come from the environment as ``requests`` reads them: ``HTTPS_PROXY`` for https URLs,
``HTTP_PROXY`` for http ones (upper or lower case), skipped for hosts matched by ``NO_PROXY``.
Certificates are verified against the connection's ``ca_bundle`` extra, else ``REQUESTS_CA_BUNDLE``
or ``SSL_CERT_FILE``, else certifi's bundle (what ``requests`` uses by default).
"""

from __future__ import annotations

import functools
import os
import ssl
import urllib.request
from urllib.parse import urlsplit

__all__ = ["ca_file_for", "proxy_for", "ssl_context"]


def proxy_for(url: str) -> str | None:
    """The proxy URL for ``url`` from the environment, or ``None`` to connect directly."""
    proxies = urllib.request.getproxies_environment()
    if not proxies:
        return None
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    if urllib.request.proxy_bypass_environment(host, proxies):  # type: ignore[attr-defined]
        return None
    return proxy if "://" in proxy else "http://" + proxy


def ca_file_for(ca_bundle: str | None) -> str:
    """The CA bundle to verify servers with: the connection's, the environment's, or certifi's."""
    if ca_bundle:
        return ca_bundle
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(name)
        if value:
            return value
    import certifi

    return str(certifi.where())


@functools.lru_cache(maxsize=8)
def ssl_context(ca_file: str) -> ssl.SSLContext:
    """A verifying client context trusting exactly the CAs in ``ca_file`` (a file or, as OpenSSL
    allows, a directory of hashed certificates); one per bundle, reused."""
    if os.path.isdir(ca_file):
        return ssl.create_default_context(capath=ca_file)
    return ssl.create_default_context(cafile=ca_file)
