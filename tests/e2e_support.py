"""End-to-end harness: fake_graph and the proxy on real sockets, and a browserless sign-in.

``Stack`` starts the proxy (a fresh app per test) in front of a running fake tenant; ``Manager``
is an HTTP client with its own cookie jar that signs in through the fake's real sign-in page.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp import web

from fake_graph import derive_id
from fake_graph.identity.store import SSO_COOKIE
from mystaff_proxy.config import Settings, config_from_mapping
from mystaff_proxy.web.app import init_app

E2E_DIR = Path(__file__).parent / "e2e"
TENANT = E2E_DIR / "tenant.yaml"
POLICY_TEMPLATE = E2E_DIR / "policy.yaml"
CLIENT_ID = "e2e0a000-0000-4000-8000-0000000000aa"
CLIENT_SECRET = "e2e-proxy-secret"
NORTH = "a0000000-0000-4000-8000-00000000000a"
SOUTH = "a0000000-0000-4000-8000-00000000000b"

PASSWORDS = {
    "mgr.upn@e2e.example": "Mgr-Upn-Pass-1!",
    "mgr.oid@e2e.example": "Mgr-Oid-Pass-1!",
    "mgr.group@e2e.example": "Mgr-Grp-Pass-1!",
    "viewer@e2e.example": "Viewer-Pass-1!",
    "nobody@e2e.example": "Nobody-Pass-1!",
    "lead@e2e.example": "Lead-Pass-1!",
    "peer@e2e.example": "Peer-Pass-1!",
    "boss@e2e.example": "Boss-Pass-1!",
    "other.store@e2e.example": "Otherstore-Pass-1!",
    "grouplead@e2e.example": "Grouplead-Pass-1!",
}


def uid(upn: str) -> str:
    """The object id fake_graph derives for a user declared without an explicit id."""
    if upn == "mgr.oid@e2e.example":
        return "0b1d0000-0000-4000-8000-000000000002"
    return derive_id("user", upn)


#: The managers who change north's staff in the shared e2e tests (both identity modes).
NORTH_CHANGERS = ("mgr.upn@e2e.example", "mgr.oid@e2e.example", "mgr.group@e2e.example")


def reset_operations(fake: Any) -> Any:
    from fake_graph.graph.operations import store

    return store(fake)


def give_manager_roles(fake: Any) -> None:
    """Manager mode: the AU-scoped role that lets Entra itself allow what the policy grants."""
    for upn in NORTH_CHANGERS:
        fake.fake.directory.assign_role(uid(upn), "Authentication Administrator",
                                        f"/administrativeUnits/{NORTH}")


def render_policy(template: Path, out: Path) -> Path:
    """The policy with ``GROUP:<displayName>`` replaced by the fake's derived group ids."""
    text = template.read_text()
    text = re.sub(r"GROUP:([^\"\]]+)", lambda m: derive_id("group", m.group(1)), text)
    out.write_text(text)
    return out


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif tag in ("input", "button") and self.forms and a.get("name"):
            if a.get("type") in ("submit", "button") and tag == "button":
                return
            self.forms[-1][1][a["name"]] = a.get("value", "")


def parse_forms(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def client_ssl(ca_file: str | Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


@dataclass
class Manager:
    """A browserless user agent: cookie jar, no automatic redirects across origins."""

    session: aiohttp.ClientSession
    proxy_url: str
    csrf: str = ""
    upn: str = ""
    #: every answer of the last sign-in, in order (login, fake pages, callback, landing page)
    history: list[aiohttp.ClientResponse] = field(default_factory=list)

    async def sign_in(self, upn: str, password: str | None = None, next_path: str = "/",
                      new_password: str | None = None) -> aiohttp.ClientResponse:
        """The whole auth-code flow through the fake's sign-in form; returns the last answer.

        The identity platform's single sign-on cookie of an earlier sign-in is dropped first,
        so the form is always shown (``sign_in_silently`` keeps it)."""
        self.session.cookie_jar.clear(lambda cookie: cookie.key == SSO_COOKIE)
        return await self._sign_in(upn, password, next_path, new_password)

    async def sign_in_silently(self, next_path: str = "/") -> aiohttp.ClientResponse:
        """Sign in again with the identity platform's session: no form is expected."""
        resp = await self.session.get(f"{self.proxy_url}/auth/login", params={"next": next_path},
                                      allow_redirects=False)
        assert resp.status == 302, await resp.text()
        resp = await self.session.get(resp.headers["Location"], allow_redirects=False)
        while resp.status in (302, 303):
            resp = await self.session.get(urljoin(str(resp.url), resp.headers["Location"]),
                                          allow_redirects=False)
        me = await self.session.get(f"{self.proxy_url}/api/v1/me")
        if me.status == 200:
            body = await me.json()
            self.csrf, self.upn = body.get("csrfToken", ""), body.get("userPrincipalName", "")
        return resp

    async def _sign_in(self, upn: str, password: str | None, next_path: str,
                       new_password: str | None) -> aiohttp.ClientResponse:
        self.history = []
        resp = await self.session.get(f"{self.proxy_url}/auth/login",
                                      params={"next": next_path}, allow_redirects=False)
        self.history.append(resp)
        assert resp.status == 302, await resp.text()
        url = resp.headers["Location"]
        resp = await self.session.get(url, allow_redirects=False)
        self.history.append(resp)
        page = await resp.text()
        action, fields = parse_forms(page)[0]
        fields["username"] = upn
        fields["password"] = password if password is not None else PASSWORDS[upn]
        resp = await self.session.post(urljoin(url, action), data=fields, allow_redirects=False)
        self.history.append(resp)
        if new_password is not None and resp.status == 200:
            action2, fields2 = parse_forms(await resp.text())[0]
            fields2.update(new_password=new_password, confirm_password=new_password)
            resp = await self.session.post(urljoin(url, action2), data=fields2,
                                           allow_redirects=False)
        while resp.status in (302, 303):
            target = urljoin(str(resp.url), resp.headers["Location"])
            resp = await self.session.get(target, allow_redirects=False)
            self.history.append(resp)
            if not target.startswith(self.proxy_url) or urlsplit(target).path != "/auth/callback":
                break
        self.upn = upn
        me = await self.session.get(f"{self.proxy_url}/api/v1/me")
        if me.status == 200:
            self.csrf = (await me.json()).get("csrfToken", "")
        return resp

    async def call(self, method: str, path: str, body: Any = None, *,
                   csrf: bool = True, headers: dict[str, str] | None = None
                   ) -> tuple[int, Any, dict[str, str]]:
        h = dict(headers or {})
        if csrf and method not in ("GET", "HEAD"):
            h.setdefault("X-CSRF-Token", self.csrf)
        kwargs: dict[str, Any] = {"headers": h, "allow_redirects": False}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        async with self.session.request(method, self.proxy_url + path, **kwargs) as resp:
            raw = await resp.read()
            data = json.loads(raw) if raw and resp.content_type == "application/json" else raw
            return resp.status, data, dict(resp.headers)


@dataclass
class Stack:
    proxy_url: str
    fake_url: str
    fake: Any  # the embedded fake (run_fake's handle)
    settings: Settings
    audit_path: Path
    policy_path: Path
    app: web.Application
    _sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines() if line]

    async def manager(self, upn: str | None = None, **sign_in: Any) -> Manager:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        connector = aiohttp.TCPConnector(ssl=client_ssl(self.fake.ca_file))
        session = aiohttp.ClientSession(cookie_jar=jar, connector=connector)
        self._sessions.append(session)
        m = Manager(session, self.proxy_url)
        if upn is not None:
            await m.sign_in(upn, **sign_in)
        return m

    def fake_user(self, upn: str) -> Any:
        user = self.fake.fake.directory.find_user(upn)
        assert user is not None
        return user

    async def close(self) -> None:
        for s in self._sessions:
            await s.close()


def stack_settings(*, proxy_url: str, fake: Any, audit_path: Path, policy_path: Path,
                   **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": int(urlsplit(proxy_url).port or 0),
                   "public_url": proxy_url},
        "tenant": {"id": fake.tenant_id, "authority_host": fake.url,
                   "graph_url": fake.url + "/v1.0", "ca_file": str(fake.ca_file)},
        "app": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        "session": {"secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()},
        "policy": {"path": str(policy_path)},
        "audit": {"path": str(audit_path)},
        "graph": {"timeout_seconds": 2.0, "retry_budget_seconds": 5.0},
    }
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    return config_from_mapping(data, "e2e", {})


def cli_config(fake: Any, tmp: Path, extra: str = "") -> Path:
    """A config file for the command line (``policy check --online``) against the fake."""
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    path = tmp / "config.toml"
    path.write_text(f"""
[server]
public_url = "http://127.0.0.1:8080"
[tenant]
id = "{fake.tenant_id}"
authority_host = "{fake.url}"
graph_url = "{fake.url}/v1.0"
ca_file = "{fake.ca_file}"
[app]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
[session]
secret = "{secret}"
[audit]
path = "{tmp / 'audit.jsonl'}"
{extra}""")
    return path


@contextlib.asynccontextmanager
async def running_stack(fake: Any, tmp: Path, *, policy_template: Path = POLICY_TEMPLATE,
                        reset: bool = True, identity: str = "app",
                        **overrides: Any) -> AsyncIterator[Stack]:
    """The proxy on a free port in front of ``fake`` (already running), fake state reset
    (unless ``reset`` is False: a restart of the proxy against the tenant as it is now).

    ``identity="manager"``: changes go to Graph as the signed-in manager; north's three store
    managers hold Authentication Administrator scoped to north, as IT would assign it."""
    import socket

    if reset:
        fake.fake.reset()
    if identity == "manager":
        overrides["graph"] = {**overrides.get("graph", {}), "identity": "manager"}
        give_manager_roles(fake)
        # Resets done at once (Retry-After: 0): tests/e2e/test_manager_mode.py keeps Graph's
        # one second to prove that the proxy waits for it.
        reset_operations(fake.fake).seconds = 0
    tmp.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - test set-up, before serving
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    proxy_url = f"http://127.0.0.1:{port}"
    app_cfg = fake.fake.directory.applications[CLIENT_ID]
    app_cfg.redirect_uris.append(proxy_url + "/auth/callback")
    policy_path = render_policy(policy_template, tmp / "policy.yaml")
    audit_path = tmp / "audit.jsonl"
    settings = stack_settings(proxy_url=proxy_url, fake=fake, audit_path=audit_path,
                              policy_path=policy_path, **overrides)
    app = init_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    stack = Stack(proxy_url, fake.url, fake, settings, audit_path, policy_path, app)
    try:
        yield stack
    finally:
        await stack.close()
        await runner.cleanup()
