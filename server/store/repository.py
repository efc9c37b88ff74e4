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
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.domain import audit
from server.domain.audit import AuditEntry, ChainHead, ChainVerdict
from server.domain.lifecycle import Case, CaseState, Event, Session, SessionStatus
from server.domain.participants import Participant
from server.domain.roles import AccountKind, Role
from server.errors import ConcurrentUpdate, Duplicate, NotFound
from server.store import schema as t
from server.store.codec import decode_lifecycle, encode_lifecycle

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    """A mediator's or judge's login."""

    id: str
    """Opaque identifier."""
    username: str
    """Login name."""
    display_name: str
    """Name shown on cases."""
    kind: AccountKind
    """Mediator or judge."""
    organization: str
    """Mediation committee or court."""
    password_hash: str
    """scrypt hash (see ``server.identity.passwords``)."""
    created_at: datetime
    """When created."""
    disabled: bool = False
    """A disabled account cannot log in."""
    phone: str | None = None
    """Mobile number for one-time codes (personal data: never logged)."""
    email: str | None = None
    """E-mail address for one-time codes, if no phone."""


@dataclass(frozen=True)
class TokenRecord:
    """The store's memory of an issued token (never the token itself)."""

    jti: str
    """Token id."""
    kind: str
    """``join`` or ``session``."""
    subject_id: str
    """Participant or account id."""
    case_id: str | None
    """Case of a join link."""
    issued_at: datetime
    """When issued."""
    expires_at: datetime
    """When it stops working."""
    revoked_at: datetime | None = None
    """When revoked, if it was."""


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


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        kind=AccountKind(row.kind),
        organization=row.organization,
        password_hash=row.password_hash,
        created_at=row.created_at,
        disabled=bool(row.disabled),
        phone=row.phone,
        email=row.email,
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


@dataclass(frozen=True)
class TranscriptLine:
    """One final utterance as the recogniser heard it (text is personal data: never logged)."""

    id: str
    """Line id."""
    case_id: str
    """The case."""
    session_id: str
    """The session it was said in."""
    participant_id: str
    """Who said it (each participant is a separate track: no diarisation)."""
    started_at: datetime
    """Wall-clock start of the utterance (UTC)."""
    ended_at: datetime
    """Wall-clock end."""
    text: str
    """What the engine heard."""
    language: str
    """Language asked of the engine (``zh``, ``en``)."""
    engine: str
    """Which engine and model."""


@dataclass(frozen=True)
class RecordEdit:
    """A correction of a transcript line, or a note, in the mediation record."""

    id: str
    """Edit id."""
    case_id: str
    """The case."""
    session_id: str
    """The session whose record it belongs to."""
    line_id: str | None
    """The corrected line, or the line a note follows (None: a note on the whole session)."""
    kind: str
    """``correction`` or ``note``."""
    text: str
    """The corrected text or the note."""
    actor: str
    """Who made it."""
    at: datetime
    """When."""


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


class CaseRepository:
    """Reads and writes cases, participants, accounts, tokens, documents and the audit trail."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ audit helpers

    @staticmethod
    async def _append(
        conn: AsyncConnection, case_id: str, head: ChainHead, records: Sequence[AuditRecord], now: datetime
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
        return head

    @staticmethod
    def _head_after(head: ChainHead, case_id: str, records: Sequence[AuditRecord], now: datetime) -> ChainHead:
        for rec in records:
            entry = audit.next_entry(head, case_id, now, rec.actor, rec.action, rec.details)
            head = ChainHead(entry.seq, entry.hash)
        return head

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
                        lifecycle=encode_lifecycle(case),
                        audit_seq=head.seq,
                        audit_head=head.hash,
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
    ) -> LoadedCase:
        """Write ``new_case`` over ``loaded`` if nobody else wrote in between, with any ``documents``
        that belong to the change (so that, e.g., a draft's version and its files land together)."""
        async with self.engine.begin() as conn:
            version, head = await self._bump(
                conn,
                loaded,
                records,
                now,
                {"state": new_case.state.value, "title": new_case.title, "lifecycle": encode_lifecycle(new_case)},
            )
            for doc in documents:
                await self._insert_document(conn, doc)
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

    # ------------------------------------------------------------------ accounts

    async def create_account(self, account: Account) -> None:
        """Insert an account; raise Duplicate if the user name is taken."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(t.accounts).values(
                        id=account.id,
                        username=account.username,
                        display_name=account.display_name,
                        kind=account.kind.value,
                        organization=account.organization,
                        password_hash=account.password_hash,
                        created_at=account.created_at,
                        disabled=account.disabled,
                        phone=account.phone,
                        email=account.email,
                    )
                )
        except IntegrityError:
            # from None: PostgreSQL's detail names the key's value (``Key (username)=(…)``), and a cause
            # rides along into every logged traceback
            raise Duplicate("This user name is taken") from None

    async def account_by_username(self, username: str) -> Account | None:
        """The account with this login name, if any."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.accounts).where(t.accounts.c.username == username))).first()
        return _account(row) if row is not None else None

    async def account(self, account_id: str) -> Account:
        """One account; raise NotFound."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.accounts).where(t.accounts.c.id == account_id))).first()
        if row is None:
            raise NotFound("No such account")
        return _account(row)

    async def disable_account(self, account_id: str, now: datetime) -> int:
        """Disable an account and revoke its live logins, in one transaction; return how many logins."""
        async with self.engine.begin() as conn:
            await conn.execute(update(t.accounts).where(t.accounts.c.id == account_id).values(disabled=True))
            result = await conn.execute(
                update(t.tokens)
                .where(and_(t.tokens.c.subject_id == account_id, t.tokens.c.revoked_at.is_(None)))
                .values(revoked_at=now)
            )
        return int(result.rowcount)

    # ------------------------------------------------------------------ tokens

    async def record_token(self, token: TokenRecord) -> None:
        """Remember an issued token's id so it can be checked and revoked."""
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.tokens).values(
                    jti=token.jti,
                    kind=token.kind,
                    subject_id=token.subject_id,
                    case_id=token.case_id,
                    issued_at=token.issued_at,
                    expires_at=token.expires_at,
                    revoked_at=token.revoked_at,
                )
            )

    async def token(self, jti: str) -> TokenRecord | None:
        """What the store knows of a token id."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.tokens).where(t.tokens.c.jti == jti))).first()
        if row is None:
            return None
        return TokenRecord(
            row.jti, row.kind, row.subject_id, row.case_id, row.issued_at, row.expires_at, row.revoked_at
        )

    async def live_token(
        self, subject_id: str, kind: str, jti_prefix: str, expires_after: datetime, expires_by: datetime
    ) -> TokenRecord | None:
        """The subject's unrevoked token of ``kind`` whose id starts with ``jti_prefix`` and that expires in
        (``expires_after``, ``expires_by``]: the one that lives longest, if any."""
        tk = t.tokens
        query = (
            select(tk)
            .where(
                tk.c.subject_id == subject_id,
                tk.c.kind == kind,
                tk.c.jti.startswith(jti_prefix, autoescape=True),
                tk.c.revoked_at.is_(None),
                tk.c.expires_at > expires_after,
                tk.c.expires_at <= expires_by,
            )
            .order_by(tk.c.expires_at.desc(), tk.c.jti)
            .limit(1)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return TokenRecord(row.jti, row.kind, row.subject_id, row.case_id, row.issued_at, row.expires_at)

    async def revoke_tokens(
        self, subject_id: str, now: datetime, jti: str | None = None, kinds: Sequence[str] | None = None
    ) -> int:
        """Revoke one token (``jti``) or all of a subject's (of ``kinds`` only, if given); return how many were live."""
        where = [t.tokens.c.subject_id == subject_id, t.tokens.c.revoked_at.is_(None)]
        if jti is not None:
            where.append(t.tokens.c.jti == jti)
        if kinds is not None:
            where.append(t.tokens.c.kind.in_(list(kinds)))
        async with self.engine.begin() as conn:
            result = await conn.execute(update(t.tokens).where(and_(*where)).values(revoked_at=now))
        return int(result.rowcount)

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
        """A case's audit entries in order, and the head kept on the case."""
        async with self.engine.connect() as conn:
            case_row = (
                await conn.execute(select(t.cases.c.audit_seq, t.cases.c.audit_head).where(t.cases.c.id == case_id))
            ).first()
            if case_row is None:
                raise NotFound("No such case")
            rows = (
                await conn.execute(
                    select(t.audit_entries).where(t.audit_entries.c.case_id == case_id).order_by(t.audit_entries.c.seq)
                )
            ).all()
        entries = [AuditEntry(r.case_id, r.seq, r.at, r.actor, r.action, r.details, r.prev_hash, r.hash) for r in rows]
        return entries, ChainHead(case_row.audit_seq, case_row.audit_head)

    async def verify_audit(self, case_id: str) -> ChainVerdict:
        """Check a case's audit chain; the verdict names the first bad entry."""
        entries, head = await self.audit_trail(case_id)
        return audit.verify(entries, head)

    # ------------------------------------------------------------------ chat

    async def add_chat(
        self, case_id: str, session_id: str, participant_id: str, text: str, audience: Sequence[str], now: datetime
    ) -> str:
        """Keep a chat line in the case record (text is personal data: never logged)."""
        message_id = str(uuid.uuid4())
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.chat_messages).values(
                    id=message_id,
                    case_id=case_id,
                    session_id=session_id,
                    participant_id=participant_id,
                    text=text,
                    audience=json.dumps(sorted(audience)),
                    at=now,
                )
            )
        return message_id

    async def chat(self, case_id: str) -> list[dict[str, Any]]:
        """A case's chat lines, oldest first, with who could read each."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(t.chat_messages)
                    .where(t.chat_messages.c.case_id == case_id)
                    .order_by(t.chat_messages.c.at, t.chat_messages.c.id)
                )
            ).all()
        return [
            {
                "id": r.id,
                "session_id": r.session_id,
                "participant_id": r.participant_id,
                "text": r.text,
                "audience": json.loads(r.audience),
                "at": r.at,
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ transcript

    async def add_transcript_line(self, line: TranscriptLine, now: datetime, attempts: int = 20) -> None:
        """Store a final utterance and chain its hash into the audit trail, in one transaction."""
        details = {
            "session_id": line.session_id,
            "line_id": line.id,
            "participant_id": line.participant_id,
            "started_at": line.started_at.isoformat(),
            "ended_at": line.ended_at.isoformat(),
            "sha256": audit.sha256_text(line.text),
        }
        values = {
            "id": line.id,
            "case_id": line.case_id,
            "session_id": line.session_id,
            "participant_id": line.participant_id,
            "started_at": line.started_at,
            "ended_at": line.ended_at,
            "text": line.text,
            "language": line.language,
            "engine": line.engine,
            "created_at": now,
        }
        await self._insert_audited(
            line.case_id, t.transcript_lines, values, AuditRecord("system", "transcript.line", details), now, attempts
        )

    async def add_record_edit(self, edit: RecordEdit, now: datetime, attempts: int = 20) -> None:
        """Store a correction or note of the mediation record, audited, in one transaction."""
        details = {
            "session_id": edit.session_id,
            "edit_id": edit.id,
            "line_id": edit.line_id,
            "sha256": audit.sha256_text(edit.text),
        }
        values = {
            "id": edit.id,
            "case_id": edit.case_id,
            "session_id": edit.session_id,
            "line_id": edit.line_id,
            "kind": edit.kind,
            "text": edit.text,
            "actor": edit.actor,
            "at": edit.at,
        }
        await self._insert_audited(
            edit.case_id, t.record_edits, values, AuditRecord(edit.actor, f"record.{edit.kind}", details), now, attempts
        )

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

    async def _insert_audited(
        self, case_id: str, table: Any, values: Mapping[str, Any], record: AuditRecord, now: datetime, attempts: int
    ) -> None:
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

    async def transcript(self, case_id: str, session_id: str | None = None) -> list[TranscriptLine]:
        """A case's transcript lines (or one session's), in the order they were spoken."""
        tl = t.transcript_lines
        query = select(tl).where(tl.c.case_id == case_id)
        if session_id is not None:
            query = query.where(tl.c.session_id == session_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(tl.c.started_at, tl.c.id))).all()
        return [
            TranscriptLine(
                r.id, r.case_id, r.session_id, r.participant_id, r.started_at, r.ended_at, r.text, r.language, r.engine
            )
            for r in rows
        ]

    async def record_edits(self, case_id: str, session_id: str | None = None) -> list[RecordEdit]:
        """Corrections and notes of a case's records, oldest first."""
        re_ = t.record_edits
        query = select(re_).where(re_.c.case_id == case_id)
        if session_id is not None:
            query = query.where(re_.c.session_id == session_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(re_.c.at, re_.c.id))).all()
        return [RecordEdit(r.id, r.case_id, r.session_id, r.line_id, r.kind, r.text, r.actor, r.at) for r in rows]

    # ------------------------------------------------------------------ agreement comments

    async def add_agreement_comment(
        self, case_id: str, version: int, participant_id: str, text: str, actor: str, now: datetime
    ) -> str:
        """Keep a comment on a draft (audited by the text's hash; the text is personal data)."""
        comment_id = str(uuid.uuid4())
        details = {"comment_id": comment_id, "version": version, "participant_id": participant_id}
        record = AuditRecord(
            f"participant:{participant_id}", "agreement.comment", {**details, "sha256": audit.sha256_text(text)}
        )
        values = {**details, "id": comment_id, "case_id": case_id, "text": text, "at": now}
        del values["comment_id"]
        await self._insert_audited(case_id, t.agreement_comments, values, record, now, 20)
        return comment_id

    async def agreement_comments(self, case_id: str) -> list[dict[str, Any]]:
        """Comments on a case's drafts, oldest first."""
        ac = t.agreement_comments
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(ac).where(ac.c.case_id == case_id).order_by(ac.c.at, ac.c.id))).all()
        return [
            {"id": r.id, "version": r.version, "participant_id": r.participant_id, "text": r.text, "at": r.at}
            for r in rows
        ]

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

    # ------------------------------------------------------------------ keys

    async def case_key(self, case_id: str) -> bytes | None:
        """A case's wrapped data key, if it has one."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.case_keys.c.wrapped).where(t.case_keys.c.case_id == case_id))).first()
        return bytes(row.wrapped) if row is not None else None

    async def add_case_key(self, case_id: str, wrapped: bytes, now: datetime) -> bytes:
        """Store a wrapped data key; if another writer was first, return theirs."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.case_keys).values(case_id=case_id, wrapped=wrapped, created_at=now))
        except IntegrityError:
            existing = await self.case_key(case_id)
            if existing is None:
                raise
            return existing
        return wrapped

    async def ping(self) -> None:
        """Fail if the database cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.execute(select(1))
