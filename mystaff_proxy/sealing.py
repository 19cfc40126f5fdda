"""Sealing small JSON blobs (AES-GCM) with keys derived, one per purpose, from one secret.

Session cookies, staff-list cursors, pending sign-ins and manager mode's delegated tokens are
all sealed this way; the audit log's phone hashes use the same key derivation.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    """A 256-bit key for one purpose, so one configured secret never serves two uses."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mystaff-proxy",
                info=purpose).derive(secret)


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    """Authenticated encryption of small JSON blobs into cookie-safe strings."""

    def __init__(self, secret: bytes, purpose: bytes) -> None:
        self._aead = AESGCM(derive_key(secret, purpose))
        self._purpose = purpose

    def seal(self, data: dict[str, Any]) -> str:
        nonce = secrets.token_bytes(12)
        # UTF-8, not \u escapes: a 256-character non-Latin display name must still fit a
        # cookie under 4 KB (the security suite found 12 bytes per character: 4.6 KB).
        plain = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return _b64e(nonce + self._aead.encrypt(nonce, plain, self._purpose))

    def open(self, token: str) -> dict[str, Any] | None:
        """The sealed data, or None for anything tampered, foreign or malformed."""
        try:
            raw = _b64d(token)
            if len(raw) < 12 + 16:
                return None
            plain = self._aead.decrypt(raw[:12], raw[12:], self._purpose)
            data = json.loads(plain)
        except (InvalidTag, ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None
