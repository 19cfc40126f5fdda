"""Bulk reset on the page, in Debian's Chromium: a manager selects everyone on the staff
list, confirms, and gets each person's temporary password once (checked against the fake
tenant), with slips to print; Chromium's print to PDF of the result holds one slip per person
and nothing else. axe on each new page; no console errors or CSP violations (``browse``).
"""

from __future__ import annotations

import io
import re
import unicodedata

import pytest
from pypdf import PdfReader

from .conftest import Browse
from .live import SAM, LiveSystem

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAM_ID = "a1000000-0000-4000-8000-000000000001"  # in Seattle: the manager themself


def _pdf_text(pdf: bytes) -> str:
    """The PDF's text, ligatures (Chromium prints "fi" as one glyph) spelled out."""
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    return unicodedata.normalize("NFKC", text)


def test_select_all_reset_and_print_slips(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM, start="/locations/seattle")
    assert page.url == live.url + "/locations/seattle"
    boxes = page.locator('.people input[name="id"]')
    shown = boxes.count()
    # The demo's Seattle store has fewer than 20 people: all of them, the manager among them.
    assert shown >= 10
    assert page.get_by_role("button", name="Reset passwords of the selected").is_disabled()
    page.get_by_label("Select all on this page").check()
    assert page.locator(".selected-count").inner_text() == f"{shown} people selected"
    page.get_by_label("Select Alex Kim").uncheck()
    assert page.locator(".selected-count").inner_text() == f"{shown - 1} people selected"
    page.get_by_label("Select Alex Kim").check()
    browse.check()
    names = page.locator(".people .name").all_inner_texts()
    upns = [m.split(" · ")[0] for m in page.locator(".people .meta").all_inner_texts()]
    before = {upn: live.user(upn)["password"] for upn in upns}

    page.get_by_role("button", name="Reset passwords of the selected").click()
    assert "/locations/seattle/password-resets?id=" in page.url
    assert page.locator(".names .name").all_inner_texts() == names
    browse.check()
    assert {upn: live.user(upn)["password"] for upn in upns} == before  # nothing yet

    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name=f"Reset {shown} passwords").click()
    assert answer.value.status == 200
    assert answer.value.headers["cache-control"] == "no-store"
    slips = page.locator(".slip")
    assert slips.count() == shown
    passwords: dict[str, str] = {}
    refused: dict[str, str] = {}
    for i in range(shown):
        slip = slips.nth(i)
        name = slip.locator("h2").inner_text()
        upn = slip.locator(".upn").inner_text()
        assert (name, upn) == (names[i], upns[i])
        if slip.locator(".error").count():  # protected: the reason, not a password
            refused[upn] = slip.locator(".error").inner_text()
            assert slip.locator("code").count() == 0
            assert live.user(upn)["password"] == before[upn]
            continue
        code = slip.locator("code")
        password = code.evaluate("e => e.textContent")
        assert re.fullmatch(r"[A-Za-z]+(-[A-Za-z]+){3}-\d\d", password), password
        assert code.locator(".group").count() == 5  # four words and the digits, read aloud
        state = live.user(upn)
        assert state["password"] == password != before[upn]
        assert state["forceChangePasswordNextSignIn"] is True
        passwords[upn] = password
    # The manager's own account is protected: it comes back with the reason, in words.
    assert "This account is protected" in refused.pop(SAM.upn)
    assert len(passwords) == shown - 1 - len(refused)
    assert f"{len(passwords)} of {shown} passwords reset." in browse.text()
    browse.check("bulk-reset")

    # Copying gives the exact string, without the gaps shown for reading aloud.
    browse.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    first = next(iter(passwords))
    page.get_by_role("button", name=f"Copy the password of {names[upns.index(first)]}").click()
    assert page.evaluate("navigator.clipboard.readText()") == passwords[first]

    # Printed (print media, as the print button's window.print() would): the slips only.
    pdf = _pdf_text(page.pdf(format="A4"))
    flat = re.sub(r"\s+", "", pdf)
    for upn, password in passwords.items():
        assert upn in flat and password in flat, (upn, pdf)
        assert re.sub(r"\s+", "", names[upns.index(upn)]) in flat
    assert flat.count("Changeitwhenyoufirstsignin.") == len(passwords)
    assert flat.count("Temporarypassword") == len(passwords)
    for other in ("Print slips", "Done", "Sign out", "Copy", "My Staff", "Español",
                  "Passwords reset", "Locations", SAM.upn):
        assert re.sub(r"\s+", "", other) not in flat, (other, pdf)
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name="Print slips").is_visible()
    assert not page.locator("header.top").is_visible()
    assert page.locator(".slip:not(.failed)").count() == len(passwords)
    border = page.locator(".slip").nth(1).evaluate(
        "e => getComputedStyle(e).borderBottomStyle + ' ' + getComputedStyle(e).breakInside")
    assert border == "dashed avoid"
    page.emulate_media(media="screen")
    assert page.get_by_role("button", name="Print slips").is_visible()

    # A reload re-posts the form: nothing is reset a second time.
    page.reload()
    assert page.url == live.url + "/locations/seattle?done=bulk_already"
    assert "already done" in page.get_by_role("status").first.inner_text()
    assert {upn: live.user(upn)["password"] for upn in passwords} == passwords


def test_bulk_reset_page_in_spanish(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM, start="/locations/seattle")
    browse.goto("/locations/seattle?lang=es")
    page.locator(f'.people input[value="{SAM_ID}"]').check()
    page.locator('.people input[name="id"]').nth(1).check()
    assert page.locator(".selected-count").inner_text() == "2 personas seleccionadas"
    page.locator("form[data-bulk] button[type=submit]").click()
    assert "Restablecer" in browse.text()
    page.locator("main form[method=post] button[type=submit]").click()
    assert "Cámbiela" in browse.text()
    browse.check()
