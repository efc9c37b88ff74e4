"""The store of scene reports: the report row, its drivers, its photos and its hash chain (``scene_events``).

Every write is one transaction that bumps the report's ``version`` with a conditional UPDATE (``WHERE version =
<the version read>``) and appends its events to the chain, whose head the report row keeps: two drivers writing at
the same moment cannot both pass, the loser gets :class:`~server.errors.ConcurrentUpdate` and the use-case reloads
and applies its change again (:meth:`server.scene.usecases.SceneService._write`), so neither write is lost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.domain import audit
from server.domain.audit import AuditEntry, ChainHead
from server.domain.organisations import Organisation, OrganisationKind
from server.domain.scene import Driver, Liability, LiabilityFinding, PhotoSlot, ScenePhoto, SceneReport, SceneState
from server.errors import ConcurrentUpdate, Duplicate, NotFound
from server.store import schema as t
from server.store.repository import AuditRecord


@dataclass(frozen=True)
class LoadedReport:
    """A report as read, with what a write needs: the version it was read at and its chain's head."""

    report: SceneReport
    head: ChainHead
    join_code_hash: str
    join_expires_at: datetime
    join_attempts: int


@dataclass
class Change:
    """What one write does to a report."""

    report: dict[str, Any] = field(default_factory=dict)
    """Columns of ``scene_reports`` to set."""
    drivers: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Per driver number, columns of ``scene_drivers`` to set."""
    new_driver: Driver | None = None
    photos: list[ScenePhoto] = field(default_factory=list)
    events: list[AuditRecord] = field(default_factory=list)


def finding_json(finding: LiabilityFinding) -> str:
    return json.dumps(
        {
            "liabilities": {str(k): v.value for k, v in finding.liabilities.items()},
            "shares": {str(k): v for k, v in finding.shares.items()},
            "facts": finding.facts,
            "reasons": finding.reasons,
            "officer_account_id": finding.officer_account_id,
            "made_at": finding.made_at.isoformat(),
            "agreed_amount": None if finding.agreed_amount is None else str(finding.agreed_amount),
            "payer": finding.payer,
        },
        ensure_ascii=False,
    )


def _finding(text: str | None) -> LiabilityFinding | None:
    if text is None:
        return None
    raw = json.loads(text)
    return LiabilityFinding(
        liabilities={int(k): Liability(v) for k, v in raw["liabilities"].items()},
        shares={int(k): int(v) for k, v in raw["shares"].items()},
        facts=raw["facts"],
        reasons=raw["reasons"],
        officer_account_id=raw["officer_account_id"],
        made_at=datetime.fromisoformat(raw["made_at"]),
        agreed_amount=None if raw["agreed_amount"] is None else Decimal(raw["agreed_amount"]),
        payer=raw["payer"],
    )


def signed_json(signed_by: dict[int, datetime]) -> str:
    return json.dumps({str(k): v.isoformat() for k, v in sorted(signed_by.items())})


def _driver(row: Any) -> Driver:
    return Driver(
        number=row.number,
        id=row.id,
        name=row.name,
        phone=row.phone,
        licence_number=row.licence_number,
        plate=row.plate,
        insurer=row.insurer,
        insurer_organisation_id=row.insurer_organisation_id,
        damaged_part=row.damaged_part,
        joined_at=row.joined_at,
        completed_at=row.completed_at,
    )


def _photo(row: Any) -> ScenePhoto:
    return ScenePhoto(
        id=row.id,
        driver=row.driver,
        slot=PhotoSlot(row.slot),
        media_type=row.media_type,
        sha256=row.sha256,
        size=row.size,
        width=row.width,
        height=row.height,
        original_sha256=row.original_sha256,
        original_size=row.original_size,
        captured_at=row.captured_at,
        uploaded_at=row.uploaded_at,
    )


def _photo_values(report_id: str, p: ScenePhoto, seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": p.id,
        "report_id": report_id,
        "driver": p.driver,
        "slot": p.slot.value,
        "media_type": p.media_type,
        "sha256": p.sha256,
        "size": p.size,
        "width": p.width,
        "height": p.height,
        "original_sha256": p.original_sha256,
        "original_size": p.original_size,
        "captured_at": p.captured_at,
        "uploaded_at": p.uploaded_at,
    }


def _driver_values(report_id: str, d: Driver) -> dict[str, Any]:
    return {
        "id": d.id,
        "report_id": report_id,
        "number": d.number,
        "name": d.name,
        "phone": d.phone,
        "licence_number": d.licence_number,
        "plate": d.plate,
        "insurer": d.insurer,
        "insurer_organisation_id": d.insurer_organisation_id,
        "damaged_part": d.damaged_part,
        "joined_at": d.joined_at,
        "completed_at": d.completed_at,
    }


@dataclass(frozen=True)
class QueueItem:
    """One report as the police desk's queue lists it (no personal data)."""

    id: str
    number: str
    state: SceneState
    started_at: datetime
    submitted_at: datetime | None
    place: str


class SceneStore:
    """Keeps scene reports, their drivers, photos and chains."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ police units

    async def police_units(self) -> list[Organisation]:
        """Open police units, by name."""
        o = t.organisations
        query = (
            select(o)
            .where(and_(o.c.kind == OrganisationKind.POLICE.value, o.c.disabled.is_(False)))
            .order_by(o.c.name)
            .limit(1000)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Organisation(id=r.id, kind=OrganisationKind(r.kind), name=r.name, created_at=r.created_at, region=r.region)
            for r in rows
        ]

    # ------------------------------------------------------------------ numbers and creation

    async def count_numbered(self, prefix: str) -> int:
        """How many reports have a number starting with ``prefix`` (the day's)."""
        r = t.scene_reports
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(func.count()).where(r.c.number.like(f"{prefix}%")))).scalar_one()
        return int(found)

    @staticmethod
    def _head_after(head: ChainHead, report_id: str, events: Sequence[AuditRecord], now: datetime) -> list[AuditEntry]:
        return audit.following(head, report_id, now, events)

    @staticmethod
    async def _append(conn: AsyncConnection, entries: Sequence[AuditEntry]) -> None:
        for e in entries:
            await conn.execute(
                insert(t.scene_events).values(
                    report_id=e.case_id,
                    seq=e.seq,
                    at=e.at,
                    actor=e.actor,
                    action=e.action,
                    details=e.details,
                    prev_hash=e.prev_hash,
                    hash=e.hash,
                )
            )

    async def create(
        self, report: SceneReport, join_code_hash: str, join_expires_at: datetime, events: Sequence[AuditRecord]
    ) -> None:
        """Insert a new report with its first driver and first events; Duplicate if its number is taken."""
        entries = self._head_after(audit.EMPTY_HEAD, report.id, events, report.started_at)
        head = ChainHead(entries[-1].seq, entries[-1].hash) if entries else audit.EMPTY_HEAD
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(t.scene_reports).values(
                        id=report.id,
                        number=report.number,
                        police_unit_id=report.police_unit_id,
                        state=report.state.value,
                        started_at=report.started_at,
                        occurred_at=report.occurred_at,
                        place=report.place,
                        returned_reason="",
                        finding=None,
                        signed_by="{}",
                        join_code_hash=join_code_hash,
                        join_expires_at=join_expires_at,
                        join_attempts=0,
                        version=1,
                        updated_at=report.started_at,
                        chain_seq=head.seq,
                        chain_head=head.hash,
                    )
                )
                for d in report.drivers:
                    await conn.execute(insert(t.scene_drivers).values(**_driver_values(report.id, d)))
                await self._append(conn, entries)
        except IntegrityError as exc:
            raise Duplicate("A report with this number exists") from exc

    async def count_start(self, bucket: str, most: int, window: timedelta, now: datetime) -> datetime | None:
        """Count one start of a report against ``bucket`` (``application_limits``: at most ``most`` in a fixed window
        of ``window`` that begins with the first of them); None when counted, else when the full window ends. One
        conditional UPDATE: starts at the same moment on any node cannot pass the limit together."""
        lim = t.application_limits
        over = lim.c.window_start <= now - window
        for attempt in range(2):
            try:
                async with self.engine.begin() as conn:
                    row = (
                        await conn.execute(
                            update(lim)
                            .where(and_(lim.c.bucket == bucket, or_(over, lim.c.count < most)))
                            .values(
                                count=case((over, 1), else_=lim.c.count + 1),
                                window_start=case((over, now), else_=lim.c.window_start),
                            )
                            .returning(lim.c.bucket)
                        )
                    ).first()
                    if row is not None:
                        return None
                    current = (await conn.execute(select(lim.c.window_start).where(lim.c.bucket == bucket))).first()
                    if current is not None:
                        ends: datetime = current.window_start + window
                        return ends
                    await conn.execute(insert(lim).values(bucket=bucket, window_start=now, count=1))
                    return None
            except IntegrityError:  # another start inserted the bucket's row in the same moment: count against it
                if attempt == 1:
                    raise
        return None

    # ------------------------------------------------------------------ reading

    async def report_id_by_number(self, number: str) -> str | None:
        r = t.scene_reports
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(r.c.id).where(r.c.number == number))).first()
        return None if row is None else str(row.id)

    async def load(self, report_id: str) -> LoadedReport:
        """The report with its drivers and every photo (oldest first); NotFound."""
        r, d, p = t.scene_reports, t.scene_drivers, t.scene_photos
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(r).where(r.c.id == report_id))).first()
            if row is None:
                raise NotFound("No such scene report")
            drivers = (await conn.execute(select(d).where(d.c.report_id == report_id).order_by(d.c.number))).all()
            photos = (await conn.execute(select(p).where(p.c.report_id == report_id).order_by(p.c.seq, p.c.id))).all()
        report = SceneReport(
            id=row.id,
            number=row.number,
            police_unit_id=row.police_unit_id,
            state=SceneState(row.state),
            started_at=row.started_at,
            occurred_at=row.occurred_at,
            place=row.place,
            drivers=tuple(_driver(x) for x in drivers),
            photos=tuple(_photo(x) for x in photos),
            submitted_at=row.submitted_at,
            accepted_at=row.accepted_at,
            officer_account_id=row.officer_account_id,
            returned_reason=row.returned_reason,
            finding=_finding(row.finding),
            signed_by={int(k): datetime.fromisoformat(v) for k, v in json.loads(row.signed_by).items()},
            case_id=row.case_id,
            version=row.version,
        )
        return LoadedReport(
            report, ChainHead(row.chain_seq, row.chain_head), row.join_code_hash, row.join_expires_at, row.join_attempts
        )

    async def events(self, report_id: str) -> list[AuditEntry]:
        """The report's chain, in order."""
        e = t.scene_events
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(e).where(e.c.report_id == report_id).order_by(e.c.seq))).all()
        return [AuditEntry(r.report_id, r.seq, r.at, r.actor, r.action, r.details, r.prev_hash, r.hash) for r in rows]

    async def queue(self, police_unit_id: str, states: Sequence[SceneState], limit: int = 200) -> list[QueueItem]:
        """A unit's reports in ``states``: submitted ones first, then oldest first."""
        r = t.scene_reports
        query = (
            select(r.c.id, r.c.number, r.c.state, r.c.started_at, r.c.submitted_at, r.c.place)
            .where(and_(r.c.police_unit_id == police_unit_id, r.c.state.in_([s.value for s in states])))
            .order_by(r.c.started_at, r.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        items = [QueueItem(x.id, x.number, SceneState(x.state), x.started_at, x.submitted_at, x.place) for x in rows]
        items.sort(key=lambda i: (i.state is not SceneState.SUBMITTED, i.submitted_at or i.started_at))
        return items

    # ------------------------------------------------------------------ writing

    async def commit(self, loaded: LoadedReport, change: Change, now: datetime) -> int:
        """Apply ``change`` if the report is still at the version read; its new version. ConcurrentUpdate if not."""
        report_id = loaded.report.id
        entries = self._head_after(loaded.head, report_id, change.events, now)
        head = ChainHead(entries[-1].seq, entries[-1].hash) if entries else loaded.head
        r, d = t.scene_reports, t.scene_drivers
        version = loaded.report.version
        try:
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    update(r)
                    .where(and_(r.c.id == report_id, r.c.version == version))
                    .values(
                        version=version + 1, updated_at=now, chain_seq=head.seq, chain_head=head.hash, **change.report
                    )
                )
                if result.rowcount != 1:
                    raise ConcurrentUpdate("The scene report was changed by someone else; reload and retry")
                for number, values in change.drivers.items():
                    await conn.execute(
                        update(d).where(and_(d.c.report_id == report_id, d.c.number == number)).values(**values)
                    )
                if change.new_driver is not None:
                    await conn.execute(insert(d).values(**_driver_values(report_id, change.new_driver)))
                for photo in change.photos:  # ordered by the chain entry that records it
                    seq = entries[0].seq if entries else head.seq
                    await conn.execute(insert(t.scene_photos).values(**_photo_values(report_id, photo, seq)))
                await self._append(conn, entries)
        except IntegrityError as exc:
            raise ConcurrentUpdate("The scene report was changed by someone else; reload and retry") from exc
        return version + 1

    async def count_join_attempt(self, report_id: str, most: int) -> bool:
        """Count one wrong guess of the join code, if fewer than ``most`` were made; False once void."""
        r = t.scene_reports
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(r)
                    .where(and_(r.c.id == report_id, r.c.join_attempts < most))
                    .values(join_attempts=r.c.join_attempts + 1)
                    .returning(r.c.join_attempts)
                )
            ).first()
        return row is not None
