"""Password hashing with scrypt (memory-hard), from the standard library.

Stored form: ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``, so the cost
can be raised later while old hashes still verify (and can be upgraded on the
next login).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

LOG2_N = 15
R = 8
P = 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**log2_n, r=r, p=p, maxmem=_MAXMEM, dklen=_DKLEN)


def hash_password(password: str, *, log2_n: int = LOG2_N) -> str:
    """Hash a password for storage (about 32 MiB and ~50 ms per call at the default cost)."""
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, log2_n, R, P)
    return f"scrypt${log2_n}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Return whether ``password`` matches ``stored``, in constant time."""
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _derive(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, actual)


DUMMY_HASH = hash_password("not-a-password", log2_n=LOG2_N)
"""Checked against when the user name is unknown, so timing does not tell."""
