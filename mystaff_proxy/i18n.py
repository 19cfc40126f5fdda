"""The language of an answer: English or Spanish, from the page's own choice or the browser's.

Strings stay English in the code (the msgids of the gettext catalogs in ``locale/``) and are
translated where they leave the service: the templates (``_()`` and ``{% trans %}``), the
error page, and the JSON API's error ``message`` (``errors.ApiError.body``). Constants are
marked with ``N_`` so that ``pybabel extract`` finds them; a message that was built with
values (not a catalog entry) is sent in English rather than half translated.

Choice, per request (``choose``, by the ``language`` middleware in ``web/middleware.py``, which
also sets the cookie and ``set_current``): the ``lang`` cookie the page's switcher sets
(``?lang=es`` on any page GET), else ``Accept-Language`` (``es``, ``es-MX`` … → Spanish; the
first language of the list we speak wins), else English. API callers get the same choice; a
script that never sets the cookie is answered after ``Accept-Language``.
"""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from functools import cache
from importlib import resources
from typing import Final

from aiohttp import web

DEFAULT: Final = "en"
#: The languages the page offers, each named in its own language (the switcher's labels).
LANGUAGES: Final = {"en": "English", "es": "Español"}
COOKIE: Final = "lang"
COOKIE_MAX_AGE: Final = 365 * 24 * 3600
DOMAIN: Final = "messages"

_current: ContextVar[str] = ContextVar("language", default=DEFAULT)
LANGUAGE: web.RequestKey[str] = web.RequestKey("language", str)


def N_(message: str) -> str:
    """Marks a constant for extraction; it is translated where it is shown."""
    return message


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``language`` (shipped in the package), or English."""
    if language == DEFAULT or language not in LANGUAGES:
        return _gettext.NullTranslations()
    path = resources.files(__package__ or "mystaff_proxy").joinpath(
        "locale", language, "LC_MESSAGES", f"{DOMAIN}.mo")
    with path.open("rb") as mo:
        return _gettext.GNUTranslations(mo)


def current() -> str:
    """The language of the request being answered (English outside one)."""
    return _current.get()


def set_current(language: str) -> None:
    """The language of the request being answered, from here on (its task's context)."""
    _current.set(language)


def gettext(message: str, language: str | None = None) -> str:
    return translations(language or current()).gettext(message)


def ngettext(singular: str, plural: str, n: int, language: str | None = None) -> str:
    return translations(language or current()).ngettext(singular, plural, n)


def from_accept_language(header: str) -> str:
    """The first language of ``Accept-Language`` that we speak, by quality; else English."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if quality > 0 and primary:
            ranked.append((-quality, index, primary))
    for _, _, primary in sorted(ranked):
        if primary in LANGUAGES:
            return primary
        if primary == "*":
            return DEFAULT
    return DEFAULT


def choose(request: web.Request) -> str:
    chosen = request.cookies.get(COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return from_accept_language(request.headers.get("Accept-Language", ""))
