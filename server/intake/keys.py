"""Police agencies' intake keys and the request signature (pure: no I/O, no clock).

**A key** is an id (``ik_`` and 32 hex digits, random) and a 32-byte secret that is never stored: it is derived
when needed, ``HMAC-SHA256(K, "intake-key:" + key id)``, where ``K`` is the platform's intake key
(HKDF of the server's secret, label ``mediation/v1/intake-keys``, :mod:`server.identity.keys`). The database
holds only the key's id, its agency and whether it is revoked, so a copy of the database alone signs nothing;
the secret is shown once when the key is made (``mediation intake-key create``). A changed server secret
changes every agency's secret: agencies are then given new keys. A key is revoked by its row; an agency holds
at most :data:`MAX_ACTIVE` active keys, so that it can move to a new one before the old is revoked.

**A request** is signed over ``METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n hex(SHA-256(body))``
(:func:`string_to_sign`), HMAC-SHA256 under the secret, lowercase hex, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

MAX_ACTIVE = 2
"""Active keys an agency may hold at once (the old and the new, while it rotates)."""
KEY_ID = re.compile(r"^ik_[0-9a-f]{32}$")
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
MAX_SKEW_SECONDS = 300
"""How far a request's timestamp may be from the server's clock (``stale_request`` past it)."""
NONCE_KEEP_SECONDS = 600
"""How long a nonce is remembered: twice the skew, so a replay is stale before its nonce is forgotten."""

KEY_HEADER = "X-Intake-Key"
TIMESTAMP_HEADER = "X-Intake-Timestamp"
NONCE_HEADER = "X-Intake-Nonce"
SIGNATURE_HEADER = "X-Intake-Signature"


def new_key_id() -> str:
    """A fresh, random key id."""
    return "ik_" + secrets.token_hex(16)


def key_secret(intake_key: bytes, key_id: str) -> bytes:
    """The agency's 32-byte secret of ``key_id``, from the platform's intake key."""
    return hmac.new(intake_key, b"intake-key:" + key_id.encode("ascii"), hashlib.sha256).digest()


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What is signed: the method, the path, the timestamp, the nonce and the body's SHA-256, one per line."""
    return "\n".join((method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest())).encode()


def sign(secret: bytes, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The request's signature (lowercase hex)."""
    return hmac.new(secret, string_to_sign(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


def signature_matches(
    secret: bytes, method: str, path: str, timestamp: str, nonce: str, body: bytes, given: str
) -> bool:
    """Whether ``given`` is the request's signature (constant-time)."""
    return hmac.compare_digest(sign(secret, method, path, timestamp, nonce, body), given)
