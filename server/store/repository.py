"""The case repository over SQLAlchemy 2 async (SQLite or PostgreSQL).

Every write to a case runs in one transaction that

1. bumps the case's ``version`` with ``UPDATE … WHERE version = :expected``
   (optimistic locking: if someone else wrote first, no row matches and
   :class:`ConcurrentUpdate` is raised, so nothing is silently overwritten);
2. writes what changed (case columns, sessions, participants);
3. appends one audit entry per event to the case's hash chain and moves the
   chain head kept on the case row.

The conditional UPDATE comes first so that on SQLite the transaction takes the
write lock at once instead of failing a lock upgrade later.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.domain import audit
from server.domain.audit import AuditEntry, ChainHead, ChainVerdict
from server.domain.lifecycle import END_STATES, Case, CaseState, Event, Session, SessionStatus
from server.domain.participants import Participant
from server.domain.roles import Role
from server.errors import ConcurrentUpdate, Duplicate, NotFound
from server.store import schema as t
from server.store.codec import decode_lifecycle, encode_lifecycle

logger = logging.getLogger(__name__)


AUDIT_READ_ATTEMPTS = 20
"""Reads of a live case's audit trail before giving up on one without an append in between."""


@dataclass(frozen=True)
class DocumentRecord:
    """A case document's metadata; the bytes are in the blob store under ``sha256``."""

    id: str
    """Opaque identifier."""
    case_id: str
    """The case."""
    kind: str
    """e.g. ``evidence``, ``liability_finding``, ``agreement_draft``."""
    title: str
    """Shown in lists."""
    sha256: str
    """Content address."""
    size: int
    """Bytes."""
    media_type: str
    """MIME type."""
    visibility: str
    """``parties`` (everyone on the case) or ``staff`` (mediator and judge)."""
    created_at: datetime
    """When added."""
    created_by: str
    """Audit actor that added it."""


@dataclass(frozen=True)
class LoadedCase:
    """A case as read, with what a later write must present."""

    case: Case
    """The domain value."""
    version: int
    """Optimistic-lock version."""
    head: ChainHead
    """Audit chain head."""


@dataclass(frozen=True)
class CaseSummary:
    """One row of a case list."""

    id: str
    """Case id."""
    number: str
    """Case number."""
    kind: str
    """Dispute type."""
    title: str
    """Title."""
    state: CaseState
    """State."""
    filed_at: datetime
    """When filed."""
    updated_at: datetime
    """Last change."""
    role: Role
    """The listing account's role on it."""


@dataclass(frozen=True)
class AuditRecord:
    """An event to append: who did what, with JSON-ready details."""

    actor: str
    """``account:<id>``, ``participant:<id>`` or ``system``."""
    action: str
    """Dotted name."""
    details: Mapping[str, Any]
    """JSON-ready details; never personal data."""


def records_from_events(actor: str, events: Sequence[Event]) -> list[AuditRecord]:
    """One audit record per domain event."""
    return [AuditRecord(actor, e.action, e.details()) for e in events]


def index_columns(case: Case, now: datetime, before: Case | None = None) -> dict[str, Any]:
    """The ``cases`` columns derived from the case value, for lists, queues and statistics.

    A case recorded before referrals existed (no ``referral``) keeps the values migration 0017 gave it
    for where it came from and who holds it. ``ended_at`` is when it first reached an end state.
    """
    out: dict[str, Any] = {
        "agreement_at": case.agreement_effective_at,
        "confirmed_at": case.confirmation.ruled_at
        if case.confirmation is not None and case.confirmation.confirmed
        else None,
        "period_deadline": case.period.deadline if case.period is not None else None,
        "overdue": case.period is not None and case.period.overdue_at is not None,
    }
    if case.state in END_STATES and (before is None or before.state not in END_STATES):
        out["ended_at"] = now
    if case.referral is None and before is None:
        out["referred_at"] = case.filed_at
    if case.referral is not None:
        out["referral_kind"] = case.referral.kind.value
        out["court_id"] = case.referral.court_id
        out["referred_at"] = case.referral.at
        out["court_case_number"] = case.referral.court_case_number
    if case.assignment is not None or case.referral is not None:
        assignment = case.assignment
        out["holder_account_id"] = assignment.mediator_account_id if assignment is not None else None
        out["accepted_at"] = assignment.accepted_at if assignment is not None else None
    return out


def _participant(row: Any) -> Participant:
    return Participant(
        id=row.id,
        case_id=row.case_id,
        role=Role(row.role),
        display_name=row.display_name,
        added_at=row.added_at,
        phone=row.phone,
        email=row.email,
        id_number=row.id_number,
        account_id=row.account_id,
        represents=row.represents,
    )


def _participant_row(p: Participant) -> dict[str, Any]:
    return {
        "id": p.id,
        "case_id": p.case_id,
        "role": p.role.value,
        "display_name": p.display_name,
        "phone": p.phone,
        "email": p.email,
        "id_number": p.id_number,
        "account_id": p.account_id,
        "represents": p.represents,
        "added_at": p.added_at,
    }


def _session_row(case_id: str, s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "case_id": case_id,
        "scheduled_start": s.scheduled_start,
        "duration_s": int(s.duration.total_seconds()),
        "status": s.status.value,
        "started_at": s.started_at,
        "ended_at": s.ended_at,
    }


class CaseRepository:
    """Reads and writes cases, participants, documents and the audit trail.

    The other stores (accounts, the record, agreement comments, signing codes, case keys) share its
    engine; those whose rows are audited write them through :meth:`write_audited` or
    :meth:`insert_audited`, so the case's hash chain is moved in one place.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ audit helpers

    outbox_writers: Sequence[
        Callable[[AsyncConnection, str, Sequence[Mapping[str, Any]], datetime], Awaitable[None]]
    ] = ()
    """More outbox rows for the audit rows of a write, in its transaction, after its ``cases`` row is
    written (the composition root adds ``server.outbound.feed.write_feed_events``)."""

    async def _append(
        self, conn: AsyncConnection, case_id: str, head: ChainHead, records: Sequence[AuditRecord], now: datetime
    ) -> ChainHead:
        rows = []
        outbox: list[dict[str, Any]] = []  # state changes for server.outbound.webhooks, in this same transaction
        for rec in records:
            entry = audit.next_entry(head, case_id, now, rec.actor, rec.action, rec.details)
            rows.append(
                {
                    "case_id": entry.case_id,
                    "seq": entry.seq,
                    "at": entry.at,
                    "actor": entry.actor,
                    "action": entry.action,
                    "details": entry.details,
                    "prev_hash": entry.prev_hash,
                    "hash": entry.hash,
                }
            )
            if rec.action == "case.state_changed":
                event = {
                    "type": rec.action,
                    "case_id": case_id,
                    "old": rec.details.get("old"),
                    "new": rec.details.get("new"),
                    "at": entry.at,
                    "audit_seq": entry.seq,
                    "audit_hash": entry.hash,
                }
                payload = json.dumps(event, sort_keys=True, separators=(",", ":"))
                outbox.append(
                    {"case_id": case_id, "seq": entry.seq, "action": rec.action, "payload": payload, "at": now}
                )
            head = ChainHead(entry.seq, entry.hash)
        if rows:
            await conn.execute(insert(t.audit_entries), rows)
        if outbox:
            await conn.execute(insert(t.outbox_events), outbox)
        for write in self.outbox_writers:  # e.g. the aggregation feed (server.outbound.feed)
            await write(conn, case_id, rows, now)
        return head

    @staticmethod
    def _head_after(head: ChainHead, case_id: str, records: Sequence[AuditRecord], now: datetime) -> ChainHead:
        entries = audit.following(head, case_id, now, records)
        return ChainHead(entries[-1].seq, entries[-1].hash) if entries else head

    async def _bump(
        self,
        conn: AsyncConnection,
        loaded: LoadedCase,
        records: Sequence[AuditRecord],
        now: datetime,
        values: Mapping[str, Any] | None = None,
    ) -> tuple[int, ChainHead]:
        """Take the case's write lock by version; raise ConcurrentUpdate if it moved."""
        case_id = loaded.case.id
        new_head = self._head_after(loaded.head, case_id, records, now)
        result = await conn.execute(
            update(t.cases)
            .where(and_(t.cases.c.id == case_id, t.cases.c.version == loaded.version))
            .values(
                version=loaded.version + 1,
                updated_at=now,
                audit_seq=new_head.seq,
                audit_head=new_head.hash,
                **(values or {}),
            )
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(
                f"Case was changed by someone else (expected version {loaded.version}); reload and retry"
            )
        written = await self._append(conn, case_id, loaded.head, records, now)
        assert written == new_head
        return loaded.version + 1, new_head

    # ------------------------------------------------------------------ cases

    async def create_case(
        self,
        case: Case,
        created_by: str | None,
        records: Sequence[AuditRecord],
        now: datetime,
        participants: Sequence[Participant] = (),
    ) -> LoadedCase:
        """Insert a new case, its first participants and its first audit entries, atomically."""
        head = self._head_after(audit.EMPTY_HEAD, case.id, records, now)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(t.cases).values(
                        id=case.id,
                        number=case.number,
                        kind=case.kind,
                        title=case.title,
                        state=case.state.value,
                        version=1,
                        filed_at=case.filed_at,
                        updated_at=now,
                        created_by=created_by,
                        organisation_id=(  # the organisation that holds it: the referral's, else its creator's
                            case.referral.organisation_id
                            if case.referral is not None
                            else select(t.accounts.c.organisation_id)
                            .where(t.accounts.c.id == created_by)
                            .scalar_subquery()
                            if created_by
                            else None
                        ),
                        lifecycle=encode_lifecycle(case),
                        audit_seq=head.seq,
                        audit_head=head.hash,
                        **index_columns(case, now),
                    )
                )
                for participant in participants:
                    await conn.execute(insert(t.participants).values(**_participant_row(participant)))
                await self._append(conn, case.id, audit.EMPTY_HEAD, records, now)
        except IntegrityError:
            raise Duplicate("A case with this number already exists") from None  # the detail names the key
        return LoadedCase(case, 1, head)

    async def load_case(self, case_id: str) -> LoadedCase:
        """Read a case with its sessions; raise NotFound."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.cases).where(t.cases.c.id == case_id))).first()
            if row is None:
                raise NotFound("No such case")
            session_rows = (
                await conn.execute(
                    select(t.sessions)
                    .where(t.sessions.c.case_id == case_id)
                    .order_by(t.sessions.c.scheduled_start, t.sessions.c.id)
                )
            ).all()
        sessions = tuple(
            Session(
                id=s.id,
                scheduled_start=s.scheduled_start,
                duration=timedelta(seconds=s.duration_s),
                status=SessionStatus(s.status),
                started_at=s.started_at,
                ended_at=s.ended_at,
            )
            for s in session_rows
        )
        case = Case(
            id=row.id,
            number=row.number,
            kind=row.kind,
            title=row.title,
            state=CaseState(row.state),
            filed_at=row.filed_at,
            sessions=sessions,
            **decode_lifecycle(row.lifecycle),
        )
        return LoadedCase(case, row.version, ChainHead(row.audit_seq, row.audit_head))

    async def save_case(
        self,
        loaded: LoadedCase,
        new_case: Case,
        records: Sequence[AuditRecord],
        now: datetime,
        documents: Sequence[DocumentRecord] = (),
        participants: Sequence[Participant] = (),
    ) -> LoadedCase:
        """Write ``new_case`` over ``loaded`` if nobody else wrote in between, with any ``documents``
        and ``participants`` that belong to the change (so that, e.g., a draft's version and its files
        land together, or a mediator who accepts a case joins it as its mediator)."""
        async with self.engine.begin() as conn:
            version, head = await self._bump(
                conn,
                loaded,
                records,
                now,
                {
                    "state": new_case.state.value,
                    "title": new_case.title,
                    "lifecycle": encode_lifecycle(new_case),
                    **index_columns(new_case, now, loaded.case),
                },
            )
            for doc in documents:
                await self._insert_document(conn, doc)
            for participant in participants:
                await conn.execute(insert(t.participants).values(**_participant_row(participant)))
            old = {s.id: s for s in loaded.case.sessions}
            for s in new_case.sessions:
                if s.id not in old:
                    await conn.execute(insert(t.sessions).values(**_session_row(new_case.id, s)))
                elif old[s.id] != s:
                    row = _session_row(new_case.id, s)
                    del row["id"]
                    await conn.execute(update(t.sessions).where(t.sessions.c.id == s.id).values(**row))
        return LoadedCase(new_case, version, head)

    async def record(self, case_id: str, records: Sequence[AuditRecord], now: datetime, attempts: int = 5) -> None:
        """Append audit entries that change nothing else (retries on concurrent writes)."""
        for attempt in range(attempts):
            loaded = await self.load_case(case_id)
            try:
                async with self.engine.begin() as conn:
                    await self._bump(conn, loaded, records, now)
                return
            except ConcurrentUpdate:
                if attempt == attempts - 1:
                    raise

    async def list_cases(
        self,
        account_id: str,
        *,
        states: Sequence[CaseState] = (),
        kind: str | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[CaseSummary], int]:
        """Cases on which ``account_id`` is a participant, newest first, and the total count."""
        p = t.participants
        c = t.cases
        where = [p.c.account_id == account_id]
        if states:
            where.append(c.c.state.in_([s.value for s in states]))
        if kind:
            where.append(c.c.kind == kind)
        if query:
            pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(or_(c.c.number.like(pattern, escape="\\"), c.c.title.like(pattern, escape="\\")))
        base = select(c, p.c.role).join(p, p.c.case_id == c.c.id).where(and_(*where))
        async with self.engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
            rows = (await conn.execute(base.order_by(c.c.filed_at.desc(), c.c.id).limit(limit).offset(offset))).all()
        return (
            [
                CaseSummary(r.id, r.number, r.kind, r.title, CaseState(r.state), r.filed_at, r.updated_at, Role(r.role))
                for r in rows
            ],
            int(total),
        )

    # ------------------------------------------------------------------ participants

    async def add_participant(
        self, loaded: LoadedCase, participant: Participant, records: Sequence[AuditRecord], now: datetime
    ) -> LoadedCase:
        """Add a participant to a case, audited, under the case's version lock."""
        async with self.engine.begin() as conn:
            version, head = await self._bump(conn, loaded, records, now)
            await conn.execute(insert(t.participants).values(**_participant_row(participant)))
        return LoadedCase(loaded.case, version, head)

    async def participants(self, case_id: str) -> list[Participant]:
        """Everyone on a case, in the order they were added."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(t.participants)
                    .where(t.participants.c.case_id == case_id)
                    .order_by(t.participants.c.added_at, t.participants.c.id)
                )
            ).all()
        return [_participant(r) for r in rows]

    async def participant(self, participant_id: str) -> Participant:
        """One participant; raise NotFound."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.participants).where(t.participants.c.id == participant_id))).first()
        if row is None:
            raise NotFound("No such participant")
        return _participant(row)

    async def account_role_on_case(self, account_id: str, case_id: str) -> Participant | None:
        """The participant through which an account is on a case, if any."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.participants).where(
                        and_(t.participants.c.account_id == account_id, t.participants.c.case_id == case_id)
                    )
                )
            ).first()
        return _participant(row) if row is not None else None

    # ------------------------------------------------------------------ documents

    async def add_document(self, loaded: LoadedCase, doc: DocumentRecord, records: Sequence[AuditRecord]) -> None:
        """Record a document's metadata, audited, under the case's version lock."""
        async with self.engine.begin() as conn:
            await self._bump(conn, loaded, records, doc.created_at)
            await self._insert_document(conn, doc)

    @staticmethod
    async def _insert_document(conn: AsyncConnection, doc: DocumentRecord) -> None:
        await conn.execute(
            insert(t.documents).values(
                id=doc.id,
                case_id=doc.case_id,
                kind=doc.kind,
                title=doc.title,
                sha256=doc.sha256,
                size=doc.size,
                media_type=doc.media_type,
                visibility=doc.visibility,
                created_at=doc.created_at,
                created_by=doc.created_by,
            )
        )

    async def documents(self, case_id: str) -> list[DocumentRecord]:
        """A case's documents, oldest first."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(t.documents)
                    .where(t.documents.c.case_id == case_id)
                    .order_by(t.documents.c.created_at, t.documents.c.id)
                )
            ).all()
        return [
            DocumentRecord(
                r.id,
                r.case_id,
                r.kind,
                r.title,
                r.sha256,
                r.size,
                r.media_type,
                r.visibility,
                r.created_at,
                r.created_by,
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ audit trail

    async def audit_trail(self, case_id: str) -> tuple[list[AuditEntry], ChainHead]:
        """A case's audit entries in order, and the head kept on the case, as of one moment.

        The head and the entries are two statements, and at READ COMMITTED each sees what was committed when it
        ran: an append between them made a live case's chain look altered. So the head is read before and after
        the entries, and the read is repeated until no append came between (the head only ever advances)."""
        for _ in range(AUDIT_READ_ATTEMPTS):
            async with self.engine.connect() as conn:
                before = await self._audit_head(conn, case_id)
                rows = (
                    await conn.execute(
                        select(t.audit_entries)
                        .where(t.audit_entries.c.case_id == case_id)
                        .order_by(t.audit_entries.c.seq)
                    )
                ).all()
                after = await self._audit_head(conn, case_id)
            if before == after:
                break
        entries = [AuditEntry(r.case_id, r.seq, r.at, r.actor, r.action, r.details, r.prev_hash, r.hash) for r in rows]
        return entries, after

    async def _audit_head(self, conn: AsyncConnection, case_id: str) -> ChainHead:
        row = (
            await conn.execute(select(t.cases.c.audit_seq, t.cases.c.audit_head).where(t.cases.c.id == case_id))
        ).first()
        if row is None:
            raise NotFound("No such case")
        return ChainHead(row.audit_seq, row.audit_head)

    async def verify_audit(self, case_id: str) -> ChainVerdict:
        """Check a case's audit chain; the verdict names the first bad entry."""
        entries, head = await self.audit_trail(case_id)
        return audit.verify(entries, head)

    # ------------------------------------------------------------------ rows of other stores, audited

    async def write_audited(
        self,
        case_id: str,
        decide: Callable[[LoadedCase], tuple[Case | None, list[AuditRecord]]],
        work: Callable[[AsyncConnection], Awaitable[None]],
        now: datetime,
        attempts: int = 5,
    ) -> LoadedCase:
        """Write rows of another store (``work``) with audit records in one transaction, under the case's lock.

        ``decide`` sees the freshly loaded case and returns the case after any life-cycle change (or
        None) and the audit records; on a concurrent write both run again on the new state.
        """
        for attempt in range(attempts):
            loaded = await self.load_case(case_id)
            new_case, records = decide(loaded)
            values = None
            if new_case is not None:
                values = {
                    "state": new_case.state.value,
                    "title": new_case.title,
                    "lifecycle": encode_lifecycle(new_case),
                    **index_columns(new_case, now, loaded.case),
                }
            try:
                async with self.engine.begin() as conn:
                    version, head = await self._bump(conn, loaded, records, now, values)
                    await work(conn)
                return LoadedCase(new_case or loaded.case, version, head)
            except ConcurrentUpdate:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    async def insert_audited(
        self, case_id: str, table: Any, values: Mapping[str, Any], record: AuditRecord, now: datetime, attempts: int
    ) -> None:
        """Insert one row of another store (``values`` into ``table``) with one audit record, in one transaction
        under the case's lock (retries on concurrent writes, up to ``attempts`` times)."""
        for attempt in range(attempts):
            loaded = await self.load_case(case_id)
            try:
                async with self.engine.begin() as conn:
                    await self._bump(conn, loaded, [record], now)
                    await conn.execute(insert(table).values(**values))
                return
            except ConcurrentUpdate:
                if attempt == attempts - 1:
                    raise

    async def ping(self) -> None:
        """Fail if the database cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.execute(select(1))
