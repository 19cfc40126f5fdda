"""Telling the person: a short mail after each change to their account (``[notify] sender``).

After a password reset, a Temporary Access Pass issued or removed, a phone number added,
changed or removed, or SMS sign-in switched, and only once the change's audit record is final,
the person gets a mail: what changed, when, by whom (the manager's display name), and whom to
contact if they did not expect it. Never the password, never the pass, at most the last two
digits of a number.

It is sent off the request path (a background task) and never undoes or holds back the
change: the manager has their answer already. The person's addresses are read then (their
``mail``, else their ``otherMails``); the mail goes out with Graph's
``POST /users/{sender}/sendMail`` as the app (application permission Mail.Send; README, "Telling
staff"), which answers ``202``: accepted, not yet delivered. Anything that fails on the way is
audited as ``notification_failed`` (``outcome: failed``, the change's request id and target):
``no_address``, ``mail_refused`` (Graph refused: a permission, the sender's mailbox),
``upstream_unavailable`` (Graph did not answer), ``internal_error`` (a bug, logged).

The text is in ``MESSAGES``, in every language the page speaks, written in one place.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from mystaff_proxy.audit.log import (
    AuditEvent,
    AuditLog,
    AuditUnavailable,
    EventType,
    Outcome,
    Principal,
)
from mystaff_proxy.graph.client import GraphClient
from mystaff_proxy.graph.exceptions import GraphError, GraphUnavailable

log = logging.getLogger("mystaff_proxy")

#: How long shutting down waits for mails still being sent.
DRAIN_SECONDS: Final = 5.0
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")

# -- the text ----------------------------------------------------------------------------------

#: Per language: per change, (subject, what happened); and the sentences around it. ``{type}``
#: is a phone type's name, ``{last2}`` the last two digits of the number, ``{minutes}`` a
#: pass's lifetime. Each language says the same, in its own words.
MESSAGES: Final[dict[str, dict[str, Any]]] = {
    "en": {
        EventType.PASSWORD_RESET: (
            "Your password was reset",
            "The password of your work account was reset. You will choose a new one the "
            "next time you sign in."),
        EventType.TEMPORARY_ACCESS_PASS_ISSUED: (
            "A Temporary Access Pass was issued for your account",
            "A Temporary Access Pass was issued for your work account. It is valid for "
            "{minutes} minutes."),
        EventType.TEMPORARY_ACCESS_PASS_REMOVED: (
            "Your Temporary Access Pass was removed",
            "The Temporary Access Pass of your work account was removed."),
        EventType.PHONE_ADDED: (
            "A phone number was added to your account",
            "A {type} number ending in {last2} was added to your work account."),
        EventType.PHONE_CHANGED: (
            "A phone number of your account was changed",
            "The {type} number of your work account was changed to a number ending in "
            "{last2}."),
        EventType.PHONE_REMOVED: (
            "A phone number was removed from your account",
            "The {type} number ending in {last2} was removed from your work account."),
        EventType.SMS_SIGN_IN_ENABLED: (
            "Sign-in by text message was turned on",
            "Signing in to your work account with a text message to your mobile phone was "
            "turned on."),
        EventType.SMS_SIGN_IN_DISABLED: (
            "Sign-in by text message was turned off",
            "Signing in to your work account with a text message to your mobile phone was "
            "turned off."),
        "types": {"mobile": "mobile phone", "alternateMobile": "alternate mobile phone",
                  "office": "office phone", "": "phone"},
        "greeting": "Hello {name},",
        "who": "{manager} did this on {date} at {time} UTC, through My Staff.",
        "contact": "If you did not expect this, contact {contact} right away.",
        "default_contact": "your IT helpdesk",
        "footer": "This message was sent automatically. It never contains a password or a "
                  "pass: if a message asks you for one, do not answer it.",
        "someone": "A manager",
    },
    "es": {
        EventType.PASSWORD_RESET: (
            "Se ha restablecido tu contraseña",
            "Se ha restablecido la contraseña de tu cuenta de trabajo. La próxima vez que "
            "inicies sesión tendrás que elegir una nueva."),
        EventType.TEMPORARY_ACCESS_PASS_ISSUED: (
            "Se ha emitido un pase de acceso temporal para tu cuenta",
            "Se ha emitido un pase de acceso temporal (Temporary Access Pass) para tu cuenta "
            "de trabajo. Es válido durante {minutes} minutos."),
        EventType.TEMPORARY_ACCESS_PASS_REMOVED: (
            "Se ha eliminado tu pase de acceso temporal",
            "Se ha eliminado el pase de acceso temporal de tu cuenta de trabajo."),
        EventType.PHONE_ADDED: (
            "Se ha añadido un número de teléfono a tu cuenta",
            "Se ha añadido a tu cuenta de trabajo un número de {type} que termina en {last2}."),
        EventType.PHONE_CHANGED: (
            "Se ha cambiado un número de teléfono de tu cuenta",
            "Se ha cambiado el número de {type} de tu cuenta de trabajo por uno que termina "
            "en {last2}."),
        EventType.PHONE_REMOVED: (
            "Se ha quitado un número de teléfono de tu cuenta",
            "Se ha quitado de tu cuenta de trabajo el número de {type} que terminaba en "
            "{last2}."),
        EventType.SMS_SIGN_IN_ENABLED: (
            "Se ha activado el inicio de sesión por SMS",
            "Se ha activado el inicio de sesión en tu cuenta de trabajo mediante un mensaje "
            "de texto (SMS) a tu teléfono móvil."),
        EventType.SMS_SIGN_IN_DISABLED: (
            "Se ha desactivado el inicio de sesión por SMS",
            "Se ha desactivado el inicio de sesión en tu cuenta de trabajo mediante un "
            "mensaje de texto (SMS) a tu teléfono móvil."),
        "types": {"mobile": "teléfono móvil", "alternateMobile": "teléfono móvil alternativo",
                  "office": "teléfono de la oficina", "": "teléfono"},
        "greeting": "Hola, {name}:",
        "who": "Lo ha hecho {manager} el {date} a las {time} (hora UTC) a través de My Staff.",
        "contact": "Si no esperabas este cambio, ponte en contacto de inmediato con {contact}.",
        "default_contact": "el servicio de asistencia técnica de TI",
        "footer": "Este mensaje se ha enviado automáticamente. Nunca contiene una contraseña "
                  "ni un pase: si algún mensaje te pide uno, no lo respondas.",
        "someone": "Un responsable",
    },
}
LANGUAGES: Final = tuple(MESSAGES)
#: The changes the person is told about.
NOTIFIED: Final = frozenset(k for k in MESSAGES["en"] if isinstance(k, EventType))


def _clean(text: str, limit: int = 128) -> str:
    """One line of someone's name, without control or direction-changing characters."""
    return _UNSAFE.sub(" ", text).strip()[:limit]


@dataclass(frozen=True)
class Change:
    """A change whose audit record is final (success), as the mail tells it."""

    event: EventType
    request_id: str
    actor: Principal
    manager_name: str
    target: Principal
    location: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    language: str = "en"


def compose(change: Change, person_name: str, contact: str = "") -> tuple[str, str]:
    """(subject, plain-text body) of the mail about ``change``, in its language."""
    text = MESSAGES.get(change.language, MESSAGES["en"])
    subject, what = text[change.event]
    detail = change.detail
    last2 = str(detail.get("phoneLast2", ""))[-2:] or "??"
    what = what.format(type=text["types"].get(str(detail.get("phoneType", "")),
                                              text["types"][""]),
                       last2=last2, minutes=detail.get("lifetimeInMinutes", "?"))
    when = change.time.astimezone(UTC)
    lines = [
        text["greeting"].format(name=_clean(person_name) or change.target.user_principal_name),
        "",
        what,
        text["who"].format(manager=_clean(change.manager_name) or text["someone"],
                           date=when.strftime("%Y-%m-%d"), time=when.strftime("%H:%M")),
        "",
        text["contact"].format(contact=_clean(contact, 200) or text["default_contact"]),
        "",
        text["footer"],
    ]
    return subject, "\n".join(lines) + "\n"


def addresses(person: Mapping[str, Any]) -> list[str]:
    """Where the person reads mail: their ``mail``, else their ``otherMails``."""
    mail = person.get("mail")
    if isinstance(mail, str) and mail.strip():
        return [mail.strip()]
    others = person.get("otherMails")
    if not isinstance(others, list):
        return []
    return [m.strip() for m in others if isinstance(m, str) and m.strip()][:5]


class Notifier:
    """Sends the mails, each in its own background task, and audits what failed."""

    def __init__(self, client: GraphClient, audit: AuditLog, *, sender: str,
                 contact: str = "") -> None:
        self._client = client
        self._audit = audit
        self.sender = sender
        self._contact = contact
        self._tasks: set[asyncio.Task[None]] = set()

    def changed(self, change: Change) -> None:
        """Tell the person about ``change``, later: returns at once."""
        if change.event not in NOTIFIED:
            return
        task = asyncio.get_running_loop().create_task(self._tell(change))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every mail started so far is sent or its failure audited."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        """At shutdown: a few seconds for the mails under way, then give up on the rest."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_SECONDS)
        left = list(self._tasks)
        for task in left:
            task.cancel()
        if left:
            log.warning("%d notification mails not sent: the proxy stopped", len(left))
            await asyncio.gather(*left, return_exceptions=True)

    async def _tell(self, change: Change) -> None:
        try:
            person = await self._client.get(
                f"users/{quote(change.target.id, safe='')}",
                params={"$select": "displayName,mail,otherMails"}, op="notify_person")
            to = addresses(person if isinstance(person, dict) else {})
            if not to:
                await self._failed(change, "no_address")
                return
            name = person.get("displayName") if isinstance(person, dict) else None
            subject, body = compose(change, str(name or ""), self._contact)
            await self._client.request("POST", f"users/{quote(self.sender, safe='@')}/sendMail",
                                       body=_send_mail_body(subject, body, to), op="send_mail")
        except GraphError as exc:
            reason = "upstream_unavailable" if isinstance(exc, GraphUnavailable) \
                or exc.status >= 500 or exc.status == 429 else "mail_refused"
            await self._failed(change, reason, {"graphStatus": exc.status,
                                                "graphCode": _code(exc.code)})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: the change stands, the failure is recorded
            log.error("notification of request %s failed: unexpected %s", change.request_id,
                      type(exc).__name__)
            await self._failed(change, "internal_error")

    async def _failed(self, change: Change, reason: str,
                      detail: dict[str, Any] | None = None) -> None:
        try:
            await self._audit.write(AuditEvent(
                request_id=change.request_id, event=EventType.NOTIFICATION_FAILED,
                actor=change.actor, outcome=Outcome.FAILED, target=change.target,
                location=change.location, reason=reason, detail=detail or None))
        except AuditUnavailable:
            log.error("notification_failed of request %s not audited: the audit log cannot "
                      "be written", change.request_id)


def _code(code: str) -> str:
    """Graph's error code as the audit takes it (an identifier), else ``unknown``."""
    return code if re.fullmatch(r"[A-Za-z][A-Za-z0-9_.]{0,63}", code) else "unknown"


def _send_mail_body(subject: str, body: str, to: list[str]) -> dict[str, Any]:
    return {"message": {"subject": subject, "body": {"contentType": "Text", "content": body},
                        "toRecipients": [{"emailAddress": {"address": a}} for a in to]},
            "saveToSentItems": False}
