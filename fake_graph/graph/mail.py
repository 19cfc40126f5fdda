"""``POST /users/{id}/sendMail``, and the outbox that ``GET /_fake/mail`` shows.

Learn: "user: sendMail", https://learn.microsoft.com/graph/api/user-sendmail.

- ``202 Accepted`` with no body: accepted for delivery, not delivered. The fake delivers
  nothing; it keeps each message in an outbox (``/_fake/reset`` empties it).
- Permissions: ``Mail.Send``. Application: any mailbox of the tenant (Exchange Online's RBAC
  for Applications can narrow that to a management scope; Graph cannot show such a scope, and
  the fake does not model it). Delegated: the signed-in user's own mailbox only (another's
  needs ``Mail.Send.Shared`` and a mailbox permission, which the fake does not model: 403).
  Refused: ``403 ErrorAccessDenied``, "Access is denied. Check credentials and try again.",
  Exchange's answer rather than the directory's.
- The sender must have a mailbox, which for the fake is a user with ``mail``: an unknown user
  is ``404 ErrorInvalidUser``, one without a mailbox ``404 MailboxNotEnabledForRESTAPI``.
- The body is ``{"message": {"subject", "body": {"contentType": "Text" | "HTML", "content"},
  "toRecipients": [{"emailAddress": {"address"}}], ...}, "saveToSentItems"}``; a message
  without a recipient, or with an address that is not one, is ``400 ErrorInvalidRecipients``.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ..errors import GraphErrorResult
from ..state import FakeGraph
from . import permissions
from .context import GraphRequest, GraphResponse

_STATE_KEY = "graph.mail"  # graph.* state is dropped by /_fake/reset
_ADDRESS = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")
_MESSAGE_KEYS = {"subject", "body", "toRecipients", "ccRecipients", "bccRecipients",
                 "replyTo", "importance", "@odata.type"}


def outbox(fake: FakeGraph) -> list[dict[str, Any]]:
    """The messages sent since the last reset, oldest first: ``from``, ``to`` (addresses),
    ``subject``, ``body`` (the content as sent) and ``time`` (when it was accepted)."""
    current = fake.state.get(_STATE_KEY)
    if not isinstance(current, list):
        current = []
        fake.state[_STATE_KEY] = current
    return current


def _denied() -> GraphErrorResult:
    return GraphErrorResult(403, "ErrorAccessDenied",
                            "Access is denied. Check credentials and try again.")


def _bad(message: str, code: str = "ErrorInvalidRequest") -> GraphErrorResult:
    return GraphErrorResult(400, code, message)


def _recipients(message: dict[str, Any]) -> list[str]:
    out = []
    for key in ("toRecipients", "ccRecipients", "bccRecipients"):
        items = message.get(key, [])
        if not isinstance(items, list):
            raise _bad(f"Invalid value for property '{key}'.")
        for item in items:
            address = item.get("emailAddress", {}).get("address") \
                if isinstance(item, dict) and isinstance(item.get("emailAddress"), dict) \
                else None
            if not isinstance(address, str) or not _ADDRESS.fullmatch(address.strip()):
                raise _bad("At least one recipient isn't valid.", "ErrorInvalidRecipients")
            out.append(address.strip())
    if not out:
        raise _bad("At least one recipient isn't valid., A message can't be sent because it "
                   "contains no recipients.", "ErrorInvalidRecipients")
    return out


def _content(message: dict[str, Any]) -> tuple[str, str]:
    subject = message.get("subject", "")
    body = message.get("body", {})
    if not isinstance(subject, str) or not isinstance(body, dict):
        raise _bad("Invalid value for property 'subject' or 'body'.")
    kind, content = body.get("contentType", "Text"), body.get("content", "")
    if not isinstance(kind, str) or kind.lower() not in ("text", "html") \
            or not isinstance(content, str):
        raise _bad("Invalid value for property 'body': contentType is Text or HTML.")
    return subject, content


async def send_mail(req: GraphRequest) -> GraphResponse:
    caller = req.caller
    if not permissions.SEND_MAIL.satisfied_by(caller):
        raise _denied()
    ref = req.params["user"]
    sender = req.directory.find_user(ref)
    if sender is None:
        raise GraphErrorResult(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid.")
    if not caller.app_only and caller.object_id != sender.id:
        raise _denied()  # another's mailbox: Mail.Send.Shared and a mailbox permission
    if not sender.mail:
        raise GraphErrorResult(404, "MailboxNotEnabledForRESTAPI",
                               "The mailbox is either inactive, soft-deleted, or is hosted "
                               "on-premise.")
    # The action's parameters are "Message" and "SaveToSentItems" in Graph's metadata (what
    # msgraph-sdk sends); the documentation writes them in camelCase. Both are accepted.
    body = {str(k).lower(): v for k, v in req.body.items()} \
        if isinstance(req.body, dict) else None
    if body is None or not isinstance(body.get("message"), dict):
        raise _bad("Empty Payload. JSON content expected.")
    if set(body) - {"message", "savetosentitems"}:
        raise _bad("Invalid request: unknown property.")
    message = body["message"]
    unknown = set(message) - _MESSAGE_KEYS
    if unknown:
        raise _bad(f"The property '{sorted(unknown)[0]}' does not exist on type "
                   "'Microsoft.OutlookServices.Message'.")
    to = _recipients(message)
    subject, content = _content(message)
    outbox(req.fake).append({
        "from": sender.mail, "to": to, "subject": subject, "body": content,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    return GraphResponse(status=202)
