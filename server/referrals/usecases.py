"""Referral, assignment, the mediation period and the case's timeline, as each caller may do and see them.

Who may do what (a caller outside gets NotFound, learning nothing of the case; a member of the right
organisation without the right kind of account gets Forbidden):

- a **court's clerk or judge** refers a case to a mediation organisation that is active and in its term
  on the court's roster (``server.rosters``), with its parties (nobody types them again), and follows
  the cases their court referred: who holds each, its state, its period, its timeline;
- a **mediation organisation's administrator** records a party's direct application, sees the
  organisation's cases and assigns (or re-assigns) a referred case to one of its mediators;
- a **mediator of that organisation** sees its queue and what was assigned to them, accepts (and
  becomes the case's mediator, the mediation period starting) or declines with a reason, or takes a
  case from the queue; as the case's mediator they ask the parties to extend the period;
- a **party** consents to an extension (an agent's consent counts for the party they act for).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement

from server.cases.usecases import CaseService, NewParticipant
from server.domain import lifecycle as lc
from server.domain.lifecycle import CaseState, ReferralKind
from server.domain.organisations import OrganisationKind
from server.domain.participants import Participant
from server.domain.roles import PARTY_ROLES, AccountKind, Action, Role, may
from server.errors import Forbidden, InvalidCommand, NotFound
from server.identity.access import Principal, new_id
from server.organisations.store import OrganisationStore
from server.referrals.store import CaseHome, ReferralStore, TrackedCase
from server.referrals.timeline import ACCOUNT_FIELDS, milestones
from server.store import schema as t
from server.store.accounts import Account, AccountStore

MEDIATION_ORGANISATIONS = frozenset({OrganisationKind.PEOPLES_MEDIATION, OrganisationKind.INDUSTRY_MEDIATION})
"""Organisations a case can be referred to (or a party apply to)."""

COURT_STAFF = frozenset({AccountKind.JUDGE, AccountKind.CLERK, AccountKind.ORG_ADMIN})
"""Accounts of a court that follow the cases it referred."""

REFERRERS = frozenset({AccountKind.CLERK, AccountKind.JUDGE})
"""Accounts of a court that refer cases."""

CONSENTING_ROLES = frozenset({Role.APPLICANT, Role.RESPONDENT, Role.INSURER})
"""The parties whose consent an extension of the mediation period needs."""


class Roster(Protocol):
    """The court's roster, as referral needs it (``server.rosters.store.RosterStore``)."""

    async def is_active_member(self, court_id: str, organisation_id: str, now: datetime) -> bool:
        """Whether the organisation is on the court's roster, active and in its term at ``now``."""
        ...


def iso(value: datetime | None) -> str | None:
    """A moment as ISO 8601 text (None stays None)."""
    return value.isoformat() if value is not None else None


def tracked_view(c: TrackedCase) -> dict[str, Any]:
    """A case as the desks list it."""
    return {
        "id": c.id,
        "number": c.number,
        "kind": c.kind,
        "title": c.title,
        "state": c.state,
        "referral_kind": c.referral_kind,
        "court_case_number": c.court_case_number,
        "organisation": {"id": c.organisation_id, "name": c.organisation_name},
        "court": {"id": c.court_id, "name": c.court_name} if c.court_id else None,
        "holder": {"id": c.holder_account_id, "name": c.holder_name} if c.holder_account_id else None,
        "referred_at": iso(c.referred_at),
        "accepted_at": iso(c.accepted_at),
        "agreement_at": iso(c.agreement_at),
        "ended_at": iso(c.ended_at),
        "period_deadline": iso(c.period_deadline),
        "overdue": c.overdue,
    }


class ReferralService:
    """The referral desks of courts, organisations and mediators."""

    def __init__(
        self,
        cases: CaseService,
        accounts: AccountStore,
        organisations: OrganisationStore,
        roster: Roster,
        store: ReferralStore,
    ) -> None:
        self.cases = cases
        self.accounts = accounts
        self.organisations = organisations
        self.roster = roster
        self.store = store

    # ------------------------------------------------------------------ who is asking

    async def _account(self, principal: Principal) -> Account:
        if not principal.is_account:
            raise Forbidden("Only staff accounts use the referral desks")
        return await self.accounts.account(principal.subject_id)

    async def _court_account(self, principal: Principal, kinds: frozenset[AccountKind]) -> Account:
        account = await self._account(principal)
        organisation = await self.organisations.get(account.organisation_id)
        if organisation.kind is not OrganisationKind.COURT or account.kind not in kinds:
            raise Forbidden("Only a court's " + "、".join(sorted(k.value for k in kinds)) + " may do this")
        return account

    async def _home(self, case_id: str) -> CaseHome:
        home = await self.store.home(case_id)
        if home is None:
            raise NotFound("No such case")
        return home

    async def _of_organisation(self, principal: Principal, case_id: str) -> tuple[Account, CaseHome]:
        """A staff member of the organisation that holds the case (else NotFound)."""
        account = await self._account(principal)
        home = await self._home(case_id)
        if not account.organisation_id or home.organisation_id != account.organisation_id:
            raise NotFound("No such case")
        return account, home

    # ------------------------------------------------------------------ arriving

    def _people(self, case_id: str, parties: Sequence[NewParticipant], now: datetime) -> list[Participant]:
        if not 1 <= len(parties) <= 20:
            raise InvalidCommand("Name between 1 and 20 parties")
        for p in parties:
            if p.role not in PARTY_ROLES - {Role.AGENT}:
                raise InvalidCommand(f'A referral names parties (applicant, respondent, insurer), not "{p.role.value}"')
        return [
            Participant(
                id=new_id(),
                case_id=case_id,
                role=p.role,
                display_name=p.display_name,
                added_at=now,
                phone=p.phone,
                email=p.email,
                id_number=p.id_number,
            )
            for p in parties
        ]

    async def _mediation_organisation(self, organisation_id: str) -> None:
        try:
            organisation = await self.organisations.get(organisation_id)
        except NotFound:
            raise InvalidCommand("No such mediation organisation") from None
        if organisation.kind not in MEDIATION_ORGANISATIONS or organisation.disabled:
            raise InvalidCommand("Cases go to a mediation organisation that is open")

    async def refer(
        self,
        principal: Principal,
        *,
        organisation_id: str,
        referral_kind: ReferralKind,
        court_case_number: str,
        kind: str,
        title: str,
        parties: Sequence[NewParticipant],
        now: datetime,
    ) -> dict[str, Any]:
        """A court's clerk or judge refers a case, with its parties, to an organisation on the court's roster."""
        account = await self._court_account(principal, REFERRERS)
        if referral_kind not in lc.COURT_REFERRALS:
            raise InvalidCommand("A court refers a case before litigation or during it")
        if referral_kind is ReferralKind.IN_LITIGATION and not court_case_number.strip():
            raise InvalidCommand("A case entrusted during litigation (诉中委托) needs the court's case number")
        await self._mediation_organisation(organisation_id)
        if not await self.roster.is_active_member(account.organisation_id, organisation_id, now):
            raise InvalidCommand("This organisation is not active on the court's roster of invited mediators")
        referral = lc.Referral(
            referral_kind, organisation_id, now, court_id=account.organisation_id, court_case_number=court_case_number
        )
        return await self._arrive(principal.actor, account.id, referral, kind, title, parties, now)

    async def apply(
        self,
        principal: Principal,
        organisation_id: str,
        *,
        kind: str,
        title: str,
        parties: Sequence[NewParticipant],
        now: datetime,
    ) -> dict[str, Any]:
        """An organisation's administrator records a party's direct application: it joins the queue."""
        account = await self._account(principal)
        if account.organisation_id != organisation_id:
            raise NotFound("No such organisation")
        if account.kind is not AccountKind.ORG_ADMIN:
            raise Forbidden("Only the organisation's administrator records applications")
        await self._mediation_organisation(organisation_id)
        referral = lc.Referral(ReferralKind.APPLICATION, organisation_id, now)
        return await self._arrive(principal.actor, account.id, referral, kind, title, parties, now)

    async def receive_referral(
        self,
        actor: str,
        referral: lc.Referral,
        *,
        kind: str,
        title: str,
        parties: Sequence[NewParticipant],
        now: datetime,
    ) -> dict[str, Any]:
        """A case arrives from another system (the police's intake, ``server.intake``), already checked by its
        caller: it joins the queue of the referral's organisation, which must be an open mediation organisation,
        with its parties (no links are sent: the mediator invites them). ``actor`` is the audit trail's name of
        the sender (e.g. ``intake:<key id>``)."""
        await self._mediation_organisation(referral.organisation_id)
        return await self._arrive(actor, None, referral, kind, title, parties, now)

    async def _arrive(
        self,
        actor: str,
        created_by: str | None,
        referral: lc.Referral,
        kind: str,
        title: str,
        parties: Sequence[NewParticipant],
        now: datetime,
    ) -> dict[str, Any]:
        def make(case_id: str, number: str) -> tuple[lc.Transition, list[Participant]]:
            transition = lc.file_case(case_id, number, kind, title, now, referral=referral)
            return transition, self._people(case_id, parties, now)

        loaded = await self.cases.file(actor, created_by, make, now)
        (tracked,) = await self.store.cases([t.cases.c.id == loaded.case.id], limit=1)
        return tracked_view(tracked)

    async def receive_application(
        self,
        organisation_id: str,
        *,
        kind: str,
        title: str,
        applicant: NewParticipant,
        others: Sequence[NewParticipant],
        now: datetime,
    ) -> tuple[dict[str, Any], Participant]:
        """A party applies to a mediation organisation themselves, from the public page, their mobile proved
        by a one-time code (``server.referrals.applications``): the case joins the organisation's queue, filed
        by the applicant. Answers the case and the applicant's participant record."""
        await self._mediation_organisation(organisation_id)
        referral = lc.Referral(ReferralKind.APPLICATION, organisation_id, now)
        applicant_id = new_id()

        def make(case_id: str, number: str) -> tuple[lc.Transition, list[Participant]]:
            transition = lc.file_case(case_id, number, kind, title, now, referral=referral)
            first, *rest = self._people(case_id, [applicant, *others], now)
            return transition, [replace(first, id=applicant_id), *rest]

        loaded = await self.cases.file(f"participant:{applicant_id}", None, make, now)
        (tracked,) = await self.store.cases([t.cases.c.id == loaded.case.id], limit=1)
        return tracked_view(tracked), await self.cases.repo.participant(applicant_id)

    async def require_follower(self, principal: Principal, case_id: str) -> None:
        """NotFound unless the caller may follow the case as its timeline's readers do (its staff, its
        organisation's administrator, the court that referred it, its parties)."""
        if principal.is_account and not await self._may_follow(principal, case_id):
            raise NotFound("No such case")
        if not principal.is_account:
            access = await self.cases.access(principal, case_id)
            if not may(access.role, Action.READ_CASE):
                raise NotFound("No such case")

    # ------------------------------------------------------------------ the desks' lists

    async def court_cases(self, principal: Principal, states: Sequence[CaseState] = ()) -> list[dict[str, Any]]:
        """The cases the caller's court referred, the newest first."""
        account = await self._court_account(principal, COURT_STAFF)
        where: list[ColumnElement[bool]] = [t.cases.c.court_id == account.organisation_id]
        if states:
            where.append(t.cases.c.state.in_([s.value for s in states]))
        return [tracked_view(c) for c in await self.store.cases(where)]

    async def organisation_cases(self, principal: Principal, organisation_id: str) -> list[dict[str, Any]]:
        """An administrator: every case of the organisation. A mediator: its queue and what they were assigned."""
        account = await self._account(principal)
        if account.organisation_id != organisation_id:
            raise NotFound("No such organisation")
        c = t.cases.c
        where: list[ColumnElement[bool]] = [c.organisation_id == organisation_id]
        if account.kind is AccountKind.MEDIATOR:
            where.append(or_(c.state == CaseState.REFERRED.value, c.holder_account_id == account.id))
        elif account.kind is not AccountKind.ORG_ADMIN:
            raise Forbidden("The organisation's desk is for its administrators and mediators")
        return [tracked_view(x) for x in await self.store.cases(where)]

    # ------------------------------------------------------------------ assignment

    async def assign(
        self, principal: Principal, case_id: str, mediator_account_id: str, now: datetime
    ) -> dict[str, Any]:
        """The organisation's administrator names the mediator who is to hold the case."""
        account, _ = await self._of_organisation(principal, case_id)
        if account.kind is not AccountKind.ORG_ADMIN:
            raise Forbidden("Only the organisation's administrator assigns cases")
        try:
            mediator = await self.accounts.account(mediator_account_id)
        except NotFound:
            raise InvalidCommand("No such mediator in this organisation") from None
        if (
            mediator.organisation_id != account.organisation_id
            or mediator.kind is not AccountKind.MEDIATOR
            or mediator.disabled
        ):
            raise InvalidCommand("No such mediator in this organisation")
        await self.cases.apply_command(principal.actor, case_id, lc.AssignMediator(mediator.id), now)
        return await self._tracked(case_id)

    def _joins(self, mediator: Account, case_id: str, now: datetime) -> list[Participant]:
        return [
            Participant(
                id=new_id(),
                case_id=case_id,
                role=Role.MEDIATOR,
                display_name=mediator.display_name,
                added_at=now,
                account_id=mediator.id,
            )
        ]

    async def _mediator(self, principal: Principal, case_id: str) -> Account:
        account, _ = await self._of_organisation(principal, case_id)
        if account.kind is not AccountKind.MEDIATOR:
            raise Forbidden("Only the organisation's mediators accept, decline or take cases")
        return account

    async def accept(self, principal: Principal, case_id: str, now: datetime) -> dict[str, Any]:
        """The named mediator accepts: they become the case's mediator and the mediation period starts."""
        mediator = await self._mediator(principal, case_id)
        command = lc.AcceptAssignment(mediator.id, period=self.cases.period)
        await self.cases.apply_command(
            principal.actor, case_id, command, now, participants=lambda _case: self._joins(mediator, case_id, now)
        )
        return await self._tracked(case_id)

    async def decline(self, principal: Principal, case_id: str, reason: str, now: datetime) -> dict[str, Any]:
        """The named mediator declines, with a reason: the case goes back to the organisation's queue."""
        mediator = await self._mediator(principal, case_id)
        await self.cases.apply_command(principal.actor, case_id, lc.DeclineAssignment(mediator.id, reason), now)
        return await self._tracked(case_id)

    async def take(self, principal: Principal, case_id: str, now: datetime) -> dict[str, Any]:
        """A mediator of the organisation takes a case from its queue (named and accepted at once)."""
        mediator = await self._mediator(principal, case_id)
        command = lc.TakeCase(mediator.id, period=self.cases.period)
        await self.cases.apply_command(
            principal.actor, case_id, command, now, participants=lambda _case: self._joins(mediator, case_id, now)
        )
        return await self._tracked(case_id)

    async def _tracked(self, case_id: str) -> dict[str, Any]:
        (tracked,) = await self.store.cases([t.cases.c.id == case_id], limit=1)
        return tracked_view(tracked)

    # ------------------------------------------------------------------ the mediation period

    async def request_extension(
        self, principal: Principal, case_id: str, days: int, reason: str, now: datetime
    ) -> dict[str, Any]:
        """The case's mediator asks every party to consent to a longer mediation period."""
        await self.cases.require(principal, case_id, Action.CHANGE_STATE)
        people = await self.cases.repo.participants(case_id)
        parties = tuple(p.id for p in people if p.role in CONSENTING_ROLES)
        await self.cases.apply_command(principal.actor, case_id, lc.RequestExtension(days, reason, parties), now)
        return await self.cases.view(principal, case_id)

    async def consent_to_extension(self, principal: Principal, case_id: str, now: datetime) -> dict[str, Any]:
        """A party consents to the requested extension (an agent, for the party they act for)."""
        access = await self.cases.access(principal, case_id)
        if access.role not in PARTY_ROLES:
            raise Forbidden("Only a party consents to an extension of the mediation period")
        me = await self.cases.repo.participant(access.participant_id)
        party = me.represents if me.role is Role.AGENT and me.represents else me.id
        await self.cases.apply_command(principal.actor, case_id, lc.ConsentToExtension(party), now)
        return await self.cases.view(principal, case_id)

    # ------------------------------------------------------------------ the timeline

    async def timeline(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """The case's progress, each step with who and when: for its staff, its organisation's
        administrator and the court that referred it."""
        if principal.is_account and not await self._may_follow(principal, case_id):
            raise NotFound("No such case")
        if not principal.is_account:
            access = await self.cases.access(principal, case_id)
            if not may(access.role, Action.READ_CASE):
                raise NotFound("No such case")
        loaded = await self.cases.repo.load_case(case_id)
        entries, _ = await self.cases.repo.audit_trail(case_id)
        people = {p.id: p for p in await self.cases.repo.participants(case_id)}
        names: dict[str, str] = {}
        for entry in entries:
            kind, _, subject = entry.actor.partition(":")
            named = [subject] if kind == "account" else []
            named += [str(v) for k, v in entry.details_dict().items() if k in ACCOUNT_FIELDS]
            for account_id in named:
                if account_id not in names:
                    try:
                        account = await self.accounts.account(account_id)
                        names[account_id] = f"{account.display_name}（{account.organization}）"
                    except NotFound:
                        names[account_id] = ""
        steps = milestones(entries, people, names)
        return {
            "case": {"id": loaded.case.id, "number": loaded.case.number, "state": loaded.case.state.value},
            "steps": steps,
        }

    async def _may_follow(self, principal: Principal, case_id: str) -> bool:
        if await self.cases.repo.account_role_on_case(principal.subject_id, case_id) is not None:
            return True
        account = await self.accounts.account(principal.subject_id)
        home = await self.store.home(case_id)
        if home is None or not account.organisation_id:
            return False
        if home.court_id == account.organisation_id and account.kind in COURT_STAFF:
            return True
        if home.organisation_id == account.organisation_id:
            return account.kind is AccountKind.ORG_ADMIN or home.holder_account_id == account.id
        return False
