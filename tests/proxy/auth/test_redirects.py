"""Open-redirect table: every public trick must leave the browser on our origin."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from mystaff_proxy.auth.redirects import absolute_redirect, safe_next

ORIGIN = "https://mystaff.contoso.example"
PAYLOADS = [
    line for line in (Path(__file__).parents[2] / "data" / "openredirects.txt")
    .resolve().read_text(encoding="utf-8").splitlines()
]

OWN_TABLE = [
    "//evil.example", "///evil.example", "////evil.example", "/\\evil.example",
    "\\\\evil.example", "/\\/evil.example", "/%2f/evil.example", "/%2F%2Fevil.example",
    "/%5c/evil.example", "/%5Cevil.example", "/%252f%252fevil.example", "/\t/evil.example",
    "/\n/evil.example", "/\r/evil.example", "/ /evil.example", "/\x00/evil.example",
    "/%09/evil.example", "/%0a/evil.example", "/%00/evil.example", "/./../evil.example",
    "/..//evil.example", "https://evil.example", "http:evil.example", "https:/evil.example",
    "//user:pass@evil.example", "/@evil.example", "//mystaff.contoso.example.evil.example",
    "//mystaff.contoso.example@evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "/javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "\u3002evil.example",
    "//evil\u3002example", "/\u2215\u2215evil.example", "%2f%2fevil.example", "evil.example",
    " /staff", "/staff\\..\\..\\evil", "/%E2%80%AE/evil", "/" + "a" * 2000,
]


def _lands_on_our_origin(candidate: str) -> bool:
    location = absolute_redirect(ORIGIN, candidate)
    # Resolve as a browser would, after stripping the tab/newline characters it ignores.
    cleaned = "".join(c for c in location if c not in "\t\r\n")
    resolved = urlsplit(urljoin(ORIGIN + "/", cleaned))
    return resolved.scheme == "https" and resolved.netloc == "mystaff.contoso.example"


@pytest.mark.parametrize("payload", PAYLOADS + [unquote(p) for p in PAYLOADS])
def test_public_open_redirect_payloads_stay_on_origin(payload: str) -> None:
    assert _lands_on_our_origin(payload)
    result = safe_next(payload)
    assert result == "/" or (result.startswith("/") and not result.startswith("//"))


@pytest.mark.parametrize("payload", OWN_TABLE)
def test_own_tricks_are_refused(payload: str) -> None:
    assert safe_next(payload) == "/"
    assert _lands_on_our_origin(payload)


@pytest.mark.parametrize("path", [
    "/", "/locations/seattle/staff", "/locations/seattle/staff?search=ann&top=25",
    "/locations/tacoma/staff/5b0c6e61-0000-4000-8000-000000000001#phones",
])
def test_local_paths_are_kept(path: str) -> None:
    assert safe_next(path) == path
    assert absolute_redirect(ORIGIN, path) == ORIGIN + path
