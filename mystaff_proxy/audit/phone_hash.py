"""The audit's ``phoneHash``: which number a phone event was about, without the number.

``phoneHash`` (and ``previousPhoneHash`` of a change) is the HMAC-SHA256, in hex, of the
number in E.164 (``+12065550100``: no spaces, no extension) under a key the log never holds.
``mystaff-proxy audit find-phone NUMBER`` computes the same value to list every event about a
number (docs/phones.md). A plain hash would not do: there are few enough phone numbers to
hash them all, so whoever reads the log could read the numbers back; without the key they
cannot, with it (the session secret or ``[audit] phone_hash_key``) anyone can.

The key: ``[audit] phone_hash_key`` as given (urlsafe base64 of 32+ bytes), else one derived
from ``[session] secret`` for this purpose only. Rotating the session secret therefore
changes the hashes of events written after it; set ``phone_hash_key`` to keep them
comparable across rotations (and to hand it to whoever investigates, not the session secret).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from mystaff_proxy.config import Settings
from mystaff_proxy.phones import InvalidPhoneNumber, e164
from mystaff_proxy.sealing import derive_key

#: The derivation's purpose: a new one (v2) would make new hashes unlike the old ones.
PURPOSE: Final = b"audit-phone-hash-v1"
MIN_KEY_BYTES: Final = 32


class PhoneHasher:
    """HMAC-SHA256 of E.164 numbers under one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a phone hash key has at least {MIN_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> PhoneHasher:
        """The key the proxy with these settings writes its log with."""
        if settings.audit.phone_hash_key:
            return cls(settings.audit.phone_hash_key_bytes)
        return cls(derive_key(settings.session.secret_bytes, PURPOSE))

    def digest(self, e164_number: str) -> str:
        """64 hex digits for an E.164 number (``+12065550100``)."""
        return hmac.new(self._key, e164_number.encode("ascii"), hashlib.sha256).hexdigest()

    def of(self, number: str, region: str | None = None) -> str | None:
        """The hash of a number as Graph stores it (or as typed, with ``region``); None when
        it cannot be read as a number (then the event has no hash, never a wrong one)."""
        try:
            return self.digest(e164(number, region))
        except InvalidPhoneNumber:
            return None
