"""Telling staff (``[notify] sender``), end to end, in both identity modes: each change makes
one mail in the fake's outbox, to the person (``mail``, else ``otherMails``), from the sender,
sent as the app, saying what, when and by whom — never the password, the pass or a whole
number. A mail that cannot be sent is audited ``notification_failed``; the change stands.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from e2e_checks import AuditTail, policy_variant
from e2e_support import CLIENT_ID, Manager, Stack, running_stack, uid

from fake_graph import derive_id
from fake_graph.control import parse_fault
from fake_graph.directory import User
from fake_graph.embedded import RunningFake
from fake_graph.graph.mail import outbox
from mystaff_proxy.web.services import SERVICES

SENDER = "mystaff@e2e.example"
MGR = "mgr.upn@e2e.example"  # Mona ByUpn
STAFF1, STAFF2, STAFF3 = "staff1@e2e.example", "staff2@e2e.example", "staff3@e2e.example"
HOME = "sara@home.example"  # staff2 has no mailbox, only this address in otherMails
BASE = "/api/v1/locations/north/staff"
ALL = "[reset_password, manage_phone, issue_temporary_access_pass, manage_sms_sign_in]"


def prepare_tenant(fake: RunningFake) -> None:
    """The sender's mailbox, Mail.Send for the proxy's app, staff2's private address."""
    fake.fake.reset()
    directory = fake.fake.directory
    directory.add_user(User(id=derive_id("user", SENDER), user_principal_name=SENDER,
                            display_name="My Staff", password="Mailbox-Only-1!", mail=SENDER))
    directory.applications[CLIENT_ID].application_permissions.append("Mail.Send")
    user = directory.find_user(STAFF2)
    assert user is not None
    user.other_mails = [HOME]


@pytest.fixture(params=["app", "manager"])
async def stack(request: pytest.FixtureRequest, e2e_fake: RunningFake,
                tmp_path: Path) -> AsyncIterator[Stack]:
    template = policy_variant(
        tmp_path,
        ('  - managers: ["mgr.upn@e2e.example"]\n    locations: [north]\n'
         "    allow: [reset_password, manage_phone]",
         f'  - managers: ["mgr.upn@e2e.example"]\n    locations: [north]\n    allow: {ALL}'))
    prepare_tenant(e2e_fake)
    async with running_stack(e2e_fake, tmp_path / "s", policy_template=template,
                             identity=request.param, reset=False,
                             notify={"sender": SENDER,
                                     "contact": "the IT helpdesk, helpdesk@e2e.example"}) as s:
        yield s


async def _mails_after(stack: Stack, m: Manager, method: str, path: str, body: Any = None,
                       want: int = 200) -> tuple[Any, list[dict[str, Any]]]:
    """Make one change; the answer and the mails it made (once the mails are under way)."""
    seen = len(outbox(stack.fake.fake))
    status, answer, _ = await m.call(method, path, body)
    assert status == want, answer
    notifier = stack.app[SERVICES].staff.notifier
    assert notifier is not None
    await notifier.drain()
    return answer, outbox(stack.fake.fake)[seen:]


def _no_secret(mail: dict[str, Any], *secrets: str) -> None:
    text = json.dumps(mail)
    for secret in secrets:
        assert secret not in text, secret
        digits = re.sub(r"\D", "", secret)
        if len(digits) > 4:
            assert digits not in re.sub(r"\D", "", mail["body"]), secret


async def test_each_change_makes_one_mail_to_the_person(stack: Stack) -> None:
    m = await stack.manager(MGR)
    staff2, staff1 = f"{BASE}/{uid(STAFF2)}", f"{BASE}/{uid(STAFF1)}"

    reset, [mail] = await _mails_after(stack, m, "POST", f"{staff2}/password", {})
    assert (mail["from"], mail["to"]) == (SENDER, [HOME])  # no mailbox: otherMails
    assert mail["subject"] == "Your password was reset"
    assert "Mona ByUpn did this on " in mail["body"] and "Hello Sara Staff," in mail["body"]
    assert "contact the IT helpdesk, helpdesk@e2e.example right away" in mail["body"]
    _no_secret(mail, reset["temporaryPassword"])

    issued, [mail] = await _mails_after(stack, m, "POST", f"{staff2}/temporary-access-pass",
                                        {}, want=201)
    assert mail["subject"] == "A Temporary Access Pass was issued for your account"
    assert "valid for 60 minutes" in mail["body"]
    _no_secret(mail, issued["temporaryAccessPass"])
    _, [mail] = await _mails_after(stack, m, "DELETE", f"{staff2}/temporary-access-pass",
                                   want=204)
    assert mail["subject"] == "Your Temporary Access Pass was removed"

    _, [mail] = await _mails_after(stack, m, "POST", f"{staff2}/phone-methods",
                                   {"phoneType": "mobile", "phoneNumber": "4255550123"},
                                   want=201)
    assert "mobile phone number ending in 23 was added" in mail["body"]
    _no_secret(mail, "+1 4255550123", "425 555 0123", "4255550123", "5550123")
    _, [mail] = await _mails_after(stack, m, "PATCH", f"{staff2}/phone-methods/mobile",
                                   {"phoneNumber": "4255550177"})
    assert "changed to a number ending in 77" in mail["body"]
    _no_secret(mail, "4255550177", "4255550123")
    _, [mail] = await _mails_after(stack, m, "DELETE", f"{staff2}/phone-methods/mobile",
                                   want=204)
    assert "number ending in 77 was removed" in mail["body"]

    for method, subject in (("POST", "Sign-in by text message was turned on"),
                            ("DELETE", "Sign-in by text message was turned off")):
        _, [mail] = await _mails_after(stack, m, method, f"{staff1}/phone-methods/mobile/"
                                       "sms-sign-in")
        assert (mail["to"], mail["subject"]) == ([STAFF1], subject)  # staff1's mailbox
        _no_secret(mail, "2065550101")
    assert len(outbox(stack.fake.fake)) == 8
    assert not [r for r in stack.audit() if r["event"] == "notification_failed"]


async def test_the_mail_is_in_the_language_of_the_page(stack: Stack) -> None:
    m = await stack.manager(MGR)
    seen = len(outbox(stack.fake.fake))
    status, body, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/phone-methods",
                                   {"phoneType": "office", "phoneNumber": "4255550188"},
                                   headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    assert status == 201, body
    notifier = stack.app[SERVICES].staff.notifier
    assert notifier is not None
    await notifier.drain()
    [mail] = outbox(stack.fake.fake)[seen:]
    assert mail["subject"] == "Se ha añadido un número de teléfono a tu cuenta"
    assert mail["body"].startswith("Hola, Sara Staff:\n")
    assert "un número de teléfono de la oficina que termina en 88" in mail["body"]
    assert "Lo ha hecho Mona ByUpn el " in mail["body"]
    _no_secret(mail, "4255550188")


async def test_refusals_and_reads_make_no_mail(stack: Stack) -> None:
    m = await stack.manager(MGR)
    _, mails = await _mails_after(stack, m, "GET", f"{BASE}/{uid(STAFF2)}")
    assert mails == []
    _, mails = await _mails_after(stack, m, "POST", f"{BASE}/{uid('ceo@e2e.example')}/password",
                                  {}, want=403)
    assert mails == []


async def test_a_mail_that_fails_is_audited_and_the_change_stands(stack: Stack) -> None:
    m = await stack.manager(MGR)
    stack.fake.fake.faults.add(parse_fault({"path": "/sendMail$", "status": 503}))
    audit = AuditTail(stack)
    reset, mails = await _mails_after(stack, m, "POST", f"{BASE}/{uid(STAFF2)}/password", {})
    assert mails == []
    assert stack.fake_user(STAFF2).password == reset["temporaryPassword"]  # it stands
    change, failed = audit.new()
    assert (change["event"], change["outcome"]) == ("password_reset", "success")
    assert (failed["event"], failed["outcome"], failed["reason"]) == (
        "notification_failed", "failed", "upstream_unavailable")
    assert failed["requestId"] == change["requestId"]
    assert failed["target"] == change["target"] and failed["actor"] == change["actor"]
    assert failed["location"] == "north"
    assert failed["detail"]["graphStatus"] == 503
    # someone with neither a mailbox nor another address
    stack.fake.fake.faults.clear()
    _, mails = await _mails_after(stack, m, "POST", f"{BASE}/{uid(STAFF3)}/password", {})
    assert mails == []
    assert [(r["event"], r.get("reason")) for r in audit.new()] == [
        ("password_reset", None), ("notification_failed", "no_address")]


async def test_the_app_without_mail_send_is_refused_by_exchange(e2e_fake: RunningFake,
                                                                tmp_path: Path) -> None:
    prepare_tenant(e2e_fake)
    e2e_fake.fake.directory.applications[CLIENT_ID].application_permissions.remove("Mail.Send")
    async with running_stack(e2e_fake, tmp_path, reset=False,
                             notify={"sender": SENDER}) as s:
        m = await s.manager(MGR)
        _, mails = await _mails_after(s, m, "POST", f"{BASE}/{uid(STAFF2)}/password", {})
        assert mails == []
        failed = s.audit()[-1]
        assert (failed["event"], failed["reason"], failed["detail"]) == (
            "notification_failed", "mail_refused",
            {"graphStatus": 403, "graphCode": "ErrorAccessDenied"})


async def test_off_without_a_sender(e2e_fake: RunningFake, tmp_path: Path) -> None:
    prepare_tenant(e2e_fake)
    async with running_stack(e2e_fake, tmp_path, reset=False) as s:
        assert s.app[SERVICES].staff.notifier is None
        m = await s.manager(MGR)
        status, _, _ = await m.call("POST", f"{BASE}/{uid(STAFF2)}/password", {})
        assert status == 200 and outbox(s.fake.fake) == []
