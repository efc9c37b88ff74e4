"""Case use-cases: who may do what, then the pure core, then the store.

Each public method takes the :class:`Principal` asking and ``now``; it
resolves the caller's role on the case (a caller with no role on a case gets
:class:`NotFound`, so case ids cannot be probed), checks the role against
``server.domain.roles.PERMISSIONS``, applies the command to the pure life
cycle and saves the result with its audit entries in one transaction.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.domain import lifecycle as lc
from server.domain.audit import AuditEntry, ChainVerdict
from server.domain.audit import verify as verify_chain
from server.domain.documents import check_upload
from server.domain.lifecycle import END_STATES, CaseState, Command
from server.domain.participants import Participant
from server.domain.roles import ACCOUNT_PERMISSIONS, ACCOUNT_ROLES, AccountKind, Action, Role, may
from server.domain.views import case_view, participant_view
from server.errors import (
    ConcurrentUpdate,
    Duplicate,
    Forbidden,
    IllegalTransition,
    InvalidCommand,
    NotFound,
    VersionMismatch,
)
from server.identity.access import Authenticator, IssuedToken, Principal, new_id
from server.identity.tokens import TokenKind
from server.store.accounts import AccountStore
from server.store.blobs import BlobStore
from server.store.record import RecordStore
from server.store.repository import (
    AuditRecord,
    CaseRepository,
    CaseSummary,
    DocumentRecord,
    LoadedCase,
    records_from_events,
)

logger = logging.getLogger(__name__)

RETRIES = 3
"""How often a command is re-applied to a fresh read after a concurrent write."""


class CaseLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes log lines with ``[case=…]``; never give it personal data."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[case={self.extra['case'] if self.extra else '-'}] {msg}", kwargs


@dataclass(frozen=True)
class Access:
    """A caller's standing on one case."""

    role: Role
    """Their role there."""
    participant_id: str
    """Their participant record."""


@dataclass(frozen=True)
class NewParticipant:
    """What the caller supplies to add someone to a case."""

    role: Role
    """Role on the case."""
    display_name: str
    """Shown to everyone on the case."""
    phone: str | None = None
    """Mobile number."""
    email: str | None = None
    """E-mail address."""
    id_number: str | None = None
    """ID document number."""
    account_username: str | None = None
    """For mediators and judges: their account."""
    represents: str | None = None
    """For agents: the participant they act for."""


@dataclass(frozen=True)
class AddedParticipant:
    """A participant just added, and their join link if they need one."""

    participant: Participant
    """The record."""
    link: IssuedToken | None
    """Join token for parties; None for account holders."""


def _case_number(now: datetime) -> str:
    return f"TJ{now:%Y%m%d}-{secrets.token_hex(4).upper()}"


class CaseService:
    """The case use-cases the HTTP API and the CLI call."""

    def __init__(
        self, repo: CaseRepository, auth: Authenticator, blobs: BlobStore, accounts: AccountStore, records: RecordStore
    ) -> None:
        self.repo = repo
        self.auth = auth
        self.blobs = blobs
        self.accounts = accounts
        """Mediators' and judges' accounts (the stages look the caller's account up here)."""
        self.records = records
        """Chat, transcript lines and record edits."""
        self.period = lc.MEDIATION_PERIOD
        """How long the mediation period of a newly accepted case is (configurable)."""

    # ------------------------------------------------------------------ access

    async def access(self, principal: Principal, case_id: str) -> Access:
        """The caller's role on a case; NotFound if they have none."""
        if principal.service_id is not None:
            raise NotFound("No such case")  # a service link opens its one document, through its own endpoints
        if not principal.is_account:
            if principal.case_id != case_id or principal.role is None:
                raise NotFound("No such case")
            return Access(principal.role, principal.subject_id)
        participant = await self.repo.account_role_on_case(principal.subject_id, case_id)
        if participant is None:
            raise NotFound("No such case")
        return Access(participant.role, participant.id)

    async def require(self, principal: Principal, case_id: str, action: Action) -> Access:
        """The caller's access, if their role allows ``action``; else Forbidden."""
        access = await self.access(principal, case_id)
        if not may(access.role, action):
            raise Forbidden(f'The role "{access.role.value}" may not {action.value.replace("_", " ")} on this case')
        return access

    @staticmethod
    def require_account(principal: Principal, action: str) -> AccountKind:
        """The caller's account kind, if it allows a case-independent ``action``."""
        kind = principal.account_kind
        if kind is None or action not in ACCOUNT_PERMISSIONS[kind]:
            raise Forbidden(f"Only mediator or judge accounts may {action.replace('_', ' ')}")
        return kind

    # ------------------------------------------------------------------ cases

    async def create_case(
        self, principal: Principal, kind: str, title: str, now: datetime, number: str | None = None
    ) -> LoadedCase:
        """File a new case of the caller's own organisation: the creating mediator holds it (accepted, the
        mediation period running) and becomes its mediator."""
        self.require_account(principal, "create_case")
        account = await self.accounts.account(principal.subject_id)

        def make(case_id: str, case_number: str) -> tuple[lc.Transition, list[Participant]]:
            referral = (
                lc.Referral(lc.ReferralKind.OWN, account.organisation_id, now) if account.organisation_id else None
            )
            transition = lc.file_case(
                case_id,
                case_number,
                kind,
                title,
                now,
                referral=referral,
                mediator_account_id=account.id,
                period=self.period,
            )
            mediator = Participant(
                id=new_id(),
                case_id=case_id,
                role=Role.MEDIATOR,
                display_name=account.display_name,
                added_at=now,
                account_id=account.id,
            )
            return transition, [mediator]

        loaded = await self.file(principal.actor, account.id, make, now, number)
        CaseLog(logger, {"case": loaded.case.id}).info("case filed by account %s", account.id)
        return loaded

    async def file(
        self,
        actor: str,
        created_by: str | None,
        make: Callable[[str, str], tuple[lc.Transition, list[Participant]]],
        now: datetime,
        number: str | None = None,
    ) -> LoadedCase:
        """Store a new case that ``make(case_id, number)`` files with its first participants, audited.

        A generated number may (rarely) collide with an existing one: it is drawn again."""
        for attempt in range(1 if number else RETRIES):
            transition, people = make(new_id(), number or _case_number(now))
            records = records_from_events(actor, transition.events)
            records.extend(
                AuditRecord(actor, "participant.added", {"participant_id": p.id, "role": p.role.value}) for p in people
            )
            try:
                return await self.repo.create_case(transition.case, created_by, records, now, people)
            except Duplicate:
                if number or attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises

    async def view(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """The case as the caller may see it."""
        access = await self.require(principal, case_id, Action.READ_CASE)
        loaded = await self.repo.load_case(case_id)
        participants = await self.repo.participants(case_id)
        view = case_view(loaded.case, participants, access.role, access.participant_id, loaded.version)
        if may(access.role, Action.READ_DOCUMENTS):
            docs = await self.repo.documents(case_id)
            staff = may(access.role, Action.READ_ALL_DOCUMENTS)
            view["documents"] = [document_view(d) for d in docs if staff or d.visibility == "parties"]
        return view

    async def list_cases(
        self,
        principal: Principal,
        *,
        states: Sequence[CaseState] = (),
        kind: str | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[CaseSummary], int]:
        """Cases the calling account works on."""
        self.require_account(principal, "list_cases")
        return await self.repo.list_cases(
            principal.subject_id, states=states, kind=kind, query=query, limit=limit, offset=offset
        )

    async def execute(
        self,
        principal: Principal,
        case_id: str,
        command: Command,
        action: Action,
        now: datetime,
        expected_version: int | None = None,
    ) -> LoadedCase:
        """Apply a life-cycle command as the caller.

        With ``expected_version`` (the client's If-Match) a stale client gets
        VersionMismatch; without it, a concurrent write makes us re-read and
        re-check the command against the fresh state (never overwrite).
        """
        await self.require(principal, case_id, action)
        return await self.apply_command(principal.actor, case_id, command, now, expected_version)

    async def apply_command(
        self,
        actor: str,
        case_id: str,
        command: Command,
        now: datetime,
        expected_version: int | None = None,
        participants: Callable[[lc.Case], Sequence[Participant]] | None = None,
    ) -> LoadedCase:
        """Apply a life-cycle command whose caller the calling use-case has already checked.

        ``participants(new_case)`` names people who join the case with the change, in its transaction
        (a mediator who accepts a case becomes its mediator)."""
        log = CaseLog(logger, {"case": case_id})
        for attempt in range(RETRIES):
            loaded = await self.repo.load_case(case_id)
            if expected_version is not None and loaded.version != expected_version:
                raise VersionMismatch(f"The case is at version {loaded.version}, not {expected_version}; reload it")
            transition = lc.apply(loaded.case, command, now)
            people = list(participants(transition.case)) if participants is not None else []
            records = records_from_events(actor, transition.events)
            records.extend(
                AuditRecord(actor, "participant.added", {"participant_id": p.id, "role": p.role.value}) for p in people
            )
            try:
                saved = await self.repo.save_case(loaded, transition.case, records, now, participants=people)
            except ConcurrentUpdate:
                if expected_version is not None or attempt == RETRIES - 1:
                    raise
                log.info("concurrent write; re-applying %s", type(command).__name__)
                continue
            log.info("%s applied", type(command).__name__)
            return saved
        raise AssertionError("unreachable")

    async def schedule_session(
        self,
        principal: Principal,
        case_id: str,
        starts_at: datetime,
        duration: timedelta,
        now: datetime,
        expected_version: int | None = None,
    ) -> tuple[LoadedCase, str]:
        """Put a session on the calendar; return the case and the new session's id."""
        session_id = new_id()
        loaded = await self.execute(
            principal,
            case_id,
            lc.ScheduleSession(session_id=session_id, starts_at=starts_at, duration=duration),
            Action.SCHEDULE_SESSION,
            now,
            expected_version,
        )
        return loaded, session_id

    # ------------------------------------------------------------------ participants

    async def add_participant(
        self, principal: Principal, case_id: str, new: NewParticipant, now: datetime
    ) -> AddedParticipant:
        """Add someone to a case; parties get a personal join link."""
        await self.require(principal, case_id, Action.ADD_PARTICIPANT)
        account_id: str | None = None
        if new.role in ACCOUNT_ROLES:
            if not new.account_username:
                raise InvalidCommand(f'A {new.role.value} joins through an account: give "account_username"')
            account = await self.accounts.account_by_username(new.account_username)
            if account is None or account.kind.value != new.role.value:
                raise InvalidCommand(f"No {new.role.value} account with that user name")
            account_id = account.id
            if await self.repo.account_role_on_case(account.id, case_id) is not None:
                raise Duplicate("This account is already on the case")
        elif new.account_username:
            raise InvalidCommand(f"A {new.role.value} joins through a link and has no account")
        if new.represents is not None:
            if new.role is not Role.AGENT:
                raise InvalidCommand('Only an agent "represents" someone')
            try:
                principal_party = await self.repo.participant(new.represents)
            except NotFound as exc:
                raise InvalidCommand("The represented participant is not on this case") from exc
            if principal_party.case_id != case_id or principal_party.role not in (
                Role.APPLICANT,
                Role.RESPONDENT,
                Role.INSURER,
            ):
                raise InvalidCommand("The represented participant must be a party on this case")
        participant = Participant(
            id=new_id(),
            case_id=case_id,
            role=new.role,
            display_name=new.display_name,
            added_at=now,
            phone=new.phone,
            email=new.email,
            id_number=new.id_number,
            account_id=account_id,
            represents=new.represents,
        )
        for attempt in range(RETRIES):
            loaded = await self.repo.load_case(case_id)
            if loaded.case.state in END_STATES:
                raise IllegalTransition("add a participant", loaded.case.state.value)
            record = AuditRecord(
                principal.actor, "participant.added", {"participant_id": participant.id, "role": new.role.value}
            )
            try:
                await self.repo.add_participant(loaded, participant, [record], now)
                break
            except ConcurrentUpdate:
                if attempt == RETRIES - 1:
                    raise
        link = None
        if account_id is None:
            link = await self._issue_link(principal, participant, now)
        return AddedParticipant(participant, link)

    async def _issue_link(self, principal: Principal, participant: Participant, now: datetime) -> IssuedToken:
        link = await self.auth.issue_join_link(participant, now)
        await self.repo.record(
            participant.case_id,
            [
                AuditRecord(
                    principal.actor,
                    "link.issued",
                    {
                        "participant_id": participant.id,
                        "token_id": link.token_id,
                        "expires_at": link.expires_at.isoformat(),
                    },
                )
            ],
            now,
        )
        return link

    async def _case_participant(self, case_id: str, participant_id: str) -> Participant:
        try:
            participant = await self.repo.participant(participant_id)
        except NotFound:
            participant = None
        if participant is None or participant.case_id != case_id:
            raise NotFound("No such participant on this case")
        return participant

    async def reissue_link(self, principal: Principal, case_id: str, participant_id: str, now: datetime) -> IssuedToken:
        """Revoke a party's links and give them a new one."""
        await self.require(principal, case_id, Action.MANAGE_LINKS)
        participant = await self._case_participant(case_id, participant_id)
        if participant.account_id is not None:
            raise InvalidCommand("Account holders log in; they have no join link")
        await self.revoke_links(principal, case_id, participant_id, now)
        return await self._issue_link(principal, participant, now)

    async def revoke_links(
        self, principal: Principal, case_id: str, participant_id: str, now: datetime, *, announce: bool = True
    ) -> int:
        """Revoke every live join link of a participant; return how many (``announce``: see
        :meth:`Authenticator.revoke_subject`)."""
        await self.require(principal, case_id, Action.MANAGE_LINKS)
        participant = await self._case_participant(case_id, participant_id)
        # join links only: the links that came with documents served on them stay good; live sockets end
        count = await self.auth.revoke_subject(participant.id, now, kinds=(TokenKind.JOIN,), announce=announce)
        await self.repo.record(
            case_id,
            [AuditRecord(principal.actor, "link.revoked", {"participant_id": participant.id, "count": count})],
            now,
        )
        return count

    async def me(self, principal: Principal) -> dict[str, Any]:
        """Who the caller is (for pages opened from a link)."""
        out: dict[str, Any] = {"display_name": principal.display_name}
        if principal.is_account:
            assert principal.account_kind is not None
            out.update(kind="account", account_id=principal.subject_id, account_kind=principal.account_kind.value)
        else:
            assert principal.role is not None
            participant = await self.repo.participant(principal.subject_id)
            out.update(
                kind="participant",
                participant_id=principal.subject_id,
                case_id=principal.case_id,
                role=principal.role.value,
                participant=participant_view(participant, contacts=True, full_id=False),
            )
        return out

    # ------------------------------------------------------------------ documents

    async def add_document(
        self,
        principal: Principal,
        case_id: str,
        data: bytes,
        *,
        kind: str,
        title: str,
        media_type: str,
        visibility: str,
        now: datetime,
    ) -> DocumentRecord:
        """Store an uploaded document's bytes (content-addressed) and record it on the case.

        Uploads take only :data:`~server.domain.documents.UPLOAD_KINDS` (the platform's own
        kinds are trusted by later stages), and their bytes must be of the type claimed.
        """
        await self.require(principal, case_id, Action.ADD_DOCUMENT)
        refused = check_upload(kind, media_type, data)
        if refused:
            raise InvalidCommand(refused)
        return await self.store_document(
            case_id,
            data,
            kind=kind,
            title=title,
            media_type=media_type,
            visibility=visibility,
            now=now,
            actor=principal.actor,
        )

    async def add_made_document(
        self,
        principal: Principal,
        case_id: str,
        data: bytes,
        *,
        kind: str,
        title: str,
        media_type: str,
        visibility: str,
        now: datetime,
    ) -> DocumentRecord:
        """Keep a document the platform made on the caller's behalf (a draft, a record, a proof):
        the caller needs the right to add documents, and the kind is the platform's own."""
        await self.require(principal, case_id, Action.ADD_DOCUMENT)
        return await self.store_document(
            case_id,
            data,
            kind=kind,
            title=title,
            media_type=media_type,
            visibility=visibility,
            now=now,
            actor=principal.actor,
        )

    async def store_document(
        self,
        case_id: str,
        data: bytes,
        *,
        kind: str,
        title: str,
        media_type: str,
        visibility: str,
        now: datetime,
        actor: str,
    ) -> DocumentRecord:
        """Keep a document whose right to be added was checked by the caller (or that the platform made)."""
        doc = await self.platform_document(
            case_id, data, kind=kind, title=title, media_type=media_type, visibility=visibility, now=now, actor=actor
        )
        await self.record_document(case_id, doc, actor)
        return doc

    async def record_document(self, case_id: str, doc: DocumentRecord, actor: str, tries: int = RETRIES) -> None:
        """Add a kept document (its bytes already in the blob store) to the case with its audit entry,
        trying again (up to ``tries`` times) when another write moved the case on meanwhile."""
        for attempt in range(tries):
            loaded = await self.repo.load_case(case_id)
            try:
                await self.repo.add_document(loaded, doc, [added_record(actor, doc)])
                return
            except ConcurrentUpdate:
                if attempt == tries - 1:
                    raise

    async def platform_document(
        self,
        case_id: str,
        data: bytes,
        *,
        kind: str,
        title: str,
        media_type: str,
        visibility: str,
        now: datetime,
        actor: str,
        document_id: str | None = None,
    ) -> DocumentRecord:
        """Put a document's bytes in the blob store and describe it; the caller records it on the case
        (with :meth:`CaseRepository.add_document` or together with a change of the case)."""
        ref = await self.blobs.put(data)
        return DocumentRecord(
            document_id or new_id(), case_id, kind, title, ref.sha256, ref.size, media_type, visibility, now, actor
        )

    async def document(self, principal: Principal, case_id: str, document_id: str) -> DocumentRecord:
        """A document's metadata, if the caller may see it."""
        access = await self.require(principal, case_id, Action.READ_DOCUMENTS)
        for doc in await self.repo.documents(case_id):
            if doc.id == document_id:
                if doc.visibility != "parties" and not may(access.role, Action.READ_ALL_DOCUMENTS):
                    break
                return doc
        raise NotFound("No such document on this case")

    async def read_document(self, principal: Principal, case_id: str, document_id: str) -> tuple[DocumentRecord, bytes]:
        """A document's metadata and bytes, if the caller may see it."""
        doc = await self.document(principal, case_id, document_id)
        return doc, await self.blobs.get(doc.sha256)

    # ------------------------------------------------------------------ chat

    async def chat(self, principal: Principal, case_id: str) -> list[dict[str, Any]]:
        """Chat lines kept in the case record: staff read all; a party reads what reached them."""
        access = await self.require(principal, case_id, Action.READ_CASE)
        staff = may(access.role, Action.READ_ALL_DOCUMENTS)
        lines = await self.records.chat(case_id)
        return [
            {**line, "at": line["at"].isoformat()}
            for line in lines
            if staff or access.participant_id in line["audience"]
        ]

    # ------------------------------------------------------------------ audit

    async def audit_trail(self, principal: Principal, case_id: str) -> tuple[list[AuditEntry], ChainVerdict]:
        """The case's audit entries and whether the chain is intact."""
        await self.require(principal, case_id, Action.READ_AUDIT)
        entries, head = await self.repo.audit_trail(case_id)
        return entries, verify_chain(entries, head)


def added_record(actor: str, doc: DocumentRecord) -> AuditRecord:
    """The audit entry of a document joining a case."""
    return AuditRecord(
        actor, "document.added", {"document_id": doc.id, "kind": doc.kind, "sha256": doc.sha256, "size": doc.size}
    )


def document_view(d: DocumentRecord) -> dict[str, Any]:
    """A document's metadata as shown to callers."""
    return {
        "id": d.id,
        "kind": d.kind,
        "title": d.title,
        "sha256": d.sha256,
        "size": d.size,
        "media_type": d.media_type,
        "visibility": d.visibility,
        "created_at": d.created_at.isoformat(),
    }
