"""Keys derived from the server's secret (issue 12 item 19b): one per use, none equal to the secret;
tokens signed before the split still verify until they expire, nothing new is signed with the secret."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from server.errors import Unauthenticated
from server.identity.keys import LABELS, SIGNING_CODES, TOKENS, derive_key
from server.identity.tokens import TokenClaims, TokenKind, TokenSigner

SECRET = b"k" * 48
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_each_use_gets_its_own_key() -> None:
    derived = {label: derive_key(SECRET, label) for label in LABELS}
    assert len(set(derived.values())) == len(LABELS) and SECRET not in derived.values()
    assert all(len(k) == 32 for k in derived.values())
    assert derive_key(SECRET, TOKENS) == derive_key(SECRET, TOKENS)  # every node derives the same
    assert derive_key(b"j" * 48, TOKENS) != derived[TOKENS]
    # RFC 5869 HKDF-SHA256, no salt, the label as info, computed here by hand: a change must be deliberate
    prk = hmac.new(b"\0" * 32, SECRET, hashlib.sha256).digest()
    okm = hmac.new(prk, SIGNING_CODES.encode() + b"\x01", hashlib.sha256).digest()
    assert derived[SIGNING_CODES] == okm
    with pytest.raises(ValueError, match="label"):
        derive_key(SECRET, "mediation/v1/other")
    with pytest.raises(ValueError, match="32 bytes"):
        derive_key(b"short", TOKENS)


def test_tokens_from_before_the_split_verify_and_new_ones_use_the_derived_key() -> None:
    claims = TokenClaims("jti", TokenKind.JOIN, "p1", "c1", T0 + timedelta(days=7))
    signer = TokenSigner(derive_key(SECRET, TOKENS), also_accept=(SECRET,))
    old = TokenSigner(SECRET).issue(claims)
    assert signer.verify(old, T0) == claims
    new = signer.issue(claims)
    assert new != old and signer.verify(new, T0) == claims
    with pytest.raises(Unauthenticated):
        TokenSigner(SECRET).verify(new, T0)  # the secret itself no longer signs
    with pytest.raises(Unauthenticated):
        TokenSigner(derive_key(SECRET, TOKENS)).verify(old, T0)  # without the fallback, old ones fail
    with pytest.raises(Unauthenticated):
        TokenSigner(derive_key(SECRET, TOKENS), also_accept=(b"x" * 48,)).verify(old, T0)
