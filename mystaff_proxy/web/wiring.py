"""``build_services(settings, http)``: every service of the application, wired from the
settings once at start-up (``web/app.py``'s lifecycle), and the sign-in's certificate
credential read from its PEM file.
"""

from __future__ import annotations

import aiohttp

from mystaff_proxy.audit.log import AuditLog
from mystaff_proxy.audit.phone_hash import PhoneHasher
from mystaff_proxy.auth.bearer import BearerValidator, JwksCache, V1Metadata
from mystaff_proxy.auth.delegation import GRAPH_CHANGE_SCOPES, Delegation
from mystaff_proxy.auth.sessions import SessionManager
from mystaff_proxy.auth.signin import SignIn
from mystaff_proxy.auth.standing import ManagerStanding
from mystaff_proxy.config import Settings
from mystaff_proxy.graph.connect import connect
from mystaff_proxy.metrics import Metrics
from mystaff_proxy.policy.owners import OwnerSet
from mystaff_proxy.policy.runtime import PolicyRuntime
from mystaff_proxy.sealing import Sealer
from mystaff_proxy.staff.notify import Notifier
from mystaff_proxy.staff.service import StaffService
from mystaff_proxy.stores.factory import open_stores
from mystaff_proxy.web.middleware import content_security_policy
from mystaff_proxy.web.render import Pages
from mystaff_proxy.web.services import Services


def build_services(settings: Settings, http: aiohttp.ClientSession) -> Services:
    """Every service of the application, from the settings, over ``http`` (closed by the
    caller; the services' own connections are in ``closers``)."""
    metrics = Metrics()
    graph = connect(settings, http, observer=metrics.observe_graph)
    app_token, client, ops = graph.app_token, graph.client, graph.ops
    policy = PolicyRuntime(settings.policy.path, ops, metrics,
                           remembered_ids_path=settings.remembered_ids_path)
    audit = AuditLog(settings.audit.path)
    secret = settings.session.secret_bytes
    stores = open_stores(settings)
    sessions = SessionManager(secret, max_age=settings.session.max_age_minutes * 60,
                              idle=settings.session.idle_minutes * 60,
                              revocations=stores.revocations)
    credential_for_signin: str | dict[str, str] | None = settings.app.client_secret or None
    if settings.app.certificate_path:
        credential_for_signin = certificate_credential(settings.app.certificate_path)
    signin = SignIn(client_id=settings.app.client_id, authority=settings.authority,
                    tenant_id=settings.tenant.id, redirect_uri=settings.redirect_uri,
                    client_credential=credential_for_signin, ca_file=settings.tenant.ca_file,
                    flows=stores.flows,
                    scopes=GRAPH_CHANGE_SCOPES if settings.graph.identity == "manager" else ())
    delegation: Delegation | None = None
    if settings.graph.identity == "manager":
        # Changes go to Graph as the manager: their tokens, sealed, ending with the session.
        delegation = Delegation(app=signin.app, store=stores.delegated,
                                sealer=Sealer(secret, b"delegated-v1"),
                                session_seconds=sessions.max_age)
        sessions.on_end.append(delegation.forget)
    jwks = JwksCache(f"{settings.authority}/discovery/v2.0/keys", http,
                     timeout=settings.graph.timeout_seconds)
    bearer = BearerValidator(jwks=jwks, tenant_id=settings.tenant.id,
                             issuer=f"{settings.authority}/v2.0",
                             client_id=settings.app.client_id, scope=settings.app.api_scope,
                             v1=V1Metadata(f"{settings.authority}/.well-known/"
                                           "openid-configuration", http,
                                           timeout=settings.graph.timeout_seconds),
                             allowed_client_ids=settings.app.allowed_client_ids)
    staff = StaffService(ops=ops, policy=policy, audit=audit, limiter=stores.limiter,
                         cursor_sealer=Sealer(secret, b"cursor-v1"),
                         default_region=settings.phones.default_region,
                         owners=OwnerSet(ops,
                                         refresh_seconds=settings.graph.owners_refresh_seconds),
                         phone_hasher=PhoneHasher.from_settings(settings),
                         delegation=delegation,
                         operation_wait=settings.graph.timeout_seconds,
                         # Mails to staff go out as the app (Mail.Send), in either mode.
                         notifier=Notifier(client, audit, sender=settings.notify.sender,
                                           contact=settings.notify.contact)
                         if settings.notify.sender else None)
    return Services(settings=settings, http=http, app_token=app_token, ops=ops, policy=policy,
                    audit=audit, metrics=metrics, limiter=stores.limiter, sessions=sessions,
                    signin=signin, bearer=bearer, staff=staff, pages=Pages(),
                    standing=ManagerStanding(
                        ops, max_age=settings.session.account_recheck_seconds),
                    csp=content_security_policy(settings.tenant.authority_host),
                    closers=stores.closers, delegation=delegation)


def certificate_credential(path: str) -> dict[str, str]:
    """MSAL's certificate credential from a PEM holding the private key and certificate."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pem = open(path, "rb").read()  # noqa: SIM115 - read once at start-up
    cert = x509.load_pem_x509_certificate(pem)
    key = serialization.load_pem_private_key(pem, password=None)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()  # noqa: S324 - x5t is SHA-1 by definition
    return {"private_key": key_pem, "thumbprint": thumbprint,
            "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode()}
