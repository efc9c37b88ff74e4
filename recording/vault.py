"""Recordings at rest: AES-GCM with a data key per case, wrapped by the master key.

Each case gets a random 256-bit data key the first time something of it is
recorded; the store keeps it only wrapped (AES-GCM under the master key from
configuration, bound to the case id). A sealed segment is
``nonce (12 bytes) || ciphertext || tag``, with associated data naming the case,
the track and the index, so a segment cannot be swapped for another unnoticed.
Flipping any byte makes opening fail, which the verification reports by segment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.errors import BlobIntegrityError
from server.store.keys import CaseKeyStore

NONCE = 12


def _aad(case_id: str, label: str) -> bytes:
    return f"mediation:{case_id}:{label}".encode()


def seal(key: bytes, plaintext: bytes, case_id: str, label: str) -> bytes:
    """Encrypt and authenticate ``plaintext`` for ``case_id`` under ``label``."""
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(case_id, label))


def unseal(key: bytes, sealed: bytes, case_id: str, label: str) -> bytes:
    """Decrypt; raise :class:`BlobIntegrityError` naming ``label`` if anything was changed."""
    try:
        return AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], _aad(case_id, label))
    except (InvalidTag, ValueError) as exc:
        raise BlobIntegrityError(f"{label} was altered or belongs elsewhere") from exc


@dataclass
class Vault:
    """Per-case data keys, created on first use, kept wrapped in the key store."""

    keys: CaseKeyStore
    """Where the wrapped keys are kept."""
    master_key: bytes
    """The key that wraps them (32 bytes, from configuration)."""

    def __post_init__(self) -> None:
        if len(self.master_key) != 32:
            raise ValueError("the recording master key must be 32 bytes")

    async def data_key(self, case_id: str, now: datetime) -> bytes:
        """The case's data key (created and stored wrapped if it has none)."""
        wrapped = await self.keys.case_key(case_id)
        if wrapped is None:
            wrapped = await self.keys.add_case_key(
                case_id, seal(self.master_key, AESGCM.generate_key(256), case_id, "data-key"), now
            )
        return unseal(self.master_key, wrapped, case_id, "data-key")
