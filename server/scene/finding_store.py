"""The finding's store: the chain of its files, and the drivers' one-time codes and their limits.

The files of one finding form a chain ``seq`` 0, 1, 2: the certified PDF with both drivers' fields, then one
file per driver's signature, each the one before with an incremental update appended (the bytes live in the
blob store by content address). Adding a file names the ``seq`` it expects; the primary key (report, seq)
refuses the second of two drivers signing at the same moment on every node, and the unique (report, driver)
keeps a driver from signing twice: :meth:`FindingStore.add_file` answers False and the caller re-reads.

The code limits (one code a minute, codes and wrong guesses a Beijing day) are decided by conditional
UPDATEs of the driver's row in ``liability_finding_code_limits``, as ``server.signing.store`` does for the
agreement's signers (the same rules, keyed by report and driver number instead of case and participant).
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
class FindingFile:
    """One file of the finding's chain."""

    seq: int
    """0: the certified PDF with the drivers' fields; then one per signature."""
    sha256: str
    size: int
    driver: int | None
    """Whose signature this file added (None for ``seq`` 0)."""
    created_at: datetime


@dataclass(frozen=True)
class FindingRecord:
    """A finding as kept: its hashes and its files, oldest first."""

    report_id: str
    rendered_sha256: str
    """Of the PDF as rendered (before the fields and the unit's certification)."""
    issued_at: datetime
    files: tuple[FindingFile, ...]
    signed_sha256: str | None
    """The file both drivers signed, once they have."""
    signed_at: datetime | None

    @property
    def newest(self) -> FindingFile:
        return self.files[-1]

    @property
    def signed_by(self) -> dict[int, datetime]:
        """Driver number → when their signature was stored."""
        return {f.driver: f.created_at for f in self.files if f.driver is not None}


@dataclass(frozen=True)
class NewCode:
    """A one-time code to keep (only its keyed hash)."""

    id: str
    report_id: str
    driver: int
    code_hash: str
    created_at: datetime
    expires_at: datetime
    document_sha256: str
    """The file it was sent for: it signs that file, or that file with the other driver's signature appended."""


@dataclass(frozen=True)
class CodeRule:
    """The limits a code request is held to."""

    day: str
    """Today in Beijing (``YYYY-MM-DD``)."""
    resend_after: timedelta
    max_codes: int
    max_wrong: int


@dataclass(frozen=True)
class CodeLimits:
    """Where a driver stands against the code limits."""

    last_sent_at: datetime | None
    day: str
    codes_sent: int
    wrong_guesses: int


def _limits(row: Any) -> CodeLimits:
    return CodeLimits(row.last_sent_at, row.day, row.codes_sent, row.wrong_guesses)


class FindingStore:
    """Keeps findings, their files and the drivers' codes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ the finding and its files

    async def finding(self, report_id: str) -> FindingRecord | None:
        """The finding of ``report_id`` with its files, or None when none was issued."""
        lf, ff = t.liability_findings, t.liability_finding_files
        async with self.engine.connect() as conn:
            head = (await conn.execute(select(lf).where(lf.c.report_id == report_id))).first()
            if head is None:
                return None
            rows = (await conn.execute(select(ff).where(ff.c.report_id == report_id).order_by(ff.c.seq))).all()
        files = tuple(FindingFile(r.seq, r.sha256, r.size, r.driver, r.created_at) for r in rows)
        return FindingRecord(report_id, head.rendered_sha256, head.issued_at, files, head.signed_sha256, head.signed_at)

    async def issue(self, report_id: str, rendered_sha256: str, first: FindingFile, now: datetime) -> bool:
        """Keep a newly issued finding with its first file; False when another request issued it first."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(t.liability_findings).values(
                        report_id=report_id, rendered_sha256=rendered_sha256, issued_at=now
                    )
                )
                await conn.execute(insert(t.liability_finding_files).values(report_id=report_id, **_file(first)))
        except IntegrityError:
            return False
        return True

    async def add_file(self, report_id: str, file: FindingFile, signed_at: datetime | None = None) -> bool:
        """Append ``file`` at its ``seq``; False when that place (or that driver's signature) is taken.

        ``signed_at``: this file completes the signatures; the finding records it as the signed file.
        """
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.liability_finding_files).values(report_id=report_id, **_file(file)))
                if signed_at is not None:
                    lf = t.liability_findings
                    await conn.execute(
                        update(lf)
                        .where(and_(lf.c.report_id == report_id, lf.c.signed_sha256.is_(None)))
                        .values(signed_sha256=file.sha256, signed_at=signed_at)
                    )
        except IntegrityError:
            return False
        return True

    # ------------------------------------------------------------------ one-time codes

    @staticmethod
    def _key(report_id: str, driver: int) -> Any:
        lim = t.liability_finding_code_limits
        return and_(lim.c.report_id == report_id, lim.c.driver == driver)

    async def code_limits(self, report_id: str, driver: int) -> CodeLimits | None:
        lim = t.liability_finding_code_limits
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(lim).where(self._key(report_id, driver)))).first()
        return _limits(row) if row is not None else None

    async def add_code(self, code: NewCode, rule: CodeRule) -> tuple[bool, CodeLimits | None]:
        """Keep a code's keyed hash if ``rule`` lets the driver have one now (earlier unused codes stop
        counting): (True, the limits after it), or (False, the limits that refused it) with nothing stored."""
        sc, lim = t.liability_finding_codes, t.liability_finding_code_limits
        key = self._key(code.report_id, code.driver)
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
                        return False, _limits(current)
                    await conn.execute(
                        insert(lim).values(
                            report_id=code.report_id,
                            driver=code.driver,
                            last_sent_at=code.created_at,
                            day=rule.day,
                            codes_sent=1,
                            wrong_guesses=0,
                        )
                    )
                    limits = CodeLimits(code.created_at, rule.day, 1, 0)
                else:
                    limits = _limits(row)
                mine = and_(sc.c.report_id == code.report_id, sc.c.driver == code.driver, sc.c.used_at.is_(None))
                await conn.execute(update(sc).where(mine).values(used_at=code.created_at))
                await conn.execute(
                    insert(sc).values(
                        id=code.id,
                        report_id=code.report_id,
                        driver=code.driver,
                        code_hash=code.code_hash,
                        created_at=code.created_at,
                        expires_at=code.expires_at,
                        attempts=0,
                        used_at=None,
                        document_sha256=code.document_sha256,
                    )
                )
        except IntegrityError:
            # another request created the driver's row first, in the same moment: it sent the code
            current_limits = await self.code_limits(code.report_id, code.driver)
            if current_limits is None:
                raise
            return False, current_limits
        return True, limits

    async def void_code(self, code: NewCode, now: datetime) -> None:
        """An undelivered code: spent unused, neither counted nor holding the wait."""
        sc, lim = t.liability_finding_codes, t.liability_finding_code_limits
        async with self.engine.begin() as conn:
            await conn.execute(update(sc).where(and_(sc.c.id == code.id, sc.c.used_at.is_(None))).values(used_at=now))
            await conn.execute(
                update(lim)
                .where(
                    and_(
                        self._key(code.report_id, code.driver),
                        lim.c.last_sent_at == code.created_at,
                        lim.c.codes_sent > 0,
                    )
                )
                .values(last_sent_at=None, codes_sent=lim.c.codes_sent - 1)
            )

    async def latest_code(self, report_id: str, driver: int) -> dict[str, Any] | None:
        sc = t.liability_finding_codes
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(sc)
                    .where(and_(sc.c.report_id == report_id, sc.c.driver == driver))
                    .order_by(sc.c.created_at.desc(), sc.c.id.desc())
                    .limit(1)
                )
            ).first()
        return dict(row._mapping) if row is not None else None

    async def count_guess(self, report_id: str, driver: int, rule: CodeRule) -> CodeLimits | None:
        """Count a guess as wrong before it is checked, if the day's allowance has room; None if not."""
        lim = t.liability_finding_code_limits
        same_day = lim.c.day == rule.day
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(lim)
                    .where(and_(self._key(report_id, driver), or_(~same_day, lim.c.wrong_guesses < rule.max_wrong)))
                    .values(
                        day=rule.day,
                        wrong_guesses=case((same_day, lim.c.wrong_guesses + 1), else_=1),
                        codes_sent=case((same_day, lim.c.codes_sent), else_=0),
                    )
                    .returning(lim)
                )
            ).first()
        return _limits(row) if row is not None else None

    async def spend_code(self, code_id: str, matched: bool, now: datetime, max_attempts: int, counted_on: str) -> bool:
        """Count one attempt; use the code up if it matched. True only for the one attempt that wins
        (which gives back the guess counted on ``counted_on`` and lifts the wait for a new code)."""
        sc, lim = t.liability_finding_codes, t.liability_finding_code_limits
        live = and_(sc.c.id == code_id, sc.c.used_at.is_(None), sc.c.attempts < max_attempts, sc.c.expires_at > now)
        values: dict[str, Any] = {"attempts": sc.c.attempts + 1}
        if matched:
            values["used_at"] = now
        async with self.engine.begin() as conn:
            won = (await conn.execute(update(sc).where(live).values(**values).returning(sc))).first()
            if matched and won is not None:
                refund = case(
                    (and_(lim.c.day == counted_on, lim.c.wrong_guesses > 0), lim.c.wrong_guesses - 1),
                    else_=lim.c.wrong_guesses,
                )
                await conn.execute(
                    update(lim)
                    .where(self._key(won.report_id, won.driver))
                    .values(last_sent_at=None, wrong_guesses=refund)
                )
        return matched and won is not None


def _file(f: FindingFile) -> dict[str, Any]:
    return {"seq": f.seq, "sha256": f.sha256, "size": f.size, "driver": f.driver, "created_at": f.created_at}
