"""One-time codes (their keyed hashes) and the limits on them, for any kind of signer.

A kind of signer has two tables: its codes (``id``, the owner's columns, ``code_hash``, ``created_at``,
``expires_at``, ``attempts``, ``used_at``, ``document_sha256``, and any columns of its own) and its limits
(the owner's columns as key, ``last_sent_at``, ``day``, ``codes_sent``, ``wrong_guesses``). The agreement's
signers are owned by (case, participant), the accident finding's drivers by (report, driver number).

The limits (:mod:`server.domain.codes`) are decided by conditional UPDATEs of the owner's limits row: on
PostgreSQL a second request waits for the first one's row lock and then finds the condition false; SQLite
runs one writer at a time. Either way ten requests at once, on any number of nodes, send one code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.domain.codes import CodeLimits, CodeRule


def _limits(row: Any) -> CodeLimits:
    return CodeLimits(row.last_sent_at, row.day, row.codes_sent, row.wrong_guesses)


class OneTimeCodes:
    """The codes of one kind of signer, counted against the owner's limits.

    ``owner``: the names of the columns, in both tables, that say whose a code is; every method takes
    the owner's values in that order.
    """

    def __init__(self, engine: AsyncEngine, codes: Table, limits: Table, owner: tuple[str, ...]) -> None:
        self.engine = engine
        self.codes = codes
        self.limits_table = limits
        self.owner = owner

    def _of(self, table: Table, owner: tuple[Any, ...]) -> ColumnElement[bool]:
        return and_(*(table.c[name] == value for name, value in zip(self.owner, owner, strict=True)))

    async def limits(self, owner: tuple[Any, ...]) -> CodeLimits | None:
        """Where the owner stands against the code limits (None: no code was ever sent to them)."""
        lim = self.limits_table
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(lim).where(self._of(lim, owner)))).first()
        return _limits(row) if row is not None else None

    async def add(
        self, owner: tuple[Any, ...], code: Mapping[str, Any], rule: CodeRule
    ) -> tuple[bool, CodeLimits | None]:
        """Keep a code (``code``: its row but the owner's columns, ``attempts`` and ``used_at``) if ``rule``
        lets the owner have one now.

        (True, the limits after it) when stored; earlier unused codes of that owner stop counting.
        (False, the limits that refused it) otherwise, with nothing stored.
        """
        sc, lim = self.codes, self.limits_table
        created_at: datetime = code["created_at"]
        key = self._of(lim, owner)
        same_day = lim.c.day == rule.day
        allowed = and_(
            key,
            or_(lim.c.last_sent_at.is_(None), lim.c.last_sent_at <= created_at - rule.resend_after),
            or_(~same_day, and_(lim.c.codes_sent < rule.max_codes, lim.c.wrong_guesses < rule.max_wrong)),
        )
        mine = dict(zip(self.owner, owner, strict=True))
        try:
            async with self.engine.begin() as conn:
                row = (
                    await conn.execute(
                        update(lim)
                        .where(allowed)
                        .values(
                            last_sent_at=created_at,
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
                        return False, _limits(current)
                    first = {"last_sent_at": created_at, "day": rule.day, "codes_sent": 1, "wrong_guesses": 0}
                    await conn.execute(insert(lim).values(**mine, **first))
                    limits = CodeLimits(created_at, rule.day, 1, 0)
                else:
                    limits = _limits(row)
                unused = and_(self._of(sc, owner), sc.c.used_at.is_(None))
                await conn.execute(update(sc).where(unused).values(used_at=created_at))
                await conn.execute(insert(sc).values(**mine, **code, attempts=0, used_at=None))
        except IntegrityError:
            # another request created the owner's row first, in the same moment: it sent the code
            current_limits = await self.limits(owner)
            if current_limits is None:
                raise
            return False, current_limits
        return True, limits

    async def void(self, owner: tuple[Any, ...], code_id: str, created_at: datetime, now: datetime) -> None:
        """An undelivered code: spent unused, and neither counted nor holding the wait (ask again at once)."""
        sc, lim = self.codes, self.limits_table
        async with self.engine.begin() as conn:
            await conn.execute(update(sc).where(and_(sc.c.id == code_id, sc.c.used_at.is_(None))).values(used_at=now))
            await conn.execute(
                update(lim)
                .where(and_(self._of(lim, owner), lim.c.last_sent_at == created_at, lim.c.codes_sent > 0))
                .values(last_sent_at=None, codes_sent=lim.c.codes_sent - 1)
            )

    async def latest(self, owner: tuple[Any, ...]) -> dict[str, Any] | None:
        """The owner's newest code, if any."""
        sc = self.codes
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(sc).where(self._of(sc, owner)).order_by(sc.c.created_at.desc(), sc.c.id.desc()).limit(1)
                )
            ).first()
        return dict(row._mapping) if row is not None else None

    async def count_guess(self, owner: tuple[Any, ...], rule: CodeRule) -> CodeLimits | None:
        """Count a guess as wrong before it is checked, if the day's allowance has room; None if not.

        Counted first, in one conditional UPDATE, so that guesses at the same moment cannot pass the cap;
        :meth:`spend` gives the guess back when it was right.
        """
        lim = self.limits_table
        same_day = lim.c.day == rule.day
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(lim)
                    .where(and_(self._of(lim, owner), or_(~same_day, lim.c.wrong_guesses < rule.max_wrong)))
                    .values(
                        day=rule.day,
                        wrong_guesses=case((same_day, lim.c.wrong_guesses + 1), else_=1),
                        codes_sent=case((same_day, lim.c.codes_sent), else_=0),
                    )
                    .returning(lim)
                )
            ).first()
        return _limits(row) if row is not None else None

    async def spend(
        self, code_id: str, matched: bool, now: datetime, max_attempts: int, counted_on: str | None = None
    ) -> bool:
        """Count one attempt; use the code up if it matched. True only for the one attempt that wins.

        One conditional UPDATE, so that two requests with the same code cannot both succeed. The winner
        gives back the guess :meth:`count_guess` counted on day ``counted_on`` and lifts the wait for a new
        code (the signer may need one at once, e.g. when the timestamp authority was away).
        """
        sc, lim = self.codes, self.limits_table
        live = and_(sc.c.id == code_id, sc.c.used_at.is_(None), sc.c.attempts < max_attempts, sc.c.expires_at > now)
        values: dict[str, Any] = {"attempts": sc.c.attempts + 1}
        if matched:
            values["used_at"] = now
        async with self.engine.begin() as conn:
            won = (await conn.execute(update(sc).where(live).values(**values).returning(sc))).first()
            if matched and won is not None:
                owner = tuple(won._mapping[name] for name in self.owner)
                refund = case(
                    (and_(lim.c.day == counted_on, lim.c.wrong_guesses > 0), lim.c.wrong_guesses - 1),
                    else_=lim.c.wrong_guesses,
                )
                await conn.execute(
                    update(lim).where(self._of(lim, owner)).values(last_sent_at=None, wrong_guesses=refund)
                )
        return matched and won is not None
