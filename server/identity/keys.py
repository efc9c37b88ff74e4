"""Keys derived from the server's one secret: each use of it gets a key of its own.

The secret (``MEDIATION_SECRET_KEY``, or ``secret.key`` in the data folder) is never used
directly as a key for new work. Each use derives its key with HKDF-SHA256 (RFC 5869), the
secret as input keying material and a label naming the use as ``info``::

    secret ──HKDF("mediation/v1/tokens")──────────▶ signs bearer tokens (server.identity.tokens)
           ├─HKDF("mediation/v1/signing-codes")───▶ keys the one-time codes' stored hashes
           ├─HKDF("mediation/v1/application-codes")▶ keys a public application's codes, numbers, addresses
           ├─HKDF("mediation/v1/intake-keys")──────▶ derives each police agency's intake secret from its key id
           ├─HKDF("mediation/v1/scene-codes")──────▶ keys a scene report's join codes
           └─HKDF("mediation/v1/finding-codes")────▶ keys the codes drivers sign the accident finding with

so that a value made with one key (a token's MAC, a stored code hash) tells nothing about,
and can never stand in for, a value made with another. A new use adds a label here; nodes
that share the secret derive the same keys.

Tokens signed with the secret itself (before the keys were separated) are still accepted
until they expire (``TokenSigner(..., also_accept=(secret,))``, at most 30 days for a service
link): join and service links already sent by SMS or e-mail must keep working across an upgrade.
Nothing new is signed with the secret, and nothing but those old tokens is checked with it.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TOKENS = "mediation/v1/tokens"
"""Signs and checks bearer tokens (join links, service links, account sessions)."""
SIGNING_CODES = "mediation/v1/signing-codes"
"""Keys the HMAC under which one-time signing codes are stored."""
APPLICATION_CODES = "mediation/v1/application-codes"
"""Keys the HMACs of a party's own application (its SMS code, the mobile number, the client address)."""
INTAKE_KEYS = "mediation/v1/intake-keys"
"""Derives the secret of each police agency's intake key from the key's id (``server.intake.keys``)."""
SCENE_CODES = "mediation/v1/scene-codes"
"""Keys the HMAC under which a scene report's join code is stored (``server.scene``)."""
FINDING_CODES = "mediation/v1/finding-codes"
"""Keys the HMAC under which the codes that drivers sign the electronic accident finding with are stored."""
LABELS = (TOKENS, SIGNING_CODES, APPLICATION_CODES, INTAKE_KEYS, SCENE_CODES, FINDING_CODES)
"""Every use of the secret; each label gives a different key."""
KEY_BYTES = 32


def derive_key(secret: bytes, label: str) -> bytes:
    """The 256-bit key for ``label`` (one of :data:`LABELS`) from the server's secret."""
    if label not in LABELS:
        raise ValueError("Unknown key label")
    if len(secret) < 32:
        raise ValueError("The secret must be at least 32 bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label.encode("ascii"))
    return hkdf.derive(secret)
