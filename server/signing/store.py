"""The signing stage's store: one-time signing codes (their keyed hashes) and the limits on them.

The limits (one code a minute, codes and wrong guesses a day) are decided by conditional UPDATEs
of the signer's row in ``signing_code_limits``; see :class:`SigningCodeStore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store import schema as t


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


@dataclass(frozen=True)
class CodeRule:
    """The limits a one-time code request is held to."""

    day: str
    """Today, the day the counts are kept for (a Beijing date, ``YYYY-MM-DD``)."""
    resend_after: timedelta
    """The wait between two codes."""
    max_codes: int
    """Codes a day."""
    max_wrong: int
    """Wrong guesses a day."""


@dataclass(frozen=True)
class CodeLimits:
    """Where a signer stands against the one-time code limits (a ``signing_code_limits`` row)."""

    last_sent_at: datetime | None
    """When the code that holds the wait was sent; None when none holds it."""
    day: str
    """The day of the counts (a Beijing date)."""
    codes_sent: int
    """Codes sent that day."""
    wrong_guesses: int
    """Wrong guesses that day."""


def _code_limits(row: Any) -> CodeLimits:
    return CodeLimits(row.last_sent_at, row.day, row.codes_sent, row.wrong_guesses)


class SigningCodeStore:
    """Keeps one-time signing codes and counts them against the signer's limits."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ one-time codes
    #
    # The limits (one code a minute, codes and wrong guesses a day) are decided by conditional UPDATEs
    # of the signer's row in ``signing_code_limits``: on PostgreSQL a second request waits for the first
    # one's row lock and then finds the condition false; SQLite runs one writer at a time. Either way
    # ten requests at once, on any number of nodes, send one code.

    @staticmethod
    def _limits_key(case_id: str, participant_id: str) -> Any:
        lim = t.signing_code_limits
        return and_(lim.c.case_id == case_id, lim.c.participant_id == participant_id)

    async def code_limits(self, case_id: str, participant_id: str) -> CodeLimits | None:
        """Where the signer stands against the code limits (None: no code was ever sent to them)."""
        lim = t.signing_code_limits
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(lim).where(self._limits_key(case_id, participant_id)))).first()
        return _code_limits(row) if row is not None else None

    async def add_signing_code(self, code: NewSigningCode, rule: CodeRule) -> tuple[bool, CodeLimits | None]:
        """Keep a one-time code's keyed hash if ``rule`` lets the signer have one now.

        (True, the limits after it) when stored; earlier unused codes of that signer stop counting.
        (False, the limits that refused it) otherwise, with nothing stored.
        """
        sc, lim = t.signing_codes, t.signing_code_limits
        key = self._limits_key(code.case_id, code.participant_id)
        same_day = lim.c.day == rule.day
        allowed = and_(
            key,
            or_(lim.c.last_sent_at.is_(None), lim.c.last_sent_at <= code.created_at - rule.resend_after),
            or_(~same_day, and_(lim.c.codes_sent < rule.max_codes, lim.c.wrong_guesses < rule.max_wrong)),
        )
        try:
            async with self.engine.begin() as conn:
                row = (
                    await conn.execute(
                        update(lim)
                        .where(allowed)
                        .values(
                            last_sent_at=code.created_at,
                            day=rule.day,
                            codes_sent=case((same_day, lim.c.codes_sent + 1), else_=1),
                            wrong_guesses=case((same_day, lim.c.wrong_guesses), else_=0),
                        )
                        .returning(lim)
                    )
                ).first()
                if row is None:
                    current = (await conn.execute(select(lim).where(key))).first()
                    if current is not None:
                        return False, _code_limits(current)
                    first = {"last_sent_at": code.created_at, "day": rule.day, "codes_sent": 1, "wrong_guesses": 0}
                    await conn.execute(
                        insert(lim).values(case_id=code.case_id, participant_id=code.participant_id, **first)
                    )
                    limits = CodeLimits(code.created_at, rule.day, 1, 0)
                else:
                    limits = _code_limits(row)
                await conn.execute(
                    update(sc)
                    .where(
                        and_(
                            sc.c.case_id == code.case_id,
                            sc.c.participant_id == code.participant_id,
                            sc.c.used_at.is_(None),
                        )
                    )
                    .values(used_at=code.created_at)
                )
                await conn.execute(
                    insert(sc).values(
                        id=code.id,
                        case_id=code.case_id,
                        participant_id=code.participant_id,
                        code_hash=code.code_hash,
                        channel=code.channel,
                        created_at=code.created_at,
                        expires_at=code.expires_at,
                        attempts=0,
                        used_at=None,
                        document_sha256=code.document_sha256,
                    )
                )
        except IntegrityError:
            # another request created the signer's row first, in the same moment: it sent the code
            current_limits = await self.code_limits(code.case_id, code.participant_id)
            if current_limits is None:
                raise
            return False, current_limits
        return True, limits

    async def void_signing_code(self, code: NewSigningCode, now: datetime) -> None:
        """An undelivered code: spent unused, and neither counted nor holding the wait (ask again at once)."""
        sc, lim = t.signing_codes, t.signing_code_limits
        async with self.engine.begin() as conn:
            await conn.execute(update(sc).where(and_(sc.c.id == code.id, sc.c.used_at.is_(None))).values(used_at=now))
            await conn.execute(
                update(lim)
                .where(
                    and_(
                        self._limits_key(code.case_id, code.participant_id),
                        lim.c.last_sent_at == code.created_at,
                        lim.c.codes_sent > 0,
                    )
                )
                .values(last_sent_at=None, codes_sent=lim.c.codes_sent - 1)
            )

    async def latest_signing_code(self, case_id: str, participant_id: str) -> dict[str, Any] | None:
        """The signer's newest code, if any."""
        sc = t.signing_codes
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(sc)
                    .where(and_(sc.c.case_id == case_id, sc.c.participant_id == participant_id))
                    .order_by(sc.c.created_at.desc(), sc.c.id.desc())
                    .limit(1)
                )
            ).first()
        return dict(row._mapping) if row is not None else None

    async def count_code_guess(self, case_id: str, participant_id: str, rule: CodeRule) -> CodeLimits | None:
        """Count a guess as wrong before it is checked, if the day's allowance has room; None if not.

        Counted first, in one conditional UPDATE, so that guesses at the same moment cannot pass the cap;
        :meth:`spend_signing_code` gives the guess back when it was right.
        """
        lim = t.signing_code_limits
        same_day = lim.c.day == rule.day
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(lim)
                    .where(
                        and_(
                            self._limits_key(case_id, participant_id),
                            or_(~same_day, lim.c.wrong_guesses < rule.max_wrong),
                        )
                    )
                    .values(
                        day=rule.day,
                        wrong_guesses=case((same_day, lim.c.wrong_guesses + 1), else_=1),
                        codes_sent=case((same_day, lim.c.codes_sent), else_=0),
                    )
                    .returning(lim)
                )
            ).first()
        return _code_limits(row) if row is not None else None

    async def spend_signing_code(
        self, code_id: str, matched: bool, now: datetime, max_attempts: int, counted_on: str | None = None
    ) -> bool:
        """Count one attempt; use the code up if it matched. True only for the one attempt that wins.

        One conditional UPDATE, so that two requests with the same code cannot both succeed. The winner
        gives back the guess :meth:`count_code_guess` counted on day ``counted_on`` and lifts the wait
        for a new code (the signer may need one at once, e.g. when the timestamp authority was away).
        """
        sc, lim = t.signing_codes, t.signing_code_limits
        live = and_(sc.c.id == code_id, sc.c.used_at.is_(None), sc.c.attempts < max_attempts, sc.c.expires_at > now)
        values: dict[str, Any] = {"attempts": sc.c.attempts + 1}
        if matched:
            values["used_at"] = now
        async with self.engine.begin() as conn:
            won = (await conn.execute(update(sc).where(live).values(**values).returning(sc))).first()
            if matched and won is not None:
                owner = self._limits_key(won.case_id, won.participant_id)
                refund = case(
                    (and_(lim.c.day == counted_on, lim.c.wrong_guesses > 0), lim.c.wrong_guesses - 1),
                    else_=lim.c.wrong_guesses,
                )
                await conn.execute(update(lim).where(owner).values(last_sent_at=None, wrong_guesses=refund))
        return matched and won is not None
