"""One way to reach Graph from the configuration: the app's credential, its cached token, the
client and the operations, wired the same for the service (``web/wiring.py``) and for
``policy check --online`` (``cli.py``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiohttp

from mystaff_proxy.config import Settings
from mystaff_proxy.graph.client import CallObserver, GraphClient
from mystaff_proxy.graph.credentials import AppToken, AsyncCredential, build_credential
from mystaff_proxy.graph.operations import GraphOperations


@dataclass(frozen=True)
class GraphConnection:
    """What ``connect`` built. ``app_token`` owns the credential: ``close()`` it at the end."""

    app_token: AppToken
    client: GraphClient
    ops: GraphOperations


def ssl_context(ca_file: str) -> ssl.SSLContext:
    """The system's trust store, plus ``[tenant] ca_file`` when set (a private CA, the fake)."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(ca_file)
    return context


def app_credential(settings: Settings) -> AsyncCredential:
    """A new azure-identity credential of the configured kind (secret, certificate, managed
    identity); a new one has an empty token cache (``AppToken``'s ``renew``)."""
    return build_credential(
        tenant_id=settings.tenant.id, client_id=settings.app.client_id,
        authority_host=settings.tenant.authority_host,
        client_secret=settings.app.client_secret,
        certificate_path=settings.app.certificate_path,
        managed_identity=settings.app.managed_identity, ca_file=settings.tenant.ca_file)


def connect(settings: Settings, http: aiohttp.ClientSession, *,
            observer: CallObserver | None = None) -> GraphConnection:
    """Graph as the app, over ``http`` (whose connector trusts ``ssl_context(ca_file)``), with
    ``[graph]``'s timeout, retries and retry budget; ``observer`` sees every call (metrics)."""
    app_token = AppToken(app_credential(settings), renew=lambda: app_credential(settings))
    client = GraphClient(settings.tenant.graph_url, http, app_token,
                         timeout=settings.graph.timeout_seconds,
                         max_retries=settings.graph.max_retries,
                         retry_budget=settings.graph.retry_budget_seconds,
                         observer=observer)
    return GraphConnection(app_token=app_token, client=client, ops=GraphOperations(client))
