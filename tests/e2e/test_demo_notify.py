"""The demo tells staff: a reset by Sam leaves one mail in the fake's outbox, from the demo's
mailbox to the person, without the password; again after ``POST /_fake/reset``. The demo's
app registration asks for ``auth_time`` and holds Mail.Send."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from e2e_support import Manager, client_ssl

from fake_graph import demo as demo_tenant
from fake_graph.graph.mail import outbox
from mystaff_proxy.demo import DEMO_SENDER, banner_lines, running_demo

MORGAN_DIAZ = "morgan.diaz@contoso.example"  # a Seattle cashier, with a mailbox


async def _mails(fake: object, count: int) -> list[dict[str, object]]:
    """The outbox once it holds ``count`` mails (they are sent off the request path)."""
    for _ in range(200):
        mails = outbox(fake.fake)  # type: ignore[attr-defined]
        if len(mails) >= count:
            return mails
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} mails, have {len(mails)}")


@pytest.mark.parametrize("identity", ["app", "manager"])
async def test_a_reset_in_the_demo_mails_the_person(tmp_path: Path, identity: str) -> None:
    async with running_demo(workdir=tmp_path, identity=identity) as (url, fake, _):
        connector = aiohttp.TCPConnector(ssl=client_ssl(fake.ca_file))
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                         connector=connector) as http:
            for round_ in (1, 2):
                sam = Manager(http, url)
                await sam.sign_in(demo_tenant.MANAGER.upn, demo_tenant.MANAGER.password)
                target = fake.fake.directory.find_user(MORGAN_DIAZ)
                status, body, _ = await sam.call(
                    "POST", f"/api/v1/locations/seattle/staff/{target.id}/password", {})
                assert status == 200, body
                [mail] = await _mails(fake, 1)
                assert (mail["from"], mail["to"]) == (DEMO_SENDER, [MORGAN_DIAZ])
                assert "Sam Rivera did this" in str(mail["body"])
                assert body["temporaryPassword"] not in json.dumps(mail)
                if round_ == 1:  # the mailbox comes back after a reset of the fake
                    async with http.post(fake.url + "/_fake/reset") as resp:
                        assert resp.status == 204
                    assert outbox(fake.fake) == []


async def test_the_demo_app_asks_for_auth_time_and_holds_mail_send(tmp_path: Path) -> None:
    async with running_demo(workdir=tmp_path) as (_, fake, _):
        app = fake.fake.directory.applications[demo_tenant.CLIENT_ID]
        assert app.optional_claims == ["auth_time"]
        assert "Mail.Send" in app.application_permissions


def test_the_banner_says_where_the_mails_are(tmp_path: Path) -> None:
    text = "\n".join(banner_lines("http://127.0.0.1:8080", "https://127.0.0.1:1", tmp_path))
    assert "https://127.0.0.1:1/_fake/mail" in text
