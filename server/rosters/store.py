"""Courts' rosters and mediators' profiles, as stored (``roster_entries``, ``mediator_profiles``).

The two reads a referral needs are :meth:`RosterStore.is_active_member` and
:meth:`RosterStore.active_organisations`; both decide "active and in term" in SQL.
Each change to a roster is written with its events (in the court's and the member
organisation's ``organisation_events``) in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select

from server.domain.organisations import OrganisationKind
from server.domain.rosters import (
    ProfileFigures,
    RosterEntry,
    RosterStatus,
    Specialty,
    join_specialties,
    parse_specialties,
)
from server.errors import ConcurrentUpdate, Duplicate, NotFound
from server.store import schema as t


@dataclass(frozen=True)
class RosterEvent:
    """One change to a roster, recorded in an organisation's events."""

    organisation_id: str
    """Whose events: the court's, or the member organisation's."""
    at: datetime
    actor: str
    """``account:<id>``."""
    action: str
    """``roster.added``, ``roster.updated``, ``roster.suspended``, ``roster.restored``, ``roster.removed``."""
    account_id: str | None = None
    """The mediator concerned, for a mediator's entry."""


@dataclass(frozen=True)
class MediatorProfile:
    """A mediator's profile as stored (empty texts and no specialties until they write one)."""

    account_id: str
    qualification: str
    specialties: tuple[Specialty, ...]
    introduction: str
    updated_at: datetime | None


_court = t.organisations.alias("court")
_member = t.organisations.alias("member")
_mediator = t.accounts.alias("mediator")
_mediator_org = t.organisations.alias("mediator_org")


def _entries() -> Select[Any]:
    r = t.roster_entries
    return (
        select(
            r,
            _court.c.name.label("court_name"),
            func.coalesce(_member.c.name, _mediator_org.c.name).label("org_name"),
            func.coalesce(_member.c.kind, _mediator_org.c.kind).label("org_kind"),
            func.coalesce(_member.c.id, _mediator_org.c.id).label("org_id"),
            _mediator.c.display_name.label("mediator_name"),
        )
        .join(_court, _court.c.id == r.c.court_id)
        .outerjoin(_member, _member.c.id == r.c.organisation_id)
        .outerjoin(_mediator, _mediator.c.id == r.c.account_id)
        .outerjoin(_mediator_org, _mediator_org.c.id == _mediator.c.organisation_id)
    )


def _entry(row: Any) -> RosterEntry:
    return RosterEntry(
        id=row.id,
        court_id=row.court_id,
        organisation_id=row.organisation_id,
        account_id=row.account_id,
        specialties=parse_specialties(row.specialties),
        term_start=row.term_start,
        term_end=row.term_end,
        status=RosterStatus(row.status),
        added_at=row.added_at,
        added_by=row.added_by,
        updated_at=row.updated_at,
        organisation_name=row.org_name or "",
        organisation_kind=None if row.org_kind is None else OrganisationKind(row.org_kind),
        member_organisation_id=row.org_id or "",
        mediator_name=row.mediator_name or "",
        court_name=row.court_name or "",
    )


def _has_specialty(specialty: Specialty) -> Any:
    """The stored comma-separated list names this specialty (a whole item, not a part of one)."""
    padded = literal(",") + t.roster_entries.c.specialties + literal(",")
    return padded.like(f"%,{specialty.value},%")


def _active_at(now: datetime) -> Any:
    r = t.roster_entries
    return and_(r.c.status == RosterStatus.ACTIVE.value, r.c.term_start <= now, r.c.term_end > now)


async def _record(conn: AsyncConnection, events: Sequence[RosterEvent]) -> None:
    for e in events:
        await conn.execute(
            insert(t.organisation_events).values(
                organisation_id=e.organisation_id, at=e.at, actor=e.actor, action=e.action, account_id=e.account_id
            )
        )


class RosterStore:
    """Reads and writes courts' rosters and mediators' profiles."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------ the referral's reads

    async def is_active_member(self, court_id: str, organisation_id: str, now: datetime) -> bool:
        """Whether the organisation is on the court's roster, active, and ``now`` lies in its term.

        A disabled organisation (its accounts cannot log in) is no active member either."""
        r = t.roster_entries
        query = (
            select(r.c.id)
            .join(t.organisations, t.organisations.c.id == r.c.organisation_id)
            .where(
                r.c.court_id == court_id,
                r.c.organisation_id == organisation_id,
                _active_at(now),
                t.organisations.c.disabled.is_(False),
            )
            .limit(1)
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def active_organisations(
        self, court_id: str, now: datetime, specialty: str | None = None
    ) -> list[RosterEntry]:
        """The organisations the court may refer to now (active, in term, not disabled), by name.

        ``specialty`` (a :class:`~server.domain.rosters.Specialty` value) keeps those that
        mediate it; an unknown one matches nothing."""
        r = t.roster_entries
        query = _entries().where(
            r.c.court_id == court_id,
            r.c.organisation_id.is_not(None),
            _active_at(now),
            _member.c.disabled.is_(False),
        )
        if specialty is not None:
            if specialty not in {s.value for s in Specialty}:
                return []
            query = query.where(_has_specialty(Specialty(specialty)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(_member.c.name))).all()
        return [_entry(row) for row in rows]

    # ------------------------------------------------------------ the roster

    async def get(self, entry_id: str) -> RosterEntry:
        """One entry; NotFound."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(_entries().where(t.roster_entries.c.id == entry_id))).first()
        if row is None:
            raise NotFound("No such roster entry")
        return _entry(row)

    async def of_court(
        self,
        court_id: str,
        *,
        specialty: Specialty | None = None,
        status: RosterStatus | None = None,
        in_term_at: datetime | None = None,
    ) -> list[RosterEntry]:
        """The court's roster: organisations first, then mediators, by name."""
        r = t.roster_entries
        query = _entries().where(r.c.court_id == court_id)
        if specialty is not None:
            query = query.where(_has_specialty(specialty))
        if status is not None:
            query = query.where(r.c.status == status.value)
        if in_term_at is not None:
            query = query.where(r.c.term_start <= in_term_at, r.c.term_end > in_term_at)
        query = query.order_by(
            case((r.c.account_id.is_(None), 0), else_=1),
            func.coalesce(_member.c.name, _mediator_org.c.name),
            _mediator.c.display_name,
            r.c.id,
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_entry(row) for row in rows]

    async def of_member_organisation(self, organisation_id: str) -> list[RosterEntry]:
        """Every entry of the organisation, or of one of its mediators, on any court's roster."""
        r = t.roster_entries
        query = (
            _entries()
            .where(or_(r.c.organisation_id == organisation_id, _mediator.c.organisation_id == organisation_id))
            .order_by(_court.c.name, case((r.c.account_id.is_(None), 0), else_=1), _mediator.c.display_name)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_entry(row) for row in rows]

    async def courts_listing(self, *, organisation_id: str, account_id: str) -> set[str]:
        """The courts whose rosters name the organisation or the mediator (active or suspended, not removed)."""
        r = t.roster_entries
        query = select(r.c.court_id).where(
            or_(r.c.organisation_id == organisation_id, r.c.account_id == account_id),
            r.c.status != RosterStatus.REMOVED.value,
        )
        async with self.engine.connect() as conn:
            return {row.court_id for row in (await conn.execute(query)).all()}

    async def add(self, entry: RosterEntry, events: Sequence[RosterEvent] = ()) -> None:
        """Record a new entry (and its events); Duplicate if the member is on the court's roster already.

        The transaction looks first (a clear answer at once); two adds at the same moment are told
        apart by the partial unique indexes of migration 0022 (the insert that comes second fails)."""
        r = t.roster_entries
        try:
            await self._add(r, entry, events)
        except IntegrityError:
            raise Duplicate("This member is on the court's roster already") from None

    async def _add(self, r: Any, entry: RosterEntry, events: Sequence[RosterEvent]) -> None:
        async with self.engine.begin() as conn:
            member = (
                r.c.organisation_id == entry.organisation_id
                if entry.organisation_id is not None
                else r.c.account_id == entry.account_id
            )
            taken = (await conn.execute(select(r.c.id).where(r.c.court_id == entry.court_id, member))).first()
            if taken is not None:
                raise Duplicate("This member is on the court's roster already")
            await conn.execute(
                insert(r).values(
                    id=entry.id,
                    court_id=entry.court_id,
                    organisation_id=entry.organisation_id,
                    account_id=entry.account_id,
                    specialties=join_specialties(entry.specialties),
                    term_start=entry.term_start,
                    term_end=entry.term_end,
                    status=entry.status.value,
                    added_at=entry.added_at,
                    added_by=entry.added_by,
                    updated_at=entry.updated_at,
                )
            )
            await _record(conn, events)

    async def update(
        self,
        entry_id: str,
        *,
        specialties: tuple[Specialty, ...],
        term_start: datetime,
        term_end: datetime,
        status: RosterStatus,
        updated_at: datetime,
        expected_updated_at: datetime,
        events: Sequence[RosterEvent] = (),
    ) -> None:
        """Change an entry (and record its events); ConcurrentUpdate if it changed since it was read."""
        r = t.roster_entries
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(r)
                .where(r.c.id == entry_id, r.c.updated_at == expected_updated_at)
                .values(
                    specialties=join_specialties(specialties),
                    term_start=term_start,
                    term_end=term_end,
                    status=status.value,
                    updated_at=updated_at,
                )
            )
            if result.rowcount != 1:
                raise ConcurrentUpdate("The roster entry changed meanwhile; read it again")
            await _record(conn, events)

    # ------------------------------------------------------------ profiles

    async def profile(self, account_id: str) -> MediatorProfile:
        """The mediator's profile (empty if they have not written one)."""
        p = t.mediator_profiles
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(p).where(p.c.account_id == account_id))).first()
        if row is None:
            return MediatorProfile(account_id, "", (), "", None)
        return MediatorProfile(
            account_id, row.qualification, parse_specialties(row.specialties), row.introduction, row.updated_at
        )

    async def set_profile(self, profile: MediatorProfile, now: datetime) -> None:
        """Write the mediator's profile (created on first write)."""
        p = t.mediator_profiles
        values = {
            "qualification": profile.qualification,
            "specialties": join_specialties(profile.specialties),
            "introduction": profile.introduction,
            "updated_at": now,
        }
        async with self.engine.begin() as conn:
            result = await conn.execute(update(p).where(p.c.account_id == profile.account_id).values(**values))
            if result.rowcount == 0:
                await conn.execute(insert(p).values(account_id=profile.account_id, **values))

    async def figures(self, account_id: str) -> ProfileFigures:
        """What the cases the mediator holds say of them, counted in SQL."""
        c = t.cases
        ended = c.c.ended_at.is_not(None)
        agreed = c.c.agreement_at.is_not(None)
        query = select(
            func.count(),
            func.coalesce(func.sum(case((ended, 0), else_=1)), 0),
            func.coalesce(func.sum(case((ended, 1), else_=0)), 0),
            func.coalesce(func.sum(case((agreed, 1), else_=0)), 0),
            func.coalesce(func.sum(case((and_(ended, ~agreed), 1), else_=0)), 0),
        ).where(c.c.holder_account_id == account_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return ProfileFigures(*(int(v) for v in row))
