"""Signed, expiring bearer tokens.

A token is ``m1.<payload>.<mac>``: the payload is base64url JSON with the
token's id (``jti``), kind, subject, case and expiry; the MAC is HMAC-SHA256
over ``m1.<payload>`` with the token key, derived from the server's secret for tokens alone
(``server.identity.keys``). The signature lets any node
reject a forged or expired token without the database; the store keeps each
``jti`` so that a revoked token never works again. The token itself is never
stored or logged.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from server.errors import TokenExpired, Unauthenticated

PREFIX = "m1"
MAX_TOKEN_LENGTH = 1024


class TokenKind(enum.StrEnum):
    """What a token opens."""

    JOIN = "join"
    """A participant's personal link to one case."""
    SESSION = "session"
    """A logged-in account (mediator or judge)."""
    SERVICE = "service"
    """A recipient's personal link to one document served on them (and nothing else)."""
    SCENE = "scene"
    """A driver's link to one scene report (``ref``; subject: the driver's id; no case) and nothing else."""


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    jti: str
    """The token's id; the store records it for revocation."""
    kind: TokenKind
    """Join link or account session."""
    subject: str
    """Participant id (join) or account id (session)."""
    case_id: str | None
    """The case a join link is for; None for sessions."""
    expires_at: datetime
    """After this the token is refused."""
    ref: str | None = None
    """What a service link opens (the service's id); None for other kinds."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_token_id() -> str:
    """A fresh random token id (128 bits)."""
    return secrets.token_urlsafe(16)


class TokenSigner:
    """Issues tokens with one key; checks them with that key or one of ``also_accept``.

    ``also_accept``: earlier keys whose tokens still verify until they expire (the secret itself,
    which signed tokens before the keys were separated); nothing is issued with them.
    """

    def __init__(self, key: bytes, also_accept: tuple[bytes, ...] = ()) -> None:
        if len(key) < 32 or any(len(k) < 32 for k in also_accept):
            raise ValueError("the token key must be at least 32 bytes")
        self._key = key
        self._accepted = (key, *(k for k in also_accept if k != key))

    def _mac(self, signed_part: str, key: bytes | None = None) -> str:
        return _b64(hmac.new(key or self._key, signed_part.encode("ascii"), hashlib.sha256).digest())

    def issue(self, claims: TokenClaims) -> str:
        """Encode and sign ``claims``."""
        payload = {
            "jti": claims.jti,
            "k": claims.kind.value,
            "sub": claims.subject,
            "cid": claims.case_id,
            "exp": int(claims.expires_at.timestamp()),
        }
        if claims.ref is not None:
            payload["ref"] = claims.ref
        body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        signed_part = f"{PREFIX}.{body}"
        return f"{signed_part}.{self._mac(signed_part)}"

    def verify(self, token: str, now: datetime) -> TokenClaims:
        """Check the signature and expiry; raise :class:`Unauthenticated` otherwise."""
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise Unauthenticated("Malformed token")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise Unauthenticated("Malformed token")
        signed_part = f"{parts[0]}.{parts[1]}"
        mac = parts[2]
        if not any(hmac.compare_digest(self._mac(signed_part, key), mac) for key in self._accepted):
            raise Unauthenticated("Invalid token signature")
        try:
            payload = json.loads(_unb64(parts[1]))
            claims = TokenClaims(
                jti=str(payload["jti"]),
                kind=TokenKind(payload["k"]),
                subject=str(payload["sub"]),
                case_id=None if payload["cid"] is None else str(payload["cid"]),
                expires_at=datetime.fromtimestamp(int(payload["exp"]), tz=UTC),
                ref=None if payload.get("ref") is None else str(payload["ref"]),
            )
        except (ValueError, KeyError, TypeError, OverflowError, OSError, binascii.Error) as exc:
            raise Unauthenticated("Malformed token") from exc
        if now >= claims.expires_at:
            raise TokenExpired("The token has expired")
        return claims
