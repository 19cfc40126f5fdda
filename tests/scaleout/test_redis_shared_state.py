"""Two proxy instances behind one "load balancer" share sign-out, rate limits and sign-ins."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from e2e_support import parse_forms, running_stack, uid
from token_shapes import has_jwt

from fake_graph.embedded import RunningFake

MANAGER = "mgr.upn@e2e.example"


def _shared(redis_url: str, secret: str,
            public_url: str | None = None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {
        "session": {"backend": "redis", "redis_url": redis_url, "secret": secret}}
    if public_url:
        out["server"] = {"public_url": public_url}
    return out


def _secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


async def test_sign_out_on_one_instance_ends_the_session_on_the_other(
        e2e_fake: RunningFake, redis_url: str, tmp_path: Path) -> None:
    secret = _secret()
    async with (
        running_stack(e2e_fake, tmp_path / "a", **_shared(redis_url, secret)) as a,
        running_stack(e2e_fake, tmp_path / "b",
                      **_shared(redis_url, secret, a.proxy_url)) as b,
    ):
        m = await a.manager(MANAGER)
        status, _, _ = await m.call("GET", "/api/v1/me")
        assert status == 200
        cookie = {c.key: c.value for c in m.session.cookie_jar}
        # The same browser on instance B: the cookie is valid there too.
        m.proxy_url = b.proxy_url
        assert (await m.call("GET", "/api/v1/me"))[0] == 200
        # Sign out on B...
        resp = await m.session.post(b.proxy_url + "/auth/logout",
                                    headers={"X-CSRF-Token": m.csrf}, allow_redirects=False)
        assert resp.status == 302
        # ...and the old cookie, replayed on A, is refused.
        replay = await a.manager()
        replay.session.cookie_jar.update_cookies(cookie)
        assert (await replay.call("GET", "/api/v1/me"))[0] == 401


async def test_rate_limit_is_shared(e2e_fake: RunningFake, redis_url: str, tmp_path: Path,
                                    small_limits_policy: Path) -> None:
    secret = _secret()
    async with (
        running_stack(e2e_fake, tmp_path / "a", policy_template=small_limits_policy,
                                 **_shared(redis_url, secret)) as a,
        running_stack(e2e_fake, tmp_path / "b", policy_template=small_limits_policy,
                      **_shared(redis_url, secret, a.proxy_url)) as b,
    ):
        m = await a.manager("mgr.oid@e2e.example")
        path = f"/api/v1/locations/north/staff/{uid('staff2@e2e.example')}/password"
        assert (await m.call("POST", path, {}))[0] == 200  # on A
        m.proxy_url = b.proxy_url
        assert (await m.call("POST", path, {}))[0] == 200  # on B
        m.proxy_url = a.proxy_url
        status, body, headers = await m.call("POST", path, {})  # A again: over the limit
        assert status == 429 and body["error"]["code"] == "rate_limited"
        assert int(headers["Retry-After"]) > 0


async def test_sign_in_started_on_one_instance_completes_on_the_other(
        e2e_fake: RunningFake, redis_url: str, tmp_path: Path) -> None:
    secret = _secret()
    async with (
        running_stack(e2e_fake, tmp_path / "a", **_shared(redis_url, secret)) as a,
        running_stack(e2e_fake, tmp_path / "b",
                      **_shared(redis_url, secret, a.proxy_url)) as b,
    ):
        m = await a.manager()
        http = m.session
        resp = await http.get(a.proxy_url + "/auth/login", allow_redirects=False)
        authorize = resp.headers["Location"]
        page = await (await http.get(authorize)).text()
        action, fields = parse_forms(page)[0]
        fields.update(username=MANAGER, password="Mgr-Upn-Pass-1!")
        from urllib.parse import urljoin

        resp = await http.post(urljoin(authorize, action), data=fields,
                               allow_redirects=False)
        callback = resp.headers["Location"]
        assert callback.startswith(a.proxy_url + "/auth/callback")
        # The load balancer sends the callback to instance B.
        parts = urlsplit(callback)
        to_b = urlunsplit(parts._replace(netloc=urlsplit(b.proxy_url).netloc))
        resp = await http.get(to_b, allow_redirects=False)
        assert resp.status == 302, await resp.text()
        m.proxy_url = b.proxy_url
        status, me, _ = await m.call("GET", "/api/v1/me")
        assert status == 200 and me["userPrincipalName"] == MANAGER
        # The flow was single-use across instances: replaying the callback on A fails.
        replay = await http.get(callback, allow_redirects=False)
        assert replay.status != 302




async def test_pending_sign_ins_are_capped_per_address_in_redis(redis_url: str) -> None:
    """As in memory (tests/proxy/stores/test_signin_flows.py): one address's flood drops its own
    oldest pending sign-ins and nobody else's; a taken sign-in frees its place."""
    from mystaff_proxy.sealing import Sealer
    from mystaff_proxy.stores.redis import RedisFlowStore, connect

    redis = connect(redis_url)
    store = RedisFlowStore(redis, Sealer(secrets.token_bytes(32), b"flow-v1"), per_address=5)
    try:
        await store.put("elsewhere", {"n": -1}, 600, address="203.0.113.9")
        for i in range(12):
            await store.put(f"flood{i}", {"n": i}, 600, address="198.51.100.7")
        assert await redis.zcard("mystaff:flows:198.51.100.7") == 5
        assert [await store.take(f"flood{i}") is not None for i in range(12)] == \
            [False] * 7 + [True] * 5
        assert await redis.zcard("mystaff:flows:198.51.100.7") == 0  # freed when taken
        assert await store.take("elsewhere") == {"n": -1}
        # Everything it keeps expires with the pending sign-ins.
        await store.put("ttl", {"n": 0}, 600, address="198.51.100.8")
        assert 590 <= await redis.ttl("mystaff:flows:198.51.100.8") <= 600
        assert 590 <= await redis.ttl("mystaff:flow:ttl") <= 600
    finally:
        await redis.aclose()


async def test_manager_mode_tokens_are_shared_sealed_and_end_with_the_session(
        e2e_fake: RunningFake, redis_url: str, tmp_path: Path) -> None:
    """Manager mode with several instances: a manager signed in on A changes on B with the
    delegated token A stored — sealed in Redis, never readable there, gone at sign-out."""
    from redis import asyncio as aioredis

    secret = _secret()
    async with (
        running_stack(e2e_fake, tmp_path / "a", identity="manager",
                      **_shared(redis_url, secret)) as a,
        running_stack(e2e_fake, tmp_path / "b", identity="manager", reset=False,
                      **_shared(redis_url, secret, a.proxy_url)) as b,
    ):
        m = await a.manager(MANAGER)
        m.proxy_url = b.proxy_url
        staff2 = uid("staff2@e2e.example")
        status, body, _ = await m.call("POST", f"/api/v1/locations/north/staff/{staff2}/password",
                                       {})
        assert status == 200, body
        client = aioredis.from_url(redis_url)
        try:
            keys = [k async for k in client.scan_iter("*delegated:*")]
            assert len(keys) == 1
            raw = await client.get(keys[0])
            assert raw is not None and not has_jwt(raw)  # sealed: no readable JWT
            resp = await m.session.post(b.proxy_url + "/auth/logout",
                                        headers={"X-CSRF-Token": m.csrf}, allow_redirects=False)
            assert resp.status == 302
            assert [k async for k in client.scan_iter("*delegated:*")] == []
        finally:
            await client.aclose()
