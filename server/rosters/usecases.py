"""What a court's administrator does with its roster, what its staff and its members see, and mediators' profiles.

Every method takes the :class:`~server.identity.access.Principal` asking and checks it with
``server.domain.rosters``: a court's roster is managed by that court's administrators and
read by its judges, clerks and administrators (anyone outside the court gets NotFound, its
own mediators Forbidden); a mediation organisation's administrator sees on which rosters
their organisation and mediators are. A mediator's profile is read by the mediator, their
organisation's administrators and the staff of a court whose roster names them or their
organisation (not removed), and written by the first two. Each change is recorded in the
organisations' events (never the profile's texts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.domain.organisations import ORGANISATION_KIND_NAMES, Organisation, OrganisationKind
from server.domain.roles import AccountKind
from server.domain.rosters import (
    COURT_READERS,
    MEMBER_KINDS,
    ROSTER_STATUS_NAMES,
    SPECIALTY_NAMES,
    RosterEntry,
    RosterStatus,
    Specialty,
    check_member_mediator,
    check_member_organisation,
    check_profile_text,
    check_specialties,
    check_term,
    check_transition,
    require_court_admin,
    require_court_reader,
)
from server.errors import Forbidden, InvalidCommand, NotFound
from server.identity.access import Principal, new_id
from server.organisations.store import OrganisationEvent, OrganisationStore
from server.rosters.store import MediatorProfile, RosterEvent, RosterStore
from server.store.accounts import Account, AccountStore

STATUS_ACTIONS = {
    RosterStatus.ACTIVE: "roster.restored",
    RosterStatus.SUSPENDED: "roster.suspended",
    RosterStatus.REMOVED: "roster.removed",
}
"""The event each status change records."""


def specialties_view(specialties: tuple[Specialty, ...]) -> list[dict[str, str]]:
    """Specialties with their Chinese names."""
    return [{"value": s.value, "name": SPECIALTY_NAMES[s]} for s in specialties]


def entry_view(entry: RosterEntry, now: datetime) -> dict[str, Any]:
    """A roster entry as the pages show it."""
    kind = entry.organisation_kind
    return {
        "id": entry.id,
        "court_id": entry.court_id,
        "court_name": entry.court_name,
        "member": "mediator" if entry.account_id else "organisation",
        "organisation_id": entry.member_organisation_id,
        "organisation_name": entry.organisation_name,
        "organisation_kind": None if kind is None else kind.value,
        "organisation_kind_name": "" if kind is None else ORGANISATION_KIND_NAMES[kind],
        "account_id": entry.account_id,
        "mediator_name": entry.mediator_name,
        "specialties": specialties_view(entry.specialties),
        "term_start": entry.term_start.isoformat(),
        "term_end": entry.term_end.isoformat(),
        "status": entry.status.value,
        "status_name": ROSTER_STATUS_NAMES[entry.status],
        "in_term": entry.in_term(now),
        "active": entry.is_active(now),
        "added_at": entry.added_at.isoformat(),
        "updated_at": entry.updated_at.isoformat(),
    }


def vocabulary() -> dict[str, Any]:
    """The specialties and statuses a page offers, with their Chinese names."""
    return {
        "specialties": specialties_view(tuple(Specialty)),
        "statuses": [{"value": s.value, "name": ROSTER_STATUS_NAMES[s]} for s in RosterStatus],
    }


class RosterService:
    """Courts' rosters and mediators' profiles."""

    def __init__(self, store: RosterStore, organisations: OrganisationStore, accounts: AccountStore) -> None:
        self.store = store
        self.organisations = organisations
        self.accounts = accounts

    async def _caller(self, principal: Principal) -> tuple[Account, Organisation]:
        if not principal.is_account:
            raise NotFound("No such roster")
        caller = await self.accounts.account(principal.subject_id)
        return caller, await self.organisations.get(caller.organisation_id)

    async def _court_reader(self, principal: Principal, court_id: str) -> tuple[Account, Organisation]:
        caller, own = await self._caller(principal)
        require_court_reader(caller.kind, own.id, own.kind, court_id)
        return caller, own

    async def _court_admin(self, principal: Principal, court_id: str) -> tuple[Account, Organisation]:
        caller, own = await self._caller(principal)
        require_court_admin(caller.kind, own.id, own.kind, court_id)
        return caller, own

    async def _entry_of(self, court_id: str, entry_id: str) -> RosterEntry:
        try:
            entry = await self.store.get(entry_id)
        except NotFound:
            raise NotFound("No such roster entry") from None
        if entry.court_id != court_id:
            raise NotFound("No such roster entry")
        return entry

    # ------------------------------------------------------------ a court's roster

    async def roster(
        self,
        principal: Principal,
        court_id: str,
        now: datetime,
        *,
        specialty: Specialty | None = None,
        status: RosterStatus | None = None,
        in_term: bool = False,
    ) -> dict[str, Any]:
        """The court's roster, filtered, for its judges, clerks and administrators."""
        caller, court = await self._court_reader(principal, court_id)
        entries = await self.store.of_court(
            court_id, specialty=specialty, status=status, in_term_at=now if in_term else None
        )
        return {
            "court": {"id": court.id, "name": court.name},
            "may_manage": caller.kind is AccountKind.ORG_ADMIN,
            "entries": [entry_view(e, now) for e in entries],
            **vocabulary(),
        }

    async def candidates(self, principal: Principal, court_id: str, organisation_id: str | None) -> dict[str, Any]:
        """What a court's administrator may pick from: the mediation organisations (name, kind, region only),
        and the mediators of one of them when asked (id and name only)."""
        await self._court_admin(principal, court_id)
        organisations = [o for o in await self.organisations.all() if o.kind in MEMBER_KINDS and not o.disabled]
        mediators: list[dict[str, str]] = []
        if organisation_id is not None:
            if organisation_id not in {o.id for o in organisations}:
                raise NotFound("No such mediation organisation")
            mediators = [
                {"id": a.id, "display_name": a.display_name}
                for a in await self.accounts.accounts_of(organisation_id)
                if a.kind is AccountKind.MEDIATOR and not a.disabled
            ]
        return {
            "organisations": [
                {
                    "id": o.id,
                    "name": o.name,
                    "kind": o.kind.value,
                    "kind_name": ORGANISATION_KIND_NAMES[o.kind],
                    "region": o.region,
                }
                for o in organisations
            ],
            "mediators": mediators,
        }

    async def add(
        self,
        principal: Principal,
        court_id: str,
        *,
        organisation_id: str | None,
        account_id: str | None,
        specialties: list[str],
        term_start: datetime,
        term_end: datetime,
        now: datetime,
    ) -> dict[str, Any]:
        """Put a mediation organisation, or one of their mediators, on the court's roster (active)."""
        await self._court_admin(principal, court_id)
        if (organisation_id is None) == (account_id is None):
            raise InvalidCommand("Name either an organisation or a mediator")
        chosen = check_specialties(specialties)
        check_term(term_start, term_end)
        if organisation_id is not None:
            member = await self._organisation(organisation_id)
            check_member_organisation(member.kind)
        else:
            assert account_id is not None
            mediator = await self._account(account_id)
            member = await self.organisations.get(mediator.organisation_id)
            check_member_mediator(mediator.kind, member.kind)
        if member.disabled:
            raise InvalidCommand("This organisation is closed")
        entry = RosterEntry(
            id=new_id(),
            court_id=court_id,
            organisation_id=organisation_id,
            account_id=account_id,
            specialties=chosen,
            term_start=term_start,
            term_end=term_end,
            status=RosterStatus.ACTIVE,
            added_at=now,
            added_by=principal.actor,
            updated_at=now,
        )
        await self.store.add(entry, self._events(entry, member.id, now, principal, ["roster.added"]))
        return entry_view(await self.store.get(entry.id), now)

    async def update(
        self,
        principal: Principal,
        court_id: str,
        entry_id: str,
        *,
        specialties: list[str] | None,
        term_start: datetime | None,
        term_end: datetime | None,
        status: RosterStatus | None,
        now: datetime,
    ) -> dict[str, Any]:
        """Change an entry's specialties, term or status (suspend, restore, remove)."""
        await self._court_admin(principal, court_id)
        entry = await self._entry_of(court_id, entry_id)
        chosen = entry.specialties if specialties is None else check_specialties(specialties)
        start = entry.term_start if term_start is None else term_start
        end = entry.term_end if term_end is None else term_end
        actions = []
        if chosen != entry.specialties or start != entry.term_start or end != entry.term_end:
            check_term(start, end)
            actions.append("roster.updated")
        new_status = entry.status if status is None else status
        if new_status is not entry.status:
            check_transition(entry.status, new_status)
            actions.append(STATUS_ACTIONS[new_status])
        if not actions:
            return entry_view(entry, now)
        await self.store.update(
            entry.id,
            specialties=chosen,
            term_start=start,
            term_end=end,
            status=new_status,
            updated_at=now,
            expected_updated_at=entry.updated_at,
            events=self._events(entry, entry.member_organisation_id, now, principal, actions),
        )
        return entry_view(await self.store.get(entry.id), now)

    @staticmethod
    def _events(
        entry: RosterEntry, member_organisation: str, now: datetime, principal: Principal, actions: list[str]
    ) -> list[RosterEvent]:
        """Each action in the court's events and in the member organisation's."""
        return [
            RosterEvent(org, now, principal.actor, action, entry.account_id)
            for action in actions
            for org in (entry.court_id, member_organisation)
        ]

    async def _organisation(self, organisation_id: str) -> Organisation:
        try:
            return await self.organisations.get(organisation_id)
        except NotFound:
            raise InvalidCommand("No such organisation") from None

    async def _account(self, account_id: str) -> Account:
        try:
            return await self.accounts.account(account_id)
        except NotFound:
            raise InvalidCommand("No such mediator") from None

    # ------------------------------------------------------------ a member's view

    async def memberships(self, principal: Principal, organisation_id: str, now: datetime) -> dict[str, Any]:
        """On which courts' rosters a mediation organisation and its mediators are, and its mediators
        (for their profiles), for its administrators."""
        caller, own = await self._caller(principal)
        if own.id != organisation_id or own.kind not in MEMBER_KINDS:
            raise NotFound("No such organisation")
        if caller.kind is not AccountKind.ORG_ADMIN:
            raise Forbidden("Only the organisation's administrators see its rosters")
        entries = await self.store.of_member_organisation(organisation_id)
        mediators = [a for a in await self.accounts.accounts_of(organisation_id) if a.kind is AccountKind.MEDIATOR]
        return {
            "organisation": {"id": own.id, "name": own.name},
            "entries": [entry_view(e, now) for e in entries],
            "mediators": [{"id": a.id, "display_name": a.display_name, "disabled": a.disabled} for a in mediators],
        }

    # ------------------------------------------------------------ profiles

    async def _profile_access(self, principal: Principal, account_id: str) -> tuple[Account, Account, bool]:
        """(caller, mediator, may edit); NotFound for anyone who may not read it."""
        if not principal.is_account:
            raise NotFound("No such profile")
        caller = await self.accounts.account(principal.subject_id)
        try:
            target = await self.accounts.account(account_id)
        except NotFound:
            raise NotFound("No such profile") from None
        if target.kind is not AccountKind.MEDIATOR:
            raise NotFound("No such profile")
        if caller.id == target.id:
            return caller, target, True
        if caller.kind is AccountKind.ORG_ADMIN and caller.organisation_id == target.organisation_id:
            return caller, target, True
        if caller.kind in COURT_READERS:
            own = await self.organisations.get(caller.organisation_id)
            if own.kind is OrganisationKind.COURT and own.id in await self.store.courts_listing(
                organisation_id=target.organisation_id, account_id=target.id
            ):
                return caller, target, False
        raise NotFound("No such profile")

    async def profile(self, principal: Principal, account_id: str) -> dict[str, Any]:
        """A mediator's profile and the figures of the cases they hold."""
        _, target, may_edit = await self._profile_access(principal, account_id)
        return await self._profile_view(target, may_edit)

    async def set_profile(
        self,
        principal: Principal,
        account_id: str,
        *,
        qualification: str,
        specialties: list[str],
        introduction: str,
        now: datetime,
    ) -> dict[str, Any]:
        """Write a mediator's profile (the mediator, or their organisation's administrator)."""
        _, target, may_edit = await self._profile_access(principal, account_id)
        if not may_edit:
            raise Forbidden("Only the mediator and their organisation's administrators edit this profile")
        check_profile_text(qualification, introduction)
        chosen = check_specialties(specialties) if specialties else ()
        await self.store.set_profile(MediatorProfile(target.id, qualification, chosen, introduction, now), now)
        await self.organisations.record(
            target.organisation_id, OrganisationEvent(now, principal.actor, "profile.updated", target.id)
        )
        return await self._profile_view(target, may_edit)

    async def _profile_view(self, target: Account, may_edit: bool) -> dict[str, Any]:
        stored = await self.store.profile(target.id)
        figures = await self.store.figures(target.id)
        organisation = await self.organisations.get(target.organisation_id)
        return {
            "account_id": target.id,
            "display_name": target.display_name,
            "organisation": {
                "id": organisation.id,
                "name": organisation.name,
                "kind_name": ORGANISATION_KIND_NAMES[organisation.kind],
            },
            "qualification": stored.qualification,
            "specialties": specialties_view(stored.specialties),
            "introduction": stored.introduction,
            "updated_at": None if stored.updated_at is None else stored.updated_at.isoformat(),
            "figures": {
                "handled": figures.handled,
                "open": figures.open,
                "ended": figures.ended,
                "agreements": figures.agreements,
                "ended_without_agreement": figures.ended_without_agreement,
                "success_rate": figures.success_rate,
            },
            "may_edit": may_edit,
        }
