"""``POST /users/{id}/sendMail`` and ``GET /_fake/mail``: 202 with no body, the message kept in
the outbox; application Mail.Send for any mailbox, delegated Mail.Send for one's own only."""

from __future__ import annotations

from typing import Any

import pytest
from graph_support import (
    PROXY_APP,
    Served,
    app_token,
    graph_client,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
    user_token,
)

ALICE, BOB = "alice@contoso.test", "bob@contoso.test"


def message(*to: str, subject: str = "Your password was reset") -> dict[str, Any]:
    return {"message": {"subject": subject,
                        "body": {"contentType": "Text", "content": "Hello.\nIt was Sam."},
                        "toRecipients": [{"emailAddress": {"address": a}} for a in to]},
            "saveToSentItems": False}


async def outbox(served: Served) -> list[dict[str, Any]]:
    status, body, _ = await served.call("GET", served.base_url + "/_fake/mail")
    assert status == 200
    value: list[dict[str, Any]] = body["value"]
    return value


async def test_an_app_with_mail_send_sends_as_a_mailbox(served: Served) -> None:
    token = app_token(served.fake, PROXY_APP, roles=["Mail.Send"])
    status, body, _ = await served.call("POST", f"/users/{ALICE}/sendMail", token=token,
                                        json=message("bob@contoso.test", "bob@home.example"))
    assert (status, body) == (202, None)
    [sent] = await outbox(served)
    assert sent["from"] == "alice@contoso.test"
    assert sent["to"] == ["bob@contoso.test", "bob@home.example"]
    assert (sent["subject"], sent["body"]) == ("Your password was reset", "Hello.\nIt was Sam.")
    assert sent["time"].endswith("Z")
    # by object id too; the outbox keeps the order; a reset empties it
    status, _, _ = await served.call("POST", f"/users/{uid(ALICE)}/sendMail", token=token,
                                     json=message(BOB, subject="second"))
    assert status == 202
    assert [m["subject"] for m in await outbox(served)] == ["Your password was reset", "second"]
    status, _, _ = await served.call("POST", served.base_url + "/_fake/reset")
    assert status == 204 and await outbox(served) == []


async def test_without_mail_send_exchange_says_access_denied(served: Served) -> None:
    for token in (app_token(served.fake, PROXY_APP, roles=["User.Read.All"]),
                  user_token(served.fake, ALICE, ["User.Read"]),
                  user_token(served.fake, ALICE, ["Mail.Send"])):  # another's mailbox
        status, body, _ = await served.call("POST", f"/users/{BOB}/sendMail", token=token,
                                            json=message(ALICE))
        assert status == 403, body
        assert body["error"]["code"] == "ErrorAccessDenied"
    assert await outbox(served) == []
    # delegated Mail.Send: one's own mailbox
    status, _, _ = await served.call("POST", f"/users/{ALICE}/sendMail",
                                     token=user_token(served.fake, ALICE, ["Mail.Send"]),
                                     json=message(BOB))
    assert status == 202
    assert [m["from"] for m in await outbox(served)] == ["alice@contoso.test"]


async def test_no_such_mailbox_and_no_recipient(served: Served) -> None:
    token = app_token(served.fake, PROXY_APP, roles=["Mail.Send"])
    status, body, _ = await served.call("POST", "/users/nobody@contoso.test/sendMail",
                                        token=token, json=message(BOB))
    assert (status, body["error"]["code"]) == (404, "ErrorInvalidUser")
    mailless = next(u for u in served.fake.directory.users.values() if not u.mail)
    status, body, _ = await served.call("POST", f"/users/{mailless.id}/sendMail", token=token,
                                        json=message(BOB))
    assert (status, body["error"]["code"]) == (404, "MailboxNotEnabledForRESTAPI")
    for bad in (message(), message("not an address"), {"message": "hi"}, {}):
        status, body, _ = await served.call("POST", f"/users/{ALICE}/sendMail", token=token,
                                            json=bad)
        assert status == 400, bad
    assert await outbox(served) == []


async def test_a_fault_on_send_mail(served: Served) -> None:
    status, _, _ = await served.call("POST", served.base_url + "/_fake/faults",
                                     json={"path": "/sendMail$", "status": 503, "count": 1})
    assert status == 201
    token = app_token(served.fake, PROXY_APP, roles=["Mail.Send"])
    status, _, _ = await served.call("POST", f"/users/{ALICE}/sendMail", token=token,
                                     json=message(BOB))
    assert status == 503 and await outbox(served) == []


async def test_other_mails_are_read_back(served: Served) -> None:
    served.fake.directory.find_user(BOB).other_mails = ["bob@home.example"]  # type: ignore[union-attr]
    status, body, _ = await served.call("GET", f"/users/{uid(BOB)}?$select=mail,otherMails",
                                        token=app_token(served.fake, PROXY_APP))
    assert status == 200
    assert (body["mail"], body["otherMails"]) == ("bob@contoso.test", ["bob@home.example"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*")
async def test_msgraph_sdk_sends_mail(served: Served) -> None:
    from msgraph.generated.models.body_type import BodyType
    from msgraph.generated.models.email_address import EmailAddress
    from msgraph.generated.models.item_body import ItemBody
    from msgraph.generated.models.message import Message
    from msgraph.generated.models.recipient import Recipient
    from msgraph.generated.users.item.send_mail.send_mail_post_request_body import (
        SendMailPostRequestBody,
    )

    client = graph_client(served.base_url, app_token(served.fake, PROXY_APP,
                                                     roles=["Mail.Send"]))
    await client.users.by_user_id(ALICE).send_mail.post(SendMailPostRequestBody(
        message=Message(subject="From the SDK",
                        body=ItemBody(content_type=BodyType.Text, content="Hello"),
                        to_recipients=[Recipient(email_address=EmailAddress(address=BOB))]),
        save_to_sent_items=False))
    [sent] = await outbox(served)
    assert (sent["subject"], sent["body"], sent["to"]) == ("From the SDK", "Hello", [BOB])
