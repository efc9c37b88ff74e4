"""The finding's store: the chain of its files, and the drivers' one-time codes and their limits.

The files of one finding form a chain ``seq`` 0, 1, 2: the certified PDF with both drivers' fields, then one
file per driver's signature, each the one before with an incremental update appended (the bytes live in the
blob store by content address). Adding a file names the ``seq`` it expects; the primary key (report, seq)
refuses the second of two drivers signing at the same moment on every node, and the unique (report, driver)
keeps a driver from signing twice: :meth:`FindingStore.add_file` answers False and the caller re-reads.

The code limits (:mod:`server.domain.codes`: one code a minute, codes and wrong guesses a Beijing day) are
kept in ``liability_finding_code_limits`` by :class:`server.store.codes.OneTimeCodes`, as the agreement's
signers' are (the same rules and code, keyed by report and driver number instead of case and participant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.domain.codes import CodeLimits, CodeRule
from server.store import schema as t
from server.store.codes import OneTimeCodes


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


class FindingStore:
    """Keeps findings, their files and the drivers' codes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._codes = OneTimeCodes(
            engine, t.liability_finding_codes, t.liability_finding_code_limits, ("report_id", "driver")
        )

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

    async def code_limits(self, report_id: str, driver: int) -> CodeLimits | None:
        return await self._codes.limits((report_id, driver))

    async def add_code(self, code: NewCode, rule: CodeRule) -> tuple[bool, CodeLimits | None]:
        """Keep a code's keyed hash if ``rule`` lets the driver have one now (earlier unused codes stop
        counting): (True, the limits after it), or (False, the limits that refused it) with nothing stored."""
        row = {
            "id": code.id,
            "code_hash": code.code_hash,
            "created_at": code.created_at,
            "expires_at": code.expires_at,
            "document_sha256": code.document_sha256,
        }
        return await self._codes.add((code.report_id, code.driver), row, rule)

    async def void_code(self, code: NewCode, now: datetime) -> None:
        """An undelivered code: spent unused, neither counted nor holding the wait."""
        await self._codes.void((code.report_id, code.driver), code.id, code.created_at, now)

    async def latest_code(self, report_id: str, driver: int) -> dict[str, Any] | None:
        return await self._codes.latest((report_id, driver))

    async def count_guess(self, report_id: str, driver: int, rule: CodeRule) -> CodeLimits | None:
        """Count a guess as wrong before it is checked, if the day's allowance has room; None if not."""
        return await self._codes.count_guess((report_id, driver), rule)

    async def spend_code(self, code_id: str, matched: bool, now: datetime, max_attempts: int, counted_on: str) -> bool:
        """Count one attempt; use the code up if it matched. True only for the one attempt that wins
        (which gives back the guess counted on ``counted_on`` and lifts the wait for a new code)."""
        return await self._codes.spend(code_id, matched, now, max_attempts, counted_on)


def _file(f: FindingFile) -> dict[str, Any]:
    return {"seq": f.seq, "sha256": f.sha256, "size": f.size, "driver": f.driver, "created_at": f.created_at}
