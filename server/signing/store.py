"""The signing stage's store: one-time signing codes (their keyed hashes) and the limits on them.

The limits (:mod:`server.domain.codes`) are kept by :class:`server.store.codes.OneTimeCodes`, the same
rules as the accident finding's drivers' codes; here a signer is owned by (case, participant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from server.domain.codes import CodeLimits, CodeRule
from server.store import schema as t
from server.store.codes import OneTimeCodes


@dataclass(frozen=True)
class NewSigningCode:
    """A one-time code to keep (only its keyed hash)."""

    id: str
    """The code's id (part of what its hash covers)."""
    case_id: str
    """The case being signed."""
    participant_id: str
    """Who it was sent to (the signer, or the agent acting for them)."""
    code_hash: str
    """HMAC of the id and the code under the codes' own key."""
    channel: str
    """``sms`` or ``email``."""
    created_at: datetime
    """When it was sent."""
    expires_at: datetime
    """When it stops working."""
    document_sha256: str
    """The SHA-256 of the signing file it was sent for: it signs that file (or that file with later
    signatures appended), nothing else."""


class SigningCodeStore:
    """Keeps one-time signing codes and counts them against the signer's limits (``signing_code_limits``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._codes = OneTimeCodes(engine, t.signing_codes, t.signing_code_limits, ("case_id", "participant_id"))

    async def code_limits(self, case_id: str, participant_id: str) -> CodeLimits | None:
        """Where the signer stands against the code limits (None: no code was ever sent to them)."""
        return await self._codes.limits((case_id, participant_id))

    async def add_signing_code(self, code: NewSigningCode, rule: CodeRule) -> tuple[bool, CodeLimits | None]:
        """Keep a one-time code's keyed hash if ``rule`` lets the signer have one now (see
        :meth:`OneTimeCodes.add`)."""
        row = {
            "id": code.id,
            "code_hash": code.code_hash,
            "channel": code.channel,
            "created_at": code.created_at,
            "expires_at": code.expires_at,
            "document_sha256": code.document_sha256,
        }
        return await self._codes.add((code.case_id, code.participant_id), row, rule)

    async def void_signing_code(self, code: NewSigningCode, now: datetime) -> None:
        """An undelivered code: spent unused, and neither counted nor holding the wait (ask again at once)."""
        await self._codes.void((code.case_id, code.participant_id), code.id, code.created_at, now)

    async def latest_signing_code(self, case_id: str, participant_id: str) -> dict[str, Any] | None:
        """The signer's newest code, if any."""
        return await self._codes.latest((case_id, participant_id))

    async def count_code_guess(self, case_id: str, participant_id: str, rule: CodeRule) -> CodeLimits | None:
        """Count a guess as wrong before it is checked, if the day's allowance has room; None if not."""
        return await self._codes.count_guess((case_id, participant_id), rule)

    async def spend_signing_code(
        self, code_id: str, matched: bool, now: datetime, max_attempts: int, counted_on: str | None = None
    ) -> bool:
        """Count one attempt; use the code up if it matched. True only for the one attempt that wins."""
        return await self._codes.spend(code_id, matched, now, max_attempts, counted_on)
