"""The no-token-leaks check finds every JWT and never a sealed blob that contains eyJ by chance."""

from __future__ import annotations

import os

import jwt
from token_shapes import has_jwt

from mystaff_proxy.sealing import Sealer


def test_a_signed_token_is_found_in_text_and_bytes() -> None:
    token = jwt.encode({"sub": "x", "scp": "User.Read"}, "k" * 32, algorithm="HS256")
    assert has_jwt(f"Authorization: Bearer {token}")
    assert has_jwt(f'{{"refresh": "{token}"}}'.encode())
    assert not has_jwt(token.replace(".", ""))


def test_sealed_blobs_with_eyj_inside_are_not_tokens() -> None:
    sealer = Sealer(os.urandom(32), b"test")
    # 400 blobs of 27 kB hold eyJ about 40 times (never is a chance of e**-40)
    blobs = [sealer.seal({"access_token": "eyJ" * 6700}) for _ in range(400)]
    assert any("eyJ" in b for b in blobs), "the old check, 'eyJ' not in blob, failed on these"
    assert not any(has_jwt(b) or has_jwt(b.encode()) for b in blobs)
