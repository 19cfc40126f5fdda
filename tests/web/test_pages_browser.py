"""The managers' page in Debian's Chromium: every flow of My Staff, each step checked against
the fake tenant's state; axe on every page at phone and desktop width; no console errors,
CSP violations or dialogs (checked by the ``browse`` fixture at the end of each test).
"""

from __future__ import annotations

import re

import pytest

from .conftest import Browse
from .live import HOSTILE_ID, HOSTILE_NAME, PRIYA, ROBIN, SAM, TAYLOR, LiveSystem

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALEX = "a1000000-0000-4000-8000-000000000002"      # Seattle, no phones
TAYLOR_ID = "a1000000-0000-4000-8000-000000000005"  # Seattle, mobile + alternate mobile
SKYLER = "a1000000-0000-4000-8000-000000000015"     # Tacoma
DANA = "a1000000-0000-4000-8000-000000000011"       # Tacoma, protected by the policy
SAM_ID = "a1000000-0000-4000-8000-000000000001"
CASEY_NGUYEN = "a1000000-0000-4000-8000-000000000029"  # Portland, a role-assignable group
LENA = "a1000000-0000-4000-8000-000000000027"       # Portland


def test_sign_in_pick_search_open_and_reset_password(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.goto("/")
    assert page.get_by_role("heading", level=1).inner_text() == "My Staff"
    browse.check("signin")

    browse.sign_in(SAM)
    assert page.get_by_role("heading", level=1).inner_text() == "Select a location"
    browse.check("locations")

    page.get_by_role("link", name=re.compile("Tacoma store")).click()
    assert page.url == live.url + "/locations/tacoma"
    assert "Skyler Grant" in browse.text() and "Sam Rivera" not in browse.text()
    page.get_by_label("Search staff by name or email").fill("sky")
    page.get_by_role("button", name="Search").click()
    assert page.url == live.url + "/locations/tacoma?search=sky"
    names = page.locator(".people .name").all_inner_texts()
    assert names == ["Skyler Grant"]
    browse.check("staff-search")
    page.get_by_label("Search staff by name or email").fill("")
    page.get_by_role("button", name="Search").click()
    browse.check("staff")

    page.get_by_role("link", name=re.compile("Skyler Grant")).click()
    assert page.url == f"{live.url}/locations/tacoma/staff/{SKYLER}"
    assert "(253) 555-0115" in browse.text() and "(253) 555-0175" in browse.text()
    browse.check("profile")

    before = live.user("skyler.grant@contoso.example")
    page.get_by_role("link", name="Reset password").click()
    browse.check("reset-password")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Reset password").click()
    assert answer.value.headers["cache-control"] == "no-store"
    temporary = page.locator("#temp-password").inner_text().strip()
    assert "must change it when they next sign in" in browse.text()
    after = live.user("skyler.grant@contoso.example")
    assert after["password"] == temporary != before["password"]
    assert after["forceChangePasswordNextSignIn"] is True
    browse.check("password-done")

    # The copy button appears with JavaScript and puts the password on the clipboard.
    browse.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                     origin=live.url)
    page.get_by_role("button", name="Copy password").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == temporary

    # The last location is remembered: "/" goes straight back to Tacoma.
    browse.goto("/")
    assert page.url == live.url + "/locations/tacoma"
    assert "Change location" in browse.text()


def test_typed_temporary_password_and_a_refused_one(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM, start=f"/locations/seattle/staff/{ALEX}/password")
    assert page.url == f"{live.url}/locations/seattle/staff/{ALEX}/password"
    before = live.user("alex.kim@contoso.example")["password"]
    page.get_by_label("Enter one myself").check()
    page.get_by_label("Password (if entering one)").fill("short")
    page.get_by_role("button", name="Reset password").click()
    assert page.get_by_role("alert").is_visible()
    assert live.user("alex.kim@contoso.example")["password"] == before
    browse.check("reset-password-refused")

    typed = "Harbor-Lantern-73-Quiet"
    page.get_by_label("Enter one myself").check()
    page.get_by_label("Password (if entering one)").fill(typed)
    page.get_by_role("button", name="Reset password").click()
    assert page.locator("#temp-password").inner_text().strip() == typed
    assert live.user("alex.kim@contoso.example")["password"] == typed


def test_add_change_and_remove_a_phone(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    upn = "alex.kim@contoso.example"
    browse.sign_in(SAM, start=f"/locations/seattle/staff/{ALEX}")
    assert "No phone numbers yet." in browse.text()
    assert live.phones(upn) == {}

    page.get_by_role("link", name="Add phone number").click()
    browse.check("phone-add")
    page.get_by_label("Phone number").fill("555-0100")
    page.get_by_role("button", name="Save").click()
    assert page.get_by_role("alert").is_visible()  # too short: shown on the form
    assert page.get_by_label("Phone number").get_attribute("aria-invalid") == "true"
    assert live.phones(upn) == {}
    browse.check("phone-add-invalid")

    page.get_by_label("Type").select_option("mobile")
    page.get_by_label("Phone number").fill("206 555 0142")
    page.get_by_role("button", name="Save").click()
    assert page.url.endswith(f"/staff/{ALEX}?done=phone_added")
    assert page.get_by_role("status").inner_text() == "Phone number added."
    assert "(206) 555-0142" in browse.text()
    assert live.phones(upn) == {"mobile": "+1 2065550142"}
    browse.check("profile-phone-added")

    page.get_by_role("link", name="Edit mobile phone number").click()
    assert page.get_by_label("Phone number").input_value() == "(206) 555-0142"
    browse.check("phone-edit")
    page.get_by_label("Phone number").fill("+44 20 7946 0958")
    page.get_by_role("button", name="Save changes").click()
    assert page.get_by_role("status").inner_text() == "Phone number changed."
    assert "+44 20 7946 0958" in browse.text()
    assert live.phones(upn) == {"mobile": "+44 2079460958"}

    page.get_by_role("link", name="Remove mobile phone number").click()
    assert "+44 20 7946 0958" in browse.text()
    browse.check("phone-remove")
    assert live.phones(upn) == {"mobile": "+44 2079460958"}  # asking changes nothing
    page.get_by_role("button", name="Remove").click()
    assert page.get_by_role("status").inner_text() == "Phone number removed."
    assert live.phones(upn) == {}


def test_removing_mobile_before_alternate_is_explained(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM, start=f"/locations/seattle/staff/{TAYLOR_ID}/phones/mobile/remove")
    page.get_by_role("button", name="Remove").click()
    assert "alternate mobile number first" in page.get_by_role("alert").inner_text()
    assert set(live.phones("taylor.brooks@contoso.example")) == {"mobile", "alternateMobile"}
    browse.check()


def test_protected_people_offer_no_actions(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM, start=f"/locations/seattle/staff/{SAM_ID}")
    assert "You can't manage your own account here." in browse.text()
    assert page.get_by_role("button", name="Reset password").is_disabled()
    assert page.get_by_role("link", name="Reset password").count() == 0
    browse.check("protected-self")

    browse.goto(f"/locations/tacoma/staff/{DANA}")
    assert "This account is protected" in browse.text()
    assert "(253)" not in browse.text()  # a protected person's numbers are not shown
    browse.check("protected")

    # The form is refused too when typed in directly, and nothing changes.
    before = live.user("dana.whitfield@contoso.example")["password"]
    browse.goto(f"/locations/tacoma/staff/{DANA}/password")
    assert page.get_by_role("heading", level=1).inner_text() == "Protected account"
    browse.check()
    response = browse.context.request.post(
        f"{live.url}/locations/tacoma/staff/{DANA}/password",
        form={"csrf": _csrf(browse), "mode": "generate"}, max_redirects=0)
    assert response.status == 403
    assert live.user("dana.whitfield@contoso.example")["password"] == before


def test_administrators_and_one_location(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(PRIYA)
    # One location: no picker, straight to its staff, and no "change location".
    assert page.url == live.url + "/locations/portland"
    assert "Change location" not in browse.text()
    page.get_by_role("link", name=re.compile("Casey Nguyen")).click()
    assert page.url.endswith(CASEY_NGUYEN)
    assert "Administrators can't be managed here." in browse.text()
    browse.check("protected-admin")


def test_view_only_location_says_why(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(ROBIN)
    assert page.url == live.url + "/locations/spokane"
    page.get_by_role("link", name=re.compile("Blair Jensen")).click()
    assert browse.text().count("Not allowed at this location.") == 2
    assert page.get_by_role("button", name="Add phone number").is_disabled()
    browse.check("view-only")


def test_insufficient_permissions(browse: Browse) -> None:
    page = browse.page
    browse.sign_in(TAYLOR)
    assert page.get_by_role("heading", level=1).inner_text() == "Insufficient permissions"
    assert "You don't have permission to manage staff" in browse.text()
    assert "Contact your admin" in browse.text()
    browse.check("no-access")
    browse.goto("/locations/seattle")
    assert page.get_by_role("heading", level=1).inner_text() == "Insufficient permissions"


def test_hostile_display_name_is_text_everywhere(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(PRIYA)
    pages = ["/locations/portland", f"/locations/portland/staff/{HOSTILE_ID}",
             f"/locations/portland/staff/{HOSTILE_ID}/password",
             f"/locations/portland/staff/{HOSTILE_ID}/phones/add",
             "/locations/portland?search=%3Cimg"]
    for path in pages:
        browse.goto(path)
        assert HOSTILE_NAME in browse.text(), path
        assert page.locator("img").count() == 0, path
        browse.check()
    assert HOSTILE_NAME in page.title() or "<img" in page.title()
    page.get_by_label("Search staff by name or email").fill("<script>alert(1)</script>")
    page.get_by_role("button", name="Search").click()
    assert "<script>alert(1)</script>" in browse.text()
    browse.goto(f"/locations/portland/staff/{HOSTILE_ID}/password")
    page.get_by_role("button", name="Reset password").click()
    assert HOSTILE_NAME in browse.text()
    assert live.user("hostile.stocker@contoso.example")["forceChangePasswordNextSignIn"]


def test_sign_out_ends_the_session(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM)
    cookies = browse.context.cookies(live.url)
    page.get_by_role("button", name="Sign out").click()
    # ...through Entra's sign-out (the fake's), back to the start page.
    page.wait_for_url(live.url + "/")
    assert page.get_by_role("link", name="Sign in").is_visible()
    # "Sign in" asks for a password again: the identity platform's session ended too, so the
    # next person on this device cannot go through as Sam.
    page.get_by_role("link", name="Sign in").click()
    assert page.url.startswith(live.fake_url)
    assert page.locator("input[name=password]").is_visible()
    # A deep link asks for sign-in, and the old cookie, replayed, is refused.
    browse.context.add_cookies(cookies)
    browse.goto(f"/locations/seattle/staff/{ALEX}")
    assert page.url.startswith(live.fake_url)
    assert page.locator("input[name=password]").is_visible()


def test_deep_link_signs_in_and_comes_back(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM, start="/locations/seattle?search=tay")
    assert page.url == live.url + "/locations/seattle?search=tay"
    assert page.locator(".people .name").all_inner_texts() == ["Taylor Brooks"]


def test_forms_refuse_a_wrong_csrf_token(browse: Browse, live: LiveSystem) -> None:
    browse.sign_in(SAM)
    before = live.user("alex.kim@contoso.example")["password"]
    for token in ("", "not-the-token"):
        response = browse.context.request.post(
            f"{live.url}/locations/seattle/staff/{ALEX}/password",
            form={"csrf": token, "mode": "generate"}, max_redirects=0)
        assert response.status == 403
        assert "This form has expired" in response.text()
    assert live.user("alex.kim@contoso.example")["password"] == before


def test_error_pages_say_what_to_do(browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM)
    for path in ("/locations/portland", f"/locations/seattle/staff/{SKYLER}",
                 f"/locations/seattle/staff/{ALEX}/phones/office/edit", "/no/such/page"):
        answer = browse.goto(path)
        assert answer.status == 404, path
        assert page.get_by_role("heading", level=1).inner_text() == "Not found"
        assert "go back to your staff list" in browse.text()
    browse.check("error-not-found")
    assert "Traceback" not in page.content()


def test_main_flows_work_without_javascript(browse_no_js: Browse, live: LiveSystem) -> None:
    browse = browse_no_js
    page = browse.page
    browse.sign_in(SAM, start=f"/locations/seattle/staff/{TAYLOR_ID}")
    page.get_by_role("link", name="Remove alternate mobile phone number").click()
    page.get_by_role("button", name="Remove").click()
    assert live.phones("taylor.brooks@contoso.example") == {"mobile": "+1 2065550105"}
    page.get_by_role("link", name="Reset password").click()
    page.get_by_role("button", name="Reset password").click()
    temporary = page.locator("#temp-password").inner_text().strip()
    assert live.user("taylor.brooks@contoso.example")["password"] == temporary
    assert not page.get_by_role("button", name="Copy password").is_visible()


def _csrf(browse: Browse) -> str:
    return str(browse.page.locator("form.signout input[name=csrf]").get_attribute("value"))


def test_headers_static_assets_and_page_weight(browse: Browse, live: LiveSystem) -> None:
    request = browse.context.request
    page = request.get(live.url + "/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text())
    assert assets, "the page links its stylesheet"
    total = len(page.body())
    for ref in assets:
        asset = request.get(live.url + ref.replace("&amp;", "&"))
        assert asset.status == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        total += len(asset.body())
        again = request.get(live.url + ref, headers={"If-None-Match": asset.headers["etag"]})
        assert again.status == 304
    assert total < 50_000
    unversioned = request.get(live.url + "/static/app.css")
    assert unversioned.headers["cache-control"] == "no-cache"
    assert request.get(live.url + "/static/../render.py").status == 404
    assert request.get(live.url + "/static/nope.js").status == 404


def test_reloading_the_temporary_password_does_not_reset_again(
        browse: Browse, live: LiveSystem) -> None:
    page = browse.page
    browse.sign_in(SAM)
    browse.goto(f"/locations/tacoma/staff/{SKYLER}/password")
    page.get_by_role("button", name="Reset password").click()
    temporary = page.locator("#temp-password").inner_text().strip()
    # Reload re-posts the form (what the browser's "resubmit?" dialog would do): the reset
    # already done is not done again; the password read out to the person stays valid.
    page.reload()
    assert page.url == f"{live.url}/locations/tacoma/staff/{SKYLER}?done=reset_already"
    assert "already done" in browse.text()
    assert live.user("skyler.grant@contoso.example")["password"] == temporary
