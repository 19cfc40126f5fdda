"""Languages: the catalogs are complete and compiled, the language is chosen as documented,
and a page rendered in Spanish has no English text left."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from mystaff_proxy import i18n
from mystaff_proxy.errors import CODES, MESSAGES, ApiError
from mystaff_proxy.web.render import ERROR_TEXTS, Pages

LOCALE = Path(__file__).resolve().parents[2] / "mystaff_proxy" / "locale"
# Text that is the same in both languages: the brand, and punctuation between values.
SAME: frozenset[str] = frozenset({"My Staff", "English", "Español", "–", "·", ":"})


def _po(lang: str) -> object:
    with (LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def test_every_msgid_has_a_spanish_msgstr() -> None:
    catalog = _po("es")
    with (LOCALE / "messages.pot").open("rb") as f:
        template = read_po(f)
    ids = {m.id for m in template if m.id}
    assert ids == {m.id for m in catalog if m.id}, "run pybabel update (README: Translations)"
    for message in catalog:
        if message.id:
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(s.strip() for s in strings), f"untranslated: {message.id!r}"
            assert not message.fuzzy, f"fuzzy: {message.id!r}"


def test_the_shipped_mo_is_the_compiled_po(tmp_path: Path) -> None:
    """The .mo in the package is what `pybabel compile` makes of the .po today."""
    shipped = LOCALE / "es" / "LC_MESSAGES" / "messages.mo"
    out = tmp_path / "messages.mo"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "compile", "-i",
                    str(LOCALE / "es" / "LC_MESSAGES" / "messages.po"), "-o", str(out),
                    "-l", "es"], check=True, capture_output=True)
    with shipped.open("rb") as a, out.open("rb") as b:
        fresh, old = read_mo(b), read_mo(a)
    assert {str(m.id): str(m.string) for m in fresh} == {str(m.id): str(m.string) for m in old}, \
        "recompile: pybabel compile -d mystaff_proxy/locale"


@pytest.mark.parametrize(("header", "lang"), [
    ("es", "es"), ("es-MX,es;q=0.9", "es"), ("es-ES", "es"), ("en-US,es;q=0.5", "en"),
    ("fr-FR,es;q=0.8,en;q=0.5", "es"), ("de", "en"), ("", "en"), ("*", "en"),
    ("en;q=0.1,es;q=0.9", "es"), ("es;q=0", "en"),
])
def test_accept_language(header: str, lang: str) -> None:
    assert i18n.from_accept_language(header) == lang


def test_the_cookie_is_remembered_over_accept_language() -> None:
    request = make_mocked_request("GET", "/", headers={"Accept-Language": "es",
                                                       "Cookie": "lang=en"})
    assert i18n.choose(request) == "en"


def test_api_messages_follow_the_language_and_codes_never_change() -> None:
    for code in MESSAGES:
        token = i18n._current.set("es")
        try:
            body = ApiError(code).body("r1")["error"]
        finally:
            i18n._current.reset(token)
        assert body["code"] == code
        assert body["message"] != MESSAGES[code]
        assert ApiError(code).body("r1")["error"]["message"] == MESSAGES[code]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("code", "script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "placeholder", "data-copied") and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def untranslated(english: str, spanish: str) -> set[str]:
    """Visible texts the Spanish page shares with the English one (names and brand aside)."""
    def texts(html: str) -> set[str]:
        parser = _Text()
        parser.feed(html)
        return {t for t in parser.texts if re.search("[A-Za-z]{3}", t)}
    return (texts(english) & texts(spanish)) - SAME


def _render(lang: str, template: str, **context: object) -> str:
    pages = Pages()
    token = i18n._current.set(lang)
    try:
        request = make_mocked_request("GET", "/some/page")
        return pages.render(request, template, **context).text or ""
    finally:
        i18n._current.reset(token)


def _error(lang: str, code: str) -> str:
    pages = Pages()
    token = i18n._current.set(lang)
    try:
        request = make_mocked_request("GET", "/some/page")
        return pages.error(request, code, retry_after=30).text or ""
    finally:
        i18n._current.reset(token)


@pytest.mark.parametrize("code", sorted(set(ERROR_TEXTS) | set(CODES)))
def test_error_pages_have_no_english_left_in_spanish(code: str) -> None:
    spanish = _error("es", code)
    assert '<html lang="es">' in spanish
    assert untranslated(_error("en", code), spanish) == set()


def test_sign_in_page_has_no_english_left_in_spanish() -> None:
    assert untranslated(_render("en", "signin.html", sign_in="/auth/login"),
                        _render("es", "signin.html", sign_in="/auth/login")) == set()
