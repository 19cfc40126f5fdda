"""What a readable token looks like, for the tests that assert none leaks.

A JWT is ``base64url(header).base64url(payload).signature``; header and payload are JSON objects,
so both start with ``eyJ`` (``{"``) and a dot stands between them. Sealed blobs, cookies and
random ids are base64url too, and a 2-kB one contains the three letters ``eyJ`` by chance about
once in a hundred runs, so "``eyJ`` is absent" is a flaky check. The dot is not in the base64url
alphabet: ``eyJ…​.eyJ`` cannot appear in sealed data by chance and always appears in a JWT.
"""

from __future__ import annotations

import re

JWT = re.compile(r"eyJ[\w-]*\.eyJ[\w-]*")
JWT_BYTES = re.compile(rb"eyJ[\w-]*\.eyJ[\w-]*")


def has_jwt(text: str | bytes) -> bool:
    """True when ``text`` holds a readable JWT (access, ID or refresh token)."""
    if isinstance(text, bytes):
        return JWT_BYTES.search(text) is not None
    return JWT.search(text) is not None
