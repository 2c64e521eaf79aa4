"""Authenticated clients of the official `kubernetes` package for the platform's EKS cluster.

The bearer token comes from elsewhere (`aws eks get-token`, or an STS-presigned URL the caller builds): EKS tokens last
15 minutes and a destroy's cluster phase can take longer, so a caller may also hand over a function that mints a fresh
one, which the client calls before a request once the current token is `refresh_after_seconds` old.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import time
from typing import Callable
from urllib.parse import urlsplit

from kubernetes.client import ApiClient, Configuration

from mlplat.errors import MlplatError

# Refresh well inside the token's 15 minutes, so a request never leaves with one about to expire.
TOKEN_REFRESH_SECONDS = 600.0


def eks_api_client(endpoint: str, certificate_authority_data: str, token: str, *,
                   refresh_token: Callable[[], str] | None = None,
                   refresh_after_seconds: float = TOKEN_REFRESH_SECONDS, via: str | None = None) -> ApiClient:
    """A client for an EKS cluster's API: `endpoint` as `aws eks describe-cluster` gives it (https://...),
    `certificate_authority_data` its base64 CA bundle (cluster.certificateAuthority.data), `token` a bearer token.
    TLS is verified against that CA and nothing else; through a tunnel (`via`), under the endpoint's host name."""
    if urlsplit(endpoint).scheme != "https":
        raise MlplatError(f"the cluster endpoint {endpoint!r} is not an https:// URL; pass the cluster's endpoint as "
                          f"`aws eks describe-cluster` prints it")
    if not token:
        raise MlplatError("no bearer token for the cluster's API; `aws eks get-token --cluster-name NAME` makes one")
    # `via`: a tunnel's local URL (mlplat/tunnel.py); the certificate is still checked under the endpoint's name.
    config = Configuration(host=(via or endpoint).rstrip("/"), ca_cert_data=_ca_bundle(certificate_authority_data),
                           verify_ssl=True, tls_server_name=urlsplit(endpoint).hostname if via else None)
    _authenticate(config, token, refresh_token, refresh_after_seconds)
    return ApiClient(config)


def loopback_api_client(url: str, token: str | None = None) -> ApiClient:
    """A plain-HTTP client for a fake API on this machine (mlplat/kube/fake_api.py); refuses any other host, because
    without TLS a token would cross the network in clear."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if urlsplit(url).scheme != "http" or not loopback:
        raise MlplatError(f"{url!r} is not an http:// URL on this machine's loopback interface")
    # No retries: a fake that is gone should fail the test at once, not after urllib3's backoff.
    config = Configuration(host=url.rstrip("/"), retries=False)
    if token:
        _authenticate(config, token, None, TOKEN_REFRESH_SECONDS)
    return ApiClient(config)


def _ca_bundle(certificate_authority_data: str) -> str:
    try:
        pem = base64.b64decode(certificate_authority_data, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise MlplatError("the cluster's certificate authority data is not base64 (expected "
                          "cluster.certificateAuthority.data from `aws eks describe-cluster`)") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise MlplatError("the cluster's certificate authority data holds no PEM certificate (expected "
                          "cluster.certificateAuthority.data from `aws eks describe-cluster`)")
    return pem


def _authenticate(config: Configuration, token: str, refresh_token: Callable[[], str] | None,
                  refresh_after_seconds: float) -> None:
    config.api_key = {"BearerToken": token}
    config.api_key_prefix = {"BearerToken": "Bearer"}
    if refresh_token is None:
        return
    minted_at = time.monotonic()

    def refresh(cfg: Configuration) -> None:
        # The client calls this before every request it authenticates.
        nonlocal minted_at
        if time.monotonic() - minted_at >= refresh_after_seconds:
            cfg.api_key = {"BearerToken": refresh_token()}
            minted_at = time.monotonic()

    config.refresh_api_key_hook = refresh
