"""Security suite helpers: the sign-in in steps, cookies, and where a redirect lands.

The helpers split the sign-in into its steps so a test can stop, replay or tamper with one:
``start_login`` (the proxy's ``/auth/login`` answer), ``authorize`` (the fake's sign-in form
posted directly, optionally with tampered OAuth parameters; returns the callback URL), and
``session_cookie`` (the proxy's session cookie in a client's jar).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import aiohttp
from e2e_support import PASSWORDS, Manager, Stack
from yarl import URL

from mystaff_proxy.auth.sessions import Session
from mystaff_proxy.web.services import SERVICES

SECURITY_DIR = Path(__file__).parent
LOW_LIMITS_POLICY = SECURITY_DIR / "policy_low_limits.yaml"


# -- sign-in in steps ----------------------------------------------------------------------

async def start_login(m: Manager, next_path: str | None = "/",
                      headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    params = {} if next_path is None else {"next": next_path}
    resp = await m.session.get(f"{m.proxy_url}/auth/login", params=params,
                               headers=headers or {}, allow_redirects=False)
    await resp.read()
    return resp


async def authorize(m: Manager, auth_url: str, upn: str, **tamper: str) -> str:
    """Sign in at the fake (its form, posted with the OAuth parameters it carries as hidden
    fields); ``tamper`` overrides OAuth parameters. Returns the callback URL it redirects to."""
    parts = urlsplit(auth_url)
    fields = dict(parse_qsl(parts.query, keep_blank_values=True))
    fields.update(tamper)
    fields.update(username=upn, password=PASSWORDS[upn])
    endpoint = f"{parts.scheme}://{parts.netloc}{parts.path}"
    resp = await m.session.post(endpoint, data=fields, allow_redirects=False)
    body = await resp.text()
    assert resp.status == 302, body[:500]
    return resp.headers["Location"]


async def callback(m: Manager, url: str) -> aiohttp.ClientResponse:
    resp = await m.session.get(url, allow_redirects=False)
    await resp.read()
    return resp


def session_cookie(m: Manager, stack: Stack) -> str | None:
    name = stack.settings.session.cookie_name
    for cookie in m.session.cookie_jar:
        if cookie.key == name:
            return cookie.value
    return None


def set_session_cookie(m: Manager, stack: Stack, value: str) -> None:
    m.session.cookie_jar.update_cookies({stack.settings.session.cookie_name: value},
                                        URL(stack.proxy_url))


async def decode_session(stack: Stack, cookie: str | None) -> Session | None:
    return await stack.app[SERVICES].sessions.decode(cookie)


def is_own_origin(stack: Stack, location: str) -> bool:
    """Where a browser lands for this Location: the proxy's own scheme, host and port."""
    cleaned = "".join(c for c in location if c not in "\t\r\n")
    resolved = urlsplit(urljoin(stack.proxy_url + "/auth/callback", cleaned))
    own = urlsplit(stack.proxy_url)
    return (resolved.scheme, resolved.netloc) == (own.scheme, own.netloc)


def error_code(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return code if isinstance(code, str) else None
    return None


class ThreadedStack:
    """The live stack on its own thread and event loop, for synchronous clients (schemathesis
    and ``requests``), with one manager signed in: ``cookies`` and ``csrf`` for the session.

        with ThreadedStack(e2e_fake, tmp_path, "mgr.upn@e2e.example") as live: ...
    """

    def __init__(self, fake: Any, tmp: Path, upn: str, **overrides: Any) -> None:
        import threading

        self._fake, self._tmp, self._upn, self._overrides = fake, tmp, upn, overrides
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="security-stack", daemon=True)
        self._loop: Any = None
        self._stop: Any = None
        self._error: BaseException | None = None
        self.stack: Stack | None = None
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def _run(self) -> None:
        import asyncio

        from e2e_support import running_stack

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                async with running_stack(self._fake, self._tmp, **self._overrides) as stack:
                    m = await stack.manager(self._upn)
                    self.stack, self.csrf = stack, m.csrf
                    name = stack.settings.session.cookie_name
                    self.cookies = {c.key: c.value for c in m.session.cookie_jar
                                    if c.key == name}
                    self._ready.set()
                    await self._stop.wait()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                raise

        asyncio.run(main())

    def __enter__(self) -> ThreadedStack:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None or self.stack is None:
            raise RuntimeError("the stack did not start") from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
