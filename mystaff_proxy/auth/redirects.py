"""The post-sign-in ``next`` target: a same-origin path, or nothing.

Two layers, so that one mistake is not enough: a strict allow-list of what a local path may
look like (no scheme, no authority, no backslash, no control, space or non-ASCII characters,
no dot segments, no ``:`` or ``@`` in the first segment — checked again after each of up to
three rounds of percent-decoding), and the redirect itself written as our own
origin followed by the path, so that a browser can only resolve it to this service.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

DEFAULT_NEXT = "/"
_MAX_LENGTH = 1024
# RFC 3986 path, query and fragment characters, no backslash, no whitespace.
_ALLOWED = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/%?#]*")  # fullmatch: "$" allows "\n"


def safe_next(candidate: str | None) -> str:
    """``candidate`` if it is a same-origin path, else ``/``."""
    if not candidate or len(candidate) > _MAX_LENGTH:
        return DEFAULT_NEXT
    if not _ALLOWED.fullmatch(candidate):
        return DEFAULT_NEXT
    # Whatever decoding a browser or proxy applies, the path must still be local.
    decoded = candidate
    # The candidate and each of its three decodings: four checks (the security suite found
    # the third decoding unchecked: "/%25252f%25252fevil" was kept as a "local" path).
    for _ in range(4):
        if decoded.startswith("//") or decoded.startswith("/\\") or "\\" in decoded:
            return DEFAULT_NEXT
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in decoded):
            return DEFAULT_NEXT
        path = decoded.split("?", 1)[0].split("#", 1)[0]
        first_segment = path[1:].split("/", 1)[0]
        if "://" in path or ":" in first_segment or "@" in first_segment:
            return DEFAULT_NEXT
        if any(seg in (".", "..") for seg in path.split("/")):
            return DEFAULT_NEXT
        if not decoded.isascii():
            return DEFAULT_NEXT
        decoded = unquote(decoded)
    return candidate


def absolute_redirect(public_url: str, path: str) -> str:
    """Our own origin + a path checked by ``safe_next``."""
    return public_url.rstrip("/") + safe_next(path)
