"""The outside test's escalation, replayed on the demo exactly as a new user runs it.

``mystaff-proxy demo`` (fake_graph's demo tenant, ``mystaff_proxy/demo_files/demo.yaml``
unchanged): Alex, a Seattle shift lead (reset_password only), tried to reset Sam, the store
manager of Seattle and Tacoma (both actions), and to put a phone number on Sam's account.
Every path answers ``protected_user`` and leaves Sam's account as it was; Sam can still reset
Alex.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from e2e_checks import error_code
from e2e_support import Manager, client_ssl, parse_forms

from mystaff_proxy.demo import running_demo

SAM, SAM_PASSWORD = "sam.rivera@contoso.example", "Demo-Manager-1!"
ALEX, ALEX_PASSWORD = "alex.kim@contoso.example", "Demo-Lead-1!"
TAYLOR = "taylor.brooks@contoso.example"  # a Seattle cashier


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[str, object]]:
    async with running_demo(workdir=tmp_path) as (url, fake, _):
        yield url, fake


async def _manager(url: str, fake: object, upn: str, password: str,
                   sessions: list[aiohttp.ClientSession]) -> Manager:
    connector = aiohttp.TCPConnector(ssl=client_ssl(fake.ca_file))  # type: ignore[attr-defined]
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                    connector=connector)
    sessions.append(session)
    manager = Manager(session, url)
    await manager.sign_in(upn, password)
    return manager


def _account(fake: object, upn: str) -> tuple[str, bool, dict[str, str]]:
    user = fake.fake.directory.find_user(upn)  # type: ignore[attr-defined]
    return user.password, user.force_change_password_next_sign_in, \
        {t: p.number for t, p in user.phones.items()}


async def test_the_shift_lead_cannot_take_over_the_store_manager(
        demo: tuple[str, object]) -> None:
    url, fake = demo
    sessions: list[aiohttp.ClientSession] = []
    try:
        alex = await _manager(url, fake, ALEX, ALEX_PASSWORD, sessions)
        sam_id = fake.fake.directory.find_user(SAM).id  # type: ignore[attr-defined]
        before = _account(fake, SAM)
        api = f"/api/v1/locations/seattle/staff/{sam_id}"
        status, body, _ = await alex.call("GET", api)
        assert status == 200 and body["actions"] == []
        status, body, _ = await alex.call("POST", api + "/password", {})
        assert (status, error_code(body)) == (403, "protected_user"), body
        # Alex may not manage phones anywhere: the documented order answers that first
        # (forbidden comes before protected_user); refused and unchanged all the same.
        for method, path, payload in (
                ("POST", api + "/phone-methods",
                 {"phoneType": "mobile", "phoneNumber": "+1 206 555 0199"}),
                ("PATCH", api + "/phone-methods/mobile", {"phoneNumber": "+1 206 555 0199"}),
                ("DELETE", api + "/phone-methods/mobile", None)):
            status, body, _ = await alex.call(method, path, payload)
            assert (status, error_code(body)) == (403, "forbidden"), (method, path, body)
        # The page: no reset button, and a forged form post is refused.
        page_url = f"{url}/locations/seattle/staff/{sam_id}"
        async with alex.session.get(page_url) as resp:
            assert resp.status == 200
            assert not [a for a, _ in parse_forms(await resp.text()) if a.endswith("/password")]
        taylor_id = fake.fake.directory.find_user(TAYLOR).id  # type: ignore[attr-defined]
        async with alex.session.get(f"{url}/locations/seattle/staff/{taylor_id}/password") as r:
            fields = next(f for a, f in parse_forms(await r.text()) if a.endswith("/password"))
        async with alex.session.post(page_url + "/password", data=fields,
                                     allow_redirects=False) as resp:
            assert resp.status == 403
        assert _account(fake, SAM) == before

        # Sam, who holds everything Alex holds and more, can still reset Alex.
        sam = await _manager(url, fake, SAM, SAM_PASSWORD, sessions)
        alex_id = fake.fake.directory.find_user(ALEX).id  # type: ignore[attr-defined]
        status, body, _ = await sam.call(
            "POST", f"/api/v1/locations/seattle/staff/{alex_id}/password", {})
        assert status == 200, body
        assert _account(fake, ALEX)[:2] == (body["temporaryPassword"], True)
    finally:
        for session in sessions:
            await session.close()
