"""Temporary Access Pass and phone-number (SMS) sign-in on the managers' page, in Chromium at
phone width: the lost-phone flow end to end (the pass issued, copied, and used at the fake's
sign-in page once), a reload that must not issue a second pass, SMS sign-in on and off, and
what the page says when it cannot be done. axe on every new page; no console errors, CSP
violations or dialogs (the ``browse`` fixture).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fake_graph.directory import Phone
from fake_graph.state import FakeGraph

from .conftest import PHONE, Browse
from .live import AVERY, PRIYA, ROBIN, SAM, LiveSystem

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AVERY_ID = "a1000000-0000-4000-8000-000000000007"   # Seattle, mobile (206) 555-0107
ALEX = "a1000000-0000-4000-8000-000000000002"       # Seattle, no phones
JORDAN = "a1000000-0000-4000-8000-000000000003"     # Seattle, mobile (206) 555-0103
SKYLER = "a1000000-0000-4000-8000-000000000015"     # Tacoma
DANA = "a1000000-0000-4000-8000-000000000011"       # Tacoma, protected by the policy
LENA = "a1000000-0000-4000-8000-000000000027"       # Portland (Priya: no passes, no SMS)
AVERY_PAGE = f"/locations/seattle/staff/{AVERY_ID}"
WHAT_TO_DO = ("Sign in with your account name and this pass instead of your password, "
              "then register your new phone.")
BLOCKED = "Temporary Access Pass sign in was blocked due to User Credential Policy."


def _pass_of_user(fake: FakeGraph, upn: str) -> Any:
    user = fake.directory.find_user(upn)
    assert user is not None
    return user.temporary_access_pass


def _pass_of(live: LiveSystem, upn: str) -> Any:
    """The fake's record of the person's pass (id, value, start, used), or None."""
    return live.in_fake(lambda fake: _pass_of_user(fake, upn))


@contextmanager
def _staff_phone(browser: Any) -> Iterator[Any]:
    """The staff member's own phone: a browser that never saw the manager's session."""
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True, locale="en-US")
    try:
        yield context.new_page()
    finally:
        context.close()


def _sign_in_at_the_fake(page: Any, live: LiveSystem, upn: str, secret: str) -> None:
    """Through the proxy's "Sign in" to the fake's authorize URL, and its sign-in form."""
    page.goto(live.url + "/")
    page.get_by_role("link", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(live.fake_url) + r"/.*/oauth2/v2\.0/authorize"))
    page.fill("#username", upn)
    page.fill("#password", secret)
    page.click("#signin")
    page.wait_for_load_state("load")


def _events(live: LiveSystem, event: str, since: int) -> list[dict[str, Any]]:
    """The records written since line ``since``: the log lives as long as the live system."""
    return [r for r in map(json.loads, live.audit_lines()[since:]) if r["event"] == event]


def test_lost_phone_a_pass_signs_the_person_in_once(
        browse: Browse, live: LiveSystem, browser: Any) -> None:
    since = len(live.audit_lines())
    page = browse.page
    browse.sign_in(SAM, start=AVERY_PAGE)
    methods = page.locator("#access-pass")
    assert "No Temporary Access Pass." in methods.inner_text()
    assert page.get_by_role("link", name="Remove the pass").count() == 0
    browse.check()

    page.get_by_role("link", name="Issue a Temporary Access Pass").click()
    assert page.url == live.url + AVERY_PAGE + "/temporary-access-pass"
    lifetimes = page.locator("input[name=lifetimeMinutes]")
    labels = [page.locator(f"label[for={lifetimes.nth(i).get_attribute('id')}]").inner_text()
              for i in range(lifetimes.count())]
    assert labels == ["1 hour", "4 hours", "8 hours"]  # a day is above the policy's maximum
    assert page.get_by_label("1 hour").is_checked()  # the policy's default
    assert "It works for one sign-in." in browse.text()  # the policy: one-time, not asked
    browse.check()

    page.get_by_label("4 hours").check()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Issue pass").click()
    assert answer.value.headers["cache-control"] == "no-store"
    code = page.locator("#access-pass").inner_text().strip()
    issued = _pass_of(live, AVERY.upn)
    assert issued.value == code and issued.lifetime_minutes == 240 and issued.is_usable_once
    text = browse.text()
    assert "4 hours, until" in text and "One sign-in" in text and WHAT_TO_DO in text
    assert AVERY.upn in text and "shown only once" in text
    # The end time: UTC in the HTML, the device's own time once the script ran.
    until = page.locator("main time")
    assert str(until.get_attribute("title")).endswith(" UTC")
    assert "UTC" not in until.inner_text()
    browse.check("temporary-access-pass")

    browse.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page.get_by_role("button", name="Copy pass").click()
    page.get_by_text("Copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == code

    # Avery, on their own new phone, signs in with the pass where a password goes.
    with _staff_phone(browser) as staff:
        _sign_in_at_the_fake(staff, live, AVERY.upn, copied)
        assert staff.url.startswith(live.url)  # signed in, back from the fake with a code
        assert staff.get_by_role("heading", level=1).inner_text() == "Insufficient permissions"
        assert f"You are signed in as {AVERY.upn}" in staff.inner_text("main")
    assert _pass_of(live, AVERY.upn).used  # a one-time pass is spent by that sign-in
    assert live.user(AVERY.upn)["password"] == AVERY.password  # and the password unchanged

    # The pass does not sign in a second time.
    with _staff_phone(browser) as staff:
        _sign_in_at_the_fake(staff, live, AVERY.upn, code)
        assert staff.url.startswith(live.fake_url)
        assert staff.get_by_role("alert").inner_text() == BLOCKED

    # The manager's profile says it was used, and offers a new one (not "replace").
    page.get_by_role("link", name="Done").click()
    assert "Used: the pass signed in once and no longer works." in methods.inner_text()
    assert page.get_by_role("link", name="Issue a Temporary Access Pass").is_visible()
    browse.check()
    page.get_by_role("link", name="Remove the pass").click()
    assert page.get_by_role("heading", level=1).inner_text() == \
        "Remove the Temporary Access Pass?"
    browse.check()
    assert _pass_of(live, AVERY.upn) is not None  # asking changes nothing
    page.get_by_role("button", name="Remove the pass").click()
    assert page.url == live.url + AVERY_PAGE + "?done=pass_removed"
    assert page.get_by_role("status").inner_text() == "Temporary Access Pass removed."
    assert "No Temporary Access Pass." in methods.inner_text()
    assert _pass_of(live, AVERY.upn) is None

    [issued_record] = _events(live, "temporary_access_pass_issued", since)
    assert issued_record["outcome"] == "success"
    assert issued_record["detail"] == {"lifetimeInMinutes": 240, "isUsableOnce": True}
    [removed] = _events(live, "temporary_access_pass_removed", since)
    assert removed["outcome"] == "success"
    assert code not in "\n".join(live.audit_lines())


def test_reloading_the_pass_page_does_not_issue_a_second_pass(
        browse: Browse, live: LiveSystem) -> None:
    since = len(live.audit_lines())
    page = browse.page
    upn = "skyler.grant@contoso.example"
    browse.sign_in(SAM, start=f"/locations/tacoma/staff/{SKYLER}/temporary-access-pass")
    page.get_by_role("button", name="Issue pass").click()
    code = page.locator("#access-pass").inner_text().strip()
    first = _pass_of(live, upn)
    assert first.value == code
    # Reload re-posts the form: the pass just read out is not replaced by another.
    page.reload()
    assert page.url == f"{live.url}/locations/tacoma/staff/{SKYLER}?done=pass_already"
    assert "already issued" in page.get_by_role("status").inner_text()
    assert _pass_of(live, upn).id == first.id and _pass_of(live, upn).value == code
    assert len(_events(live, "temporary_access_pass_issued", since)) == 1
    assert re.search(r"A pass works until .+, for one sign-in\.",
                     page.locator("#access-pass").inner_text())

    # Replacing it is a choice the form spells out.
    page.get_by_role("link", name="Replace the pass").click()
    assert "A new pass replaces it: the old one stops working." in browse.text()
    browse.check()
    page.get_by_role("button", name="Issue pass").click()
    second = page.locator("#access-pass").inner_text().strip()
    assert second != code and _pass_of(live, upn).value == second
    assert "it replaces their previous pass" in page.get_by_role("status").first.inner_text()


def test_sms_sign_in_on_and_off(browse: Browse, live: LiveSystem) -> None:
    since = len(live.audit_lines())
    page = browse.page
    browse.sign_in(SAM, start=AVERY_PAGE)
    sms = page.locator("#sms-sign-in")
    assert "Phone-number sign-in is off for this person." in sms.inner_text()
    assert live.user(AVERY.upn)["phoneMethods"][0]["smsSignInState"] == "notEnabled"

    page.get_by_role("link", name="Enable phone-number sign-in").click()
    assert page.get_by_role("heading", level=1).inner_text() == \
        "Turn on phone-number sign-in?"
    assert "(206) 555-0107" in browse.text()
    browse.check()
    assert live.user(AVERY.upn)["phoneMethods"][0]["smsSignInState"] == "notEnabled"
    page.get_by_role("button", name="Turn on phone-number sign-in").click()
    assert page.url == live.url + AVERY_PAGE + "?done=sms_enabled"
    assert page.get_by_role("status").inner_text() == "Phone-number sign-in is on."
    assert "they can sign in with a code texted to (206) 555-0107" in sms.inner_text()
    assert live.user(AVERY.upn)["phoneMethods"][0]["smsSignInState"] == "ready"
    browse.check()

    page.get_by_role("button", name="Turn off phone-number sign-in").click()
    assert page.url == live.url + AVERY_PAGE + "?done=sms_disabled"
    assert page.get_by_role("status").inner_text() == "Phone-number sign-in is off."
    assert "Phone-number sign-in is off for this person." in sms.inner_text()
    assert live.user(AVERY.upn)["phoneMethods"][0]["smsSignInState"] == "notEnabled"
    assert [r["outcome"] for r in _events(live, "sms_sign_in_enabled", since)] == ["success"]
    assert [r["outcome"] for r in _events(live, "sms_sign_in_disabled", since)] == ["success"]


def test_sms_sign_in_that_cannot_work_says_why(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM, start=f"/locations/seattle/staff/{ALEX}")
    assert "Phone-number sign-in needs a mobile number; add one first." in \
        page.locator("#sms-sign-in").inner_text()
    assert page.get_by_role("link", name="Enable phone-number sign-in").count() == 0

    # Jordan's mobile is Avery's number: turned on, it would sign Avery in, not Jordan.
    def share_a_number(fake: FakeGraph) -> None:
        jordan = fake.directory.find_user(JORDAN)
        assert jordan is not None
        jordan.phones["mobile"] = Phone("mobile", "+1 2065550107", "notEnabled")

    live.in_fake(share_a_number)
    browse.goto(f"/locations/seattle/staff/{JORDAN}")
    page.get_by_role("link", name="Enable phone-number sign-in").click()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Turn on phone-number sign-in").click()
    assert answer.value.status == 409
    assert "This number already signs someone else in" in page.get_by_role("alert").inner_text()
    browse.check()
    page.get_by_role("link", name="Back to Jordan Blake").click()
    assert "already signs someone else in, so it doesn't work for this person" in \
        page.locator("#sms-sign-in").inner_text()
    assert page.get_by_role("button", name="Turn off phone-number sign-in").is_visible()

    # The organization's SMS policy does not allow it: said, and no button to try.
    live.in_fake(lambda fake: setattr(fake.directory.methods_policy.sms, "state", "disabled"))
    browse.goto(AVERY_PAGE)
    assert "Your organization does not allow phone sign-in for this person." in \
        page.locator("#sms-sign-in").inner_text()
    assert page.get_by_role("link", name="Enable phone-number sign-in").count() == 0
    browse.check()
    browse.goto(AVERY_PAGE + "/phone-methods/mobile/sms-sign-in/enable")
    assert "does not allow phone sign-in" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("button", name="Turn on phone-number sign-in").count() == 0
    assert live.user(AVERY.upn)["phoneMethods"][0]["smsSignInState"] == "notAllowedByPolicy"


def test_the_profile_says_when_a_pass_does_not_work(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM, start=AVERY_PAGE + "/temporary-access-pass")
    page.get_by_role("button", name="Issue pass").click()
    state = page.locator("#access-pass")

    def started(hours: float) -> Callable[[FakeGraph], None]:
        def move(fake: FakeGraph) -> None:
            tap = _pass_of_user(fake, AVERY.upn)
            tap.start = datetime.now(UTC) + timedelta(hours=hours)
        return move

    live.in_fake(started(-2))  # a one-hour pass, two hours ago
    browse.goto(AVERY_PAGE)
    assert re.fullmatch(r"The pass expired .+\.", state.locator("p").first.inner_text())
    assert page.get_by_role("link", name="Issue a Temporary Access Pass").is_visible()
    live.in_fake(started(3))
    browse.goto(AVERY_PAGE)
    assert re.fullmatch(r"A pass works from .+\.", state.locator("p").first.inner_text())
    live.in_fake(lambda fake: setattr(
        fake.directory.methods_policy.temporary_access_pass, "state", "disabled"))
    browse.goto(AVERY_PAGE)
    assert "your organization's Temporary Access Pass settings don't allow it" in \
        state.inner_text()
    browse.check()


def test_passes_turned_off_are_explained_on_the_form(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    live.in_fake(lambda fake: setattr(
        fake.directory.methods_policy.temporary_access_pass, "state", "disabled"))
    browse.sign_in(SAM, start=AVERY_PAGE + "/temporary-access-pass")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Issue pass").click()
    assert answer.value.status == 403
    alert = page.get_by_role("alert").inner_text()
    assert alert.startswith("Temporary Access Passes are turned off for your organization")
    assert page.get_by_role("button", name="Issue pass").is_visible()  # still the form
    assert page.locator("#access-pass").count() == 0
    assert _pass_of(live, AVERY.upn) is None
    browse.check()


def test_no_pass_or_sms_actions_where_not_allowed(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    # A protected person: the button greyed out with the one explanation, no SMS part.
    browse.sign_in(SAM, start=f"/locations/tacoma/staff/{DANA}")
    assert page.get_by_role("button", name="Issue a Temporary Access Pass").is_disabled()
    assert page.locator("#sms-sign-in").count() == 0
    browse.check()
    browse.goto(f"/locations/tacoma/staff/{DANA}/temporary-access-pass")
    assert page.get_by_role("heading", level=1).inner_text() == "Protected account"
    browse.goto(f"/locations/tacoma/staff/{DANA}/phone-methods/mobile/sms-sign-in/enable")
    assert page.get_by_role("heading", level=1).inner_text() == "Protected account"
    assert _pass_of(live, "dana.whitfield@contoso.example") is None


@pytest.mark.parametrize("manager,path", [
    (PRIYA, f"/locations/portland/staff/{LENA}"),
    (ROBIN, "/locations/spokane/staff/a1000000-0000-4000-8000-000000000034"),
])
def test_managers_without_the_actions_see_no_sign_in_methods(
        browse: Browse, live: LiveSystem, manager: Any, path: str) -> None:
    page = browse.page
    browse.sign_in(manager, start=path)
    assert page.get_by_role("heading", level=2, name="Sign-in methods").count() == 0
    browse.goto(path + "/temporary-access-pass")
    assert page.get_by_role("heading", level=1).inner_text() == "Not allowed here"


def test_the_pass_page_without_javascript(browse_no_js: Browse, live: LiveSystem) -> None:
    browse = browse_no_js
    page = browse.page
    browse.sign_in(SAM, start=AVERY_PAGE + "/temporary-access-pass")
    page.get_by_role("button", name="Issue pass").click()
    code = page.locator("#access-pass").inner_text().strip()
    assert _pass_of(live, AVERY.upn).value == code
    assert not page.get_by_role("button", name="Copy pass").is_visible()
    assert page.locator("main time").inner_text().endswith(" UTC")
