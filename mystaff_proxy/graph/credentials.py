"""The proxy's own app token for Graph, from azure-identity's aio credentials.

Client secret, certificate or managed identity, chosen by the configuration. The token is
cached here until five minutes before it expires, so a request costs no credential call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from mystaff_proxy.graph.exceptions import IDENTITY, GraphUnavailable

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_REFRESH_MARGIN = 300.0

# Hosts MSAL knows; any other authority (e.g. fake_graph) needs instance discovery off.
_WELL_KNOWN_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
    "login-us.microsoftonline.com", "login.partner.microsoftonline.cn",
})


class AsyncCredential(Protocol):
    async def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...

    async def close(self) -> None: ...


def build_credential(*, tenant_id: str, client_id: str, authority_host: str,
                     client_secret: str = "", certificate_path: str = "",
                     managed_identity: bool = False, ca_file: str = "") -> AsyncCredential:
    """The azure-identity aio credential for the configured kind of app secret."""
    from azure.identity.aio import (
        CertificateCredential,
        ClientSecretCredential,
        ManagedIdentityCredential,
    )

    common: dict[str, Any] = {}
    if ca_file:
        common["connection_verify"] = ca_file
    if managed_identity:
        return ManagedIdentityCredential(client_id=client_id or None, **common)
    host = urlsplit(authority_host).hostname or ""
    common["authority"] = authority_host
    common["disable_instance_discovery"] = host not in _WELL_KNOWN_HOSTS
    # No retries inside azure-identity: GraphClient retries a failed token request itself,
    # within [graph] retry_budget_seconds. azure-core's own 3 retries with back-off took
    # ~4.8 s per token request while the identity platform failed, on top of (and unbounded
    # by) that budget (tests/e2e/test_fault_matrix.py). Managed identity keeps its IMDS
    # retries: the local endpoint needs them while it starts.
    common["retry_total"] = 0
    if certificate_path:
        return CertificateCredential(tenant_id, client_id, certificate_path, **common)
    return ClientSecretCredential(tenant_id, client_id, client_secret, **common)


class AppToken:
    """Caches the app's Graph token; ``await token(force_refresh)`` returns a bearer string."""

    def __init__(self, credential: AsyncCredential, scope: str = GRAPH_SCOPE, *,
                 renew: Callable[[], AsyncCredential] | None = None) -> None:
        self._credential = credential
        self._scope = scope
        # azure-identity keeps its own token cache and offers no way past it (short of a
        # claims challenge): after Graph refused a token (401), a new credential — an empty
        # cache — is the only way to get a new token rather than the same one again.
        self._renew = renew
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self, force_refresh: bool = False) -> str:
        if not force_refresh and self._token and time.time() < self._expires_on - _REFRESH_MARGIN:
            return self._token
        async with self._lock:
            if not force_refresh and self._token and \
                    time.time() < self._expires_on - _REFRESH_MARGIN:
                return self._token
            if force_refresh and self._renew is not None:
                old, self._credential = self._credential, self._renew()
                await old.close()
            try:
                access = await self._credential.get_token(self._scope)
            except Exception as exc:  # azure-identity raises several unrelated types
                # Fail closed: no token means no Graph call, reported as the platform down.
                raise GraphUnavailable(503, IDENTITY, "cannot get the app's Graph token: "
                                       f"{type(exc).__name__}") from None
            self._token = str(access.token)
            self._expires_on = float(access.expires_on)
            return self._token

    async def close(self) -> None:
        await self._credential.close()
