"""Tokens and passwords."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from server.errors import TokenExpired, Unauthenticated
from server.identity.passwords import hash_password, verify_password
from server.identity.tokens import TokenClaims, TokenKind, TokenSigner

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KEY = b"0123456789abcdef0123456789abcdef"


def claims(expires: datetime = T0 + timedelta(hours=1)) -> TokenClaims:
    return TokenClaims("jti-1", TokenKind.JOIN, "p-1", "c-1", expires)


def test_token_round_trip() -> None:
    signer = TokenSigner(KEY)
    got = signer.verify(signer.issue(claims()), T0)
    assert got == claims()


def test_expired_token_is_refused() -> None:
    signer = TokenSigner(KEY)
    token = signer.issue(claims())
    with pytest.raises(TokenExpired):
        signer.verify(token, T0 + timedelta(hours=1))


def test_token_from_another_key_is_refused() -> None:
    token = TokenSigner(b"x" * 32).issue(claims())
    with pytest.raises(Unauthenticated, match="signature"):
        TokenSigner(KEY).verify(token, T0)


def test_edited_payload_is_refused() -> None:
    signer = TokenSigner(KEY)
    prefix, body, mac = signer.issue(claims()).split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["sub"] = "p-2"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthenticated, match="signature"):
        signer.verify(f"{prefix}.{forged}.{mac}", T0)


@pytest.mark.parametrize("token", ["", "m1", "m1.a", "x1.a.b", "m1.a.b.c", "m1." + "a" * 2000 + ".b"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthenticated):
        TokenSigner(KEY).verify(token, T0)


def test_signed_but_garbled_payload_is_refused() -> None:
    signer = TokenSigner(KEY)
    body = base64.urlsafe_b64encode(b'{"jti": 1}').rstrip(b"=").decode()
    mac = signer._mac(f"m1.{body}")
    with pytest.raises(Unauthenticated, match="Malformed"):
        signer.verify(f"m1.{body}.{mac}", T0)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenSigner(b"short")


def test_passwords() -> None:
    stored = hash_password("correct horse battery", log2_n=12)
    assert stored.startswith("scrypt$12$8$1$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("x", "garbage")
    assert not verify_password("x", "bcrypt$1$2$3$4$5")
    assert hash_password("same", log2_n=12) != hash_password("same", log2_n=12)
