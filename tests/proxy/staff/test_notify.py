"""The mail that tells a person their account was changed (notify.py): its words in every
language, where it goes, and what a failure leaves in the audit log."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mystaff_proxy.audit.log import AuditLog, EventType, Principal
from mystaff_proxy.graph.exceptions import GraphError, GraphForbidden, GraphUnavailable
from mystaff_proxy.staff.notify import (
    LANGUAGES,
    MESSAGES,
    NOTIFIED,
    Change,
    Notifier,
    addresses,
    compose,
)

SAM = Principal("5a000000-0000-4000-8000-000000000001", "sam@contoso.com")
BOB = Principal("b0b00000-0000-4000-8000-000000000002", "bob@contoso.com")
WHEN = datetime(2025, 3, 1, 12, 30, 5, tzinfo=UTC)
DETAILS: dict[EventType, dict[str, Any]] = {
    EventType.PASSWORD_RESET: {"method": "generated"},
    EventType.TEMPORARY_ACCESS_PASS_ISSUED: {"lifetimeInMinutes": 60, "isUsableOnce": True},
    EventType.TEMPORARY_ACCESS_PASS_REMOVED: {},
    EventType.PHONE_ADDED: {"phoneType": "mobile", "phoneLast2": "42", "phoneHash": "a" * 64},
    EventType.PHONE_CHANGED: {"phoneType": "office", "phoneLast2": "17",
                              "previousPhoneLast2": "42"},
    EventType.PHONE_REMOVED: {"phoneType": "alternateMobile", "phoneLast2": "09"},
    EventType.SMS_SIGN_IN_ENABLED: {"phoneType": "mobile", "smsSignInState": "ready"},
    EventType.SMS_SIGN_IN_DISABLED: {"phoneType": "mobile"},
}


def change(event: EventType, language: str = "en", **kw: Any) -> Change:
    return Change(event=event, request_id="req-1", actor=SAM, manager_name="Sam Rivera",
                  target=BOB, location="seattle", detail=DETAILS[event], time=WHEN,
                  language=language, **kw)


def test_every_change_reads_in_every_language() -> None:
    """A test that fails when a language lacks a sentence another one has."""
    assert set(NOTIFIED) == set(DETAILS)
    assert set(LANGUAGES) >= {"en", "es"}
    for language in LANGUAGES:
        assert set(MESSAGES[language]) == set(MESSAGES["en"]), language
        assert set(MESSAGES[language]["types"]) == set(MESSAGES["en"]["types"])


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", sorted(DETAILS))
def test_the_mail_says_what_when_and_by_whom(event: EventType, language: str) -> None:
    subject, body = compose(change(event, language), "Bob Baker")
    assert subject and "\n" not in subject
    assert "Bob Baker" in body and "Sam Rivera" in body
    assert "2025-03-01" in body and "12:30" in body and "UTC" in body
    assert "{" not in body and "??" not in body and "?" not in subject
    if "phoneLast2" in DETAILS[event]:
        assert f" {DETAILS[event]['phoneLast2']}" in body
    if event is EventType.TEMPORARY_ACCESS_PASS_ISSUED:
        assert "60 minut" in body
    # at most two digits in a row that are not the date, the time or the lifetime
    rest = re.sub(r"2025-03-01|12:30|60", "", body)
    assert not re.search(r"\d{3}", rest)


def test_spanish_is_spanish() -> None:
    subject, body = compose(change(EventType.PHONE_ADDED, "es"), "Bob Baker",
                            contact="helpdesk@contoso.com")
    assert subject == "Se ha añadido un número de teléfono a tu cuenta"
    assert body.startswith("Hola, Bob Baker:\n")
    assert "un número de teléfono móvil que termina en 42" in body
    assert "Lo ha hecho Sam Rivera el 2025-03-01 a las 12:30 (hora UTC)" in body
    assert "ponte en contacto de inmediato con helpdesk@contoso.com." in body
    _, english = compose(change(EventType.PHONE_ADDED, "xx"), "Bob")  # unknown: English
    assert english.startswith("Hello Bob,\n")


def test_names_are_one_clean_line() -> None:
    odd = Change(event=EventType.PASSWORD_RESET, request_id="r", actor=SAM,
                 manager_name="Sam\r\nBcc: evil@x.example\u202e", target=BOB, location=None,
                 time=WHEN)
    _, body = compose(odd, "")
    assert "Sam Bcc: evil@x.example did this" in body
    assert body.startswith("Hello bob@contoso.com,")  # no display name: the UPN
    _, body = compose(change(EventType.PASSWORD_RESET), "Bob", contact="")
    assert "contact your IT helpdesk right away" in body


@pytest.mark.parametrize(("person", "expected"), [
    ({"mail": "bob@contoso.com", "otherMails": ["bob@home.example"]}, ["bob@contoso.com"]),
    ({"mail": None, "otherMails": ["bob@home.example", ""]}, ["bob@home.example"]),
    ({"mail": " ", "otherMails": []}, []), ({}, []), ({"otherMails": "x@y.z"}, []),
])
def test_where_the_mail_goes(person: dict[str, Any], expected: list[str]) -> None:
    assert addresses(person) == expected


class _Graph:
    """GraphClient's get and request, answering from a script."""

    def __init__(self, person: Any, send: GraphError | None = None) -> None:
        self.person = person
        self.send = send
        self.sent: list[tuple[str, Any]] = []

    async def get(self, path: str, **kw: Any) -> Any:
        if isinstance(self.person, GraphError):
            raise self.person
        return self.person

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        if self.send is not None:
            raise self.send
        self.sent.append((path, kw["body"]))
        return None


def _notifier(tmp_path: Path, graph: _Graph) -> tuple[Notifier, Path]:
    path = tmp_path / "audit.jsonl"
    return Notifier(graph, AuditLog(path), sender="mystaff@contoso.com"), path  # type: ignore[arg-type]


async def test_sent_as_the_sender_to_the_person(tmp_path: Path) -> None:
    graph = _Graph({"displayName": "Bob", "mail": "bob@contoso.com"})
    notifier, audit = _notifier(tmp_path, graph)
    notifier.changed(change(EventType.PASSWORD_RESET))
    notifier.changed(change(EventType.PHONE_ADDED))
    assert notifier.pending == 2  # off the request path: nothing sent yet
    await notifier.drain()
    assert [p for p, _ in graph.sent] == ["users/mystaff@contoso.com/sendMail"] * 2
    message = graph.sent[0][1]["message"]
    assert message["toRecipients"] == [{"emailAddress": {"address": "bob@contoso.com"}}]
    assert message["body"]["contentType"] == "Text"
    assert graph.sent[0][1]["saveToSentItems"] is False
    assert not audit.exists()


@pytest.mark.parametrize(("graph", "reason", "detail"), [
    (_Graph({"displayName": "Bob", "mail": None, "otherMails": []}), "no_address", None),
    (_Graph({"mail": "bob@contoso.com"}, GraphForbidden(403, "ErrorAccessDenied", "no")),
     "mail_refused", {"graphStatus": 403, "graphCode": "ErrorAccessDenied"}),
    (_Graph({"mail": "bob@contoso.com"}, GraphUnavailable(503, "unknown", "down")),
     "upstream_unavailable", {"graphStatus": 503, "graphCode": "unknown"}),
    (_Graph(GraphUnavailable(504, "timeout", "slow")), "upstream_unavailable",
     {"graphStatus": 504, "graphCode": "timeout"}),
    (_Graph(["not", "a", "user"]), "no_address", None),
])
async def test_a_failure_is_audited_and_nothing_else(tmp_path: Path, graph: _Graph,
                                                     reason: str,
                                                     detail: dict[str, Any] | None) -> None:
    notifier, audit = _notifier(tmp_path, graph)
    notifier.changed(change(EventType.PHONE_REMOVED))
    await notifier.drain()
    [record] = [json.loads(line) for line in audit.read_text().splitlines()]
    assert (record["event"], record["outcome"], record["reason"]) == (
        "notification_failed", "failed", reason)
    assert record["requestId"] == "req-1" and record["target"]["id"] == BOB.id
    assert record["actor"]["id"] == SAM.id and record["location"] == "seattle"
    assert record.get("detail") == detail


async def test_not_about_a_change_no_mail(tmp_path: Path) -> None:
    notifier, _ = _notifier(tmp_path, _Graph({"mail": "bob@contoso.com"}))
    notifier.changed(Change(event=EventType.SIGN_IN, request_id="r", actor=SAM,
                            manager_name="Sam", target=BOB, location=None))
    assert notifier.pending == 0


async def test_shutdown_waits_then_gives_up(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    class Slow(_Graph):
        async def get(self, path: str, **kw: Any) -> Any:
            await asyncio.sleep(3600)

    monkeypatch.setattr("mystaff_proxy.staff.notify.DRAIN_SECONDS", 0.05)
    notifier, _ = _notifier(tmp_path, Slow({}))
    notifier.changed(change(EventType.PASSWORD_RESET))
    await notifier.close()
    assert notifier.pending == 0
