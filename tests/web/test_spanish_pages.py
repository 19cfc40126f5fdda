"""No English left on the signed-in pages: each page, in each state a manager can meet, is
fetched from the live proxy in English and in Spanish (the ``lang`` cookie), and a visible text
(a text node, or the ``aria-label``, ``title``, ``placeholder``, ``value`` of a button, or
what the copy button says) that is the same in both, once the directory's data (names, UPNs,
mails, job titles, location names), numbers and the brand are taken out, is untranslated.

Plain HTTP (``requests``) against the same live system as the browser tests: no Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from fake_graph.directory import Phone, User
from fake_graph.state import FakeGraph

from .live import PRIYA, ROBIN, SAM, TAYLOR, Account, LiveSystem

ALEX = "a1000000-0000-4000-8000-000000000002"        # Seattle, no phones
JORDAN = "a1000000-0000-4000-8000-000000000003"      # Seattle, a mobile
TAYLOR_ID = "a1000000-0000-4000-8000-000000000005"   # Seattle, mobile + alternate mobile
AVERY_ID = "a1000000-0000-4000-8000-000000000007"    # Seattle, a mobile
DANA = "a1000000-0000-4000-8000-000000000011"        # Tacoma, protected by the policy
SAM_ID = "a1000000-0000-4000-8000-000000000001"
CASEY_NGUYEN = "a1000000-0000-4000-8000-000000000029"  # Portland, an administrator
LENA = "a1000000-0000-4000-8000-000000000027"        # Portland
BLAIR = "a1000000-0000-4000-8000-000000000034"       # Spokane (view only)
SEATTLE = "/locations/seattle"
AVERY_PAGE = f"{SEATTLE}/staff/{AVERY_ID}"

# The same in both languages: the brand, the language names, the time zone, and what the
# directory holds (added per run from the fake: names, UPNs, mails, job titles, places).
ALLOWED: frozenset[str] = frozenset({"My Staff", "English", "Español", "UTC"})
ATTRIBUTES = ("aria-label", "title", "placeholder", "data-copied", "data-selected")
SKIPPED = ("code", "script", "style")
WORD = re.compile(r"[^\W\d_]{3,}")


class _Visible(HTMLParser):
    """Text nodes (not inside code, script or style) and the attributes a person hears."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self._skip += 1
        found = dict(attrs)
        for name in ATTRIBUTES:
            if found.get(name):
                self.texts.append(str(found[name]))
        if tag == "input" and found.get("type") in ("submit", "button", "reset") \
                and found.get("value"):
            self.texts.append(str(found["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def visible(html: str) -> set[str]:
    parser = _Visible()
    parser.feed(html)
    return set(parser.texts)


def untranslated(english: str, spanish: str, data: frozenset[str]) -> set[str]:
    """Texts of the Spanish page that the English one has too and that still hold a word once
    the data is taken out (longest first, so a UPN goes before the name inside it)."""
    left: set[str] = set()
    for text in visible(english) & visible(spanish):
        rest = text
        for value in sorted(data | ALLOWED, key=len, reverse=True):
            rest = rest.replace(value, " ")
        if WORD.search(rest):
            left.add(text)
    return left


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif tag == "input" and self.forms and a.get("name") \
                and a.get("type") not in ("radio", "checkbox"):
            self.forms[-1][1][a["name"]] = a.get("value", "")


def form_fields(html: str, action: str) -> dict[str, str]:
    parser = _Forms()
    parser.feed(html)
    for found, fields in parser.forms:
        if found == action:
            return fields
    raise AssertionError(f"no form for {action} in the page: {visible(html)}")


@dataclass
class Manager:
    """A signed-in manager without a browser: a cookie jar and the page in either language."""

    live: LiveSystem
    session: requests.Session = field(default_factory=requests.Session)

    def sign_in(self, account: Account) -> None:
        assert self.live.running is not None
        verify = self.live.running.ca_file or True
        form = self.session.get(self.live.url + "/auth/login", params={"next": "/"},
                                timeout=30, verify=verify)
        assert form.url.startswith(self.live.fake_url), form.url
        parser = _Forms()
        parser.feed(form.text)
        action, fields = parser.forms[0]
        fields.update(username=account.upn, password=account.password)
        landed = self.session.post(urljoin(form.url, action), data=fields, timeout=30,
                                   verify=verify)
        assert landed.url.startswith(self.live.url), landed.url

    def get(self, path: str, lang: str) -> requests.Response:
        answer = self.session.get(self.live.url + path, cookies={"lang": lang}, timeout=30)
        assert answer.status_code < 500, (path, answer.status_code)
        return answer

    def post(self, path: str, lang: str, form_path: str | None = None,
             **values: str) -> requests.Response:
        """The form of ``form_path`` (else ``path``) fetched afresh (its csrf and once values),
        filled with ``values`` and sent; redirects followed."""
        page = self.get(form_path or path, lang)
        fields = form_fields(page.text, path)
        fields.update(values)
        answer = self.session.post(self.live.url + path, data=fields, cookies={"lang": lang},
                                   timeout=30)
        assert answer.status_code < 500, (path, answer.status_code)
        return answer


@dataclass
class Pages:
    """Every page compared, and what was left in English on each."""

    live: LiveSystem
    found: dict[str, set[str]] = field(default_factory=dict)

    def same(self, name: str, english: requests.Response, spanish: requests.Response) -> None:
        assert english.status_code == spanish.status_code, name
        assert '<html lang="es">' in spanish.text, name
        assert '<html lang="en">' in english.text, name
        # The directory as it is now, and what the manager typed (a search).
        data = self.live.in_fake(_directory_data) | {"Portland store"}
        data |= set(parse_qs(urlsplit(english.url).query).get("search", []))
        left = untranslated(english.text, spanish.text, frozenset(data))
        if left:
            self.found[name] = left

    def get(self, manager: Manager, path: str) -> None:
        self.same(path, manager.get(path, "en"), manager.get(path, "es"))

    def post(self, manager: Manager, path: str, form_path: str | None = None,
             prepare: Callable[[], object] | None = None, **values: str) -> None:
        answers = []
        for lang in ("en", "es"):
            if prepare is not None:
                prepare()
            answers.append(manager.post(path, lang, form_path, **values))
        self.same(f"POST {path} {values}", answers[0], answers[1])


def _directory_data(fake: FakeGraph) -> frozenset[str]:
    d = fake.directory
    values: set[str] = set()
    for user in d.users.values():
        values |= {user.display_name, user.user_principal_name, user.mail or "",
                   user.job_title or "", *user.other_mails}
    values |= {unit.display_name for unit in d.administrative_units.values()}
    return frozenset(v for v in values if v)


@pytest.fixture
def pages(live: LiveSystem) -> Iterator[Pages]:
    checked = Pages(live)
    yield checked
    report = "\n".join(f"{name}: {sorted(left)}" for name, left in checked.found.items())
    assert checked.found == {}, "English left on Spanish pages:\n" + report


@pytest.fixture
def manager(live: LiveSystem) -> Iterator[Callable[[Account], Manager]]:
    made: list[Manager] = []

    def sign_in(account: Account) -> Manager:
        signed = Manager(live)
        signed.sign_in(account)
        made.append(signed)
        return signed

    yield sign_in
    for signed in made:
        signed.session.close()


def _crowd(fake: FakeGraph) -> None:
    """Seattle gets 30 more people: a second page of staff."""
    unit = next(u for u in fake.directory.administrative_units.values()
                if u.id.endswith("e01"))
    for n in range(30):
        uid = f"a1000000-0000-4000-8000-0000000009{n:02d}"
        if fake.directory.find_user(uid) is None:
            fake.directory.add_user(User(uid, f"temp.{n:02d}@contoso.example",
                                         f"Temp Worker {n:02d}", "Demo-Staff-1!",
                                         job_title="Cashier"))
        unit.members.append(uid)


def _sms(user_id: str, state: str) -> Callable[[FakeGraph], None]:
    def switch(fake: FakeGraph) -> None:
        user = fake.directory.find_user(user_id)
        assert user is not None
        user.phones["mobile"].sms_sign_in_state = state
    return switch


def _pass_started(hours: float) -> Callable[[FakeGraph], None]:
    def move(fake: FakeGraph) -> None:
        user = fake.directory.find_user(AVERY_ID)
        assert user is not None and user.temporary_access_pass is not None
        user.temporary_access_pass.start = datetime.now(UTC) + timedelta(hours=hours)
    return move


def test_locations_staff_lists_and_profiles(live: LiveSystem, pages: Pages,
                                            manager: Callable[[Account], Manager]) -> None:
    live.in_fake(_crowd)
    sam = manager(SAM)
    for path in ("/locations", SEATTLE, SEATTLE + "?search=av", SEATTLE + "?search=zzzz",
                 SEATTLE + "?search=temp", "/locations/tacoma", f"{SEATTLE}/staff/{ALEX}",
                 f"{SEATTLE}/staff/{TAYLOR_ID}", AVERY_PAGE, f"{SEATTLE}/staff/{SAM_ID}",
                 f"/locations/tacoma/staff/{DANA}"):
        pages.get(sam, path)
    first = sam.get(SEATTLE, "en").text
    cursor = re.search(r'href="(\?cursor=[^"]+)"', first)
    assert cursor is not None, "Seattle should have a second page"
    pages.get(sam, SEATTLE + cursor.group(1).replace("&amp;", "&"))
    for done in ("phone_added", "phone_changed", "phone_removed", "reset_already",
                 "pass_already", "pass_removed", "pass_gone", "sms_enabled", "sms_disabled"):
        pages.get(sam, f"{AVERY_PAGE}?done={done}")

    priya = manager(PRIYA)
    for path in ("/", "/locations/portland", f"/locations/portland/staff/{CASEY_NGUYEN}",
                 f"/locations/portland/staff/{LENA}"):
        pages.get(priya, path)
    robin = manager(ROBIN)
    for path in ("/locations/spokane", f"/locations/spokane/staff/{BLAIR}",
                 f"/locations/spokane/staff/{BLAIR}/password"):
        pages.get(robin, path)
    taylor = manager(TAYLOR)
    for path in ("/", "/locations", SEATTLE):
        pages.get(taylor, path)
    pages.get(sam, "/no/such/page")
    pages.get(sam, f"/locations/tacoma/staff/{DANA}/password")


def test_password_and_phone_forms(live: LiveSystem, pages: Pages,
                                  manager: Callable[[Account], Manager]) -> None:
    sam = manager(SAM)
    alex = f"{SEATTLE}/staff/{ALEX}"
    taylor = f"{SEATTLE}/staff/{TAYLOR_ID}"
    for path in (alex + "/password", alex + "/phones/add", taylor + "/phones/add",
                 taylor + "/phones/mobile/edit", taylor + "/phones/alternateMobile/edit",
                 taylor + "/phones/mobile/remove", taylor + "/phones/alternateMobile/remove"):
        pages.get(sam, path)
    pages.post(sam, alex + "/password", mode="generate")
    pages.post(sam, alex + "/password", mode="enter", password="short")
    pages.post(sam, alex + "/phones/add", phoneType="mobile", phoneNumber="555-0100")
    pages.post(sam, alex + "/phones/add", phoneType="mobile", phoneNumber="+999 12")
    # The mobile number goes before the alternate one: refused, said on the form.
    pages.post(sam, taylor + "/phones/mobile/remove")
    priya = manager(PRIYA)
    pages.get(priya, f"/locations/portland/staff/{LENA}/password")
    pages.post(priya, f"/locations/portland/staff/{LENA}/password", mode="generate")


def test_passes_and_phone_number_sign_in(live: LiveSystem, pages: Pages,
                                         manager: Callable[[Account], Manager]) -> None:
    sam = manager(SAM)
    tap = AVERY_PAGE + "/temporary-access-pass"
    sms = AVERY_PAGE + "/phone-methods/mobile/sms-sign-in"
    pages.get(sam, tap)
    pages.post(sam, tap, lifetimeMinutes="60")                 # issued, then replaced
    pages.get(sam, tap)                                        # the replace warning
    pages.get(sam, AVERY_PAGE)                                 # a usable pass
    pages.get(sam, tap + "/remove")
    for hours in (-2, 3):                                      # expired, not yet valid
        live.in_fake(_pass_started(hours))
        pages.get(sam, AVERY_PAGE)
        pages.get(sam, tap + "/remove")
    pages.post(sam, tap + "/remove", prepare=lambda: sam.post(tap, "en", lifetimeMinutes="60"))
    pages.get(sam, sms + "/enable")
    pages.post(sam, sms + "/enable", prepare=lambda: live.in_fake(_sms(AVERY_ID, "notEnabled")))
    pages.get(sam, AVERY_PAGE)                                 # SMS sign-in on
    pages.get(sam, sms + "/disable")
    pages.post(sam, sms + "/disable", form_path=AVERY_PAGE,
               prepare=lambda: live.in_fake(_sms(AVERY_ID, "ready")))

    def share_a_number(fake: FakeGraph) -> None:
        jordan = fake.directory.find_user(JORDAN)
        assert jordan is not None
        jordan.phones["mobile"] = Phone("mobile", "+1 2065550107", "notEnabled")

    jordan_sms = f"{SEATTLE}/staff/{JORDAN}/phone-methods/mobile/sms-sign-in"
    pages.post(sam, jordan_sms + "/enable",                    # the number is someone else's
               prepare=lambda: live.in_fake(share_a_number))
    pages.get(sam, f"{SEATTLE}/staff/{JORDAN}")                # on, but not unique

    def policies_off(fake: FakeGraph) -> None:
        fake.directory.methods_policy.sms.state = "disabled"
        fake.directory.methods_policy.temporary_access_pass.state = "disabled"

    live.in_fake(policies_off)
    pages.get(sam, AVERY_PAGE)                                 # blocked pass, SMS not allowed
    pages.get(sam, sms + "/enable")
    pages.post(sam, tap, lifetimeMinutes="60")                 # passes off: said on the form
    pages.get(sam, f"/locations/tacoma/staff/{DANA}/temporary-access-pass")
