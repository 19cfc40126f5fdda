from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import pytest

from mystaff_proxy.audit.phone_hash import PURPOSE, PhoneHasher
from mystaff_proxy.config import Settings, config_from_mapping
from mystaff_proxy.sealing import derive_key

SESSION = secrets.token_urlsafe(32)


def _settings(**audit: str) -> Settings:
    return config_from_mapping({
        "server": {"public_url": "https://mystaff.contoso.com"},
        "tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
        "app": {"client_id": "11111111-1111-1111-1111-111111111111", "client_secret": "s"},
        "session": {"secret": SESSION}, "audit": dict(audit)}, "c", {})


def test_hmac_sha256_of_the_e164_number() -> None:
    key = secrets.token_bytes(32)
    hasher = PhoneHasher(key)
    expected = hmac.new(key, b"+12065550100", hashlib.sha256).hexdigest()
    # however the number was written or stored, and whatever its extension
    assert hasher.of("+1 2065550100") == hasher.of("+1 2065550100x12") == expected
    assert hasher.of("(206) 555-0100", "US") == expected
    assert hasher.digest("+12065550100") == expected
    assert hasher.of("+1 2065550101") != expected
    assert hasher.of("not a number") is None  # no hash rather than a wrong one


def test_the_key_comes_from_the_session_secret_unless_configured() -> None:
    settings = _settings()
    secret = settings.session.secret_bytes
    derived = derive_key(secret, PURPOSE)
    assert PhoneHasher.from_settings(settings).of("+1 2065550100") == \
        PhoneHasher(derived).of("+1 2065550100")
    # a key of its own survives a rotation of the session secret
    key = secrets.token_bytes(32)
    configured = _settings(phone_hash_key=base64.urlsafe_b64encode(key).decode())
    assert PhoneHasher.from_settings(configured).of("+1 2065550100") == \
        hmac.new(key, b"+12065550100", hashlib.sha256).hexdigest()
    # a key for this purpose only: not the session secret, nor the cookies' keys
    assert derived not in (secret, derive_key(secret, b"session-v1"))


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        PhoneHasher(b"k" * 31)
