"""The store of public applications: one-time codes (keyed hashes only), the sending limits, and the
applications filed with them.

Every limit and every spend is one conditional UPDATE, so that requests at the same moment, on any
number of nodes, cannot pass a limit or spend a code twice: on PostgreSQL a second request waits for
the first one's row lock and then finds the condition false; SQLite runs one writer at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.domain.organisations import Organisation, OrganisationKind
from server.store import schema as t


@dataclass(frozen=True)
class Limit:
    """One sending limit: at most ``most`` codes in a window of ``window`` that begins with the first of them."""

    bucket: str
    """What is counted, e.g. ``phone-day:<keyed hash of the number>`` (never the number or the address)."""
    most: int
    """Codes allowed in one window."""
    window: timedelta
    """How long a window lasts."""


@dataclass(frozen=True)
class ApplicationCode:
    """A stored one-time code (its keyed hash)."""

    id: str
    """Its id (part of what its hash covers)."""
    code_hash: str
    """HMAC of the id and the code."""
    created_at: datetime
    """When it was sent."""
    expires_at: datetime
    """When it stops working."""
    attempts: int
    """Guesses made at it."""
    used_at: datetime | None
    """When it was spent (or voided by a newer code); None while live."""
    case_id: str | None
    """The case its one winning submission filed, if any."""


class _Refused(Exception):
    """A limit is full: roll the transaction back (``until``: when the latest full window ends)."""

    def __init__(self, until: datetime) -> None:
        super().__init__("limit reached")
        self.until = until


class ApplicationStore:
    """Keeps application codes, counts them against the limits, records the applications."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ the public listing

    async def open_mediation_organisations(self, kinds: frozenset[OrganisationKind]) -> list[Organisation]:
        """Organisations of ``kinds`` that are not closed, by name."""
        o = t.organisations
        query = (
            select(o)
            .where(and_(o.c.kind.in_([k.value for k in kinds]), o.c.disabled.is_(False)))
            .order_by(o.c.name)
            .limit(1000)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Organisation(id=r.id, kind=OrganisationKind(r.kind), name=r.name, created_at=r.created_at, region=r.region)
            for r in rows
        ]

    # ------------------------------------------------------------------ codes and their limits

    @staticmethod
    async def _count(conn: AsyncConnection, limit: Limit, now: datetime) -> datetime | None:
        """Count one code against ``limit`` in this transaction; None when counted, else when the window ends."""
        lim = t.application_limits
        over = lim.c.window_start <= now - limit.window
        row = (
            await conn.execute(
                update(lim)
                .where(and_(lim.c.bucket == limit.bucket, or_(over, lim.c.count < limit.most)))
                .values(
                    count=case((over, 1), else_=lim.c.count + 1),
                    window_start=case((over, now), else_=lim.c.window_start),
                )
                .returning(lim.c.bucket)
            )
        ).first()
        if row is not None:
            return None
        current = (await conn.execute(select(lim.c.window_start).where(lim.c.bucket == limit.bucket))).first()
        if current is not None:
            ends: datetime = current.window_start + limit.window
            return ends
        await conn.execute(insert(lim).values(bucket=limit.bucket, window_start=now, count=1))
        return None

    async def add_code(
        self, code_id: str, phone_hash: str, code_hash: str, now: datetime, ttl: timedelta, limits: tuple[Limit, ...]
    ) -> datetime | None:
        """Keep a code's keyed hash if every limit has room (each counted); the number's older codes are voided.

        None when stored; otherwise the latest moment one of the full limits frees up, with nothing counted
        or stored.
        """
        codes = t.application_codes
        for _attempt in range(2):
            try:
                async with self.engine.begin() as conn:
                    refusals = [ends for limit in limits if (ends := await self._count(conn, limit, now)) is not None]
                    if refusals:
                        raise _Refused(max(refusals))  # rolls back what the other limits counted
                    await conn.execute(
                        update(codes)
                        .where(and_(codes.c.phone_hash == phone_hash, codes.c.used_at.is_(None)))
                        .values(used_at=now)
                    )
                    await conn.execute(
                        insert(codes).values(
                            id=code_id,
                            phone_hash=phone_hash,
                            code_hash=code_hash,
                            created_at=now,
                            expires_at=now + ttl,
                            attempts=0,
                            used_at=None,
                        )
                    )
                return None
            except _Refused as refused:
                return refused.until
            except IntegrityError:
                continue  # another request created a limit's row in the same moment: count again against it
        raise RuntimeError("The code limits kept changing under this request")

    async def void_code(self, code_id: str, now: datetime, limits: tuple[Limit, ...]) -> None:
        """An undelivered code: spent unused, and given back to the limits (the sender may ask again at once)."""
        codes, lim = t.application_codes, t.application_limits
        async with self.engine.begin() as conn:
            await conn.execute(
                update(codes).where(and_(codes.c.id == code_id, codes.c.used_at.is_(None))).values(used_at=now)
            )
            for limit in limits:
                await conn.execute(
                    update(lim).where(and_(lim.c.bucket == limit.bucket, lim.c.count > 0)).values(count=lim.c.count - 1)
                )

    async def latest_code(self, phone_hash: str) -> ApplicationCode | None:
        """The number's live code (a new code voids the older ones: at most one is live), else its newest; with
        the case it filed if it did."""
        codes, apps = t.application_codes, t.applications
        query = (
            select(codes, apps.c.case_id)
            .select_from(codes.outerjoin(apps, apps.c.code_id == codes.c.id))
            .where(codes.c.phone_hash == phone_hash)
            .order_by(case((codes.c.used_at.is_(None), 0), else_=1), codes.c.created_at.desc(), codes.c.id.desc())
            .limit(1)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return ApplicationCode(
            row.id, row.code_hash, row.created_at, row.expires_at, row.attempts, row.used_at, row.case_id
        )

    async def spend(self, code_id: str, matched: bool, now: datetime, max_attempts: int) -> bool:
        """Count one guess; claim the code if it matched. True only for the one guess that wins.

        One conditional UPDATE: two submissions with the same code cannot both win."""
        codes = t.application_codes
        live = and_(
            codes.c.id == code_id,
            codes.c.used_at.is_(None),
            codes.c.attempts < max_attempts,
            codes.c.expires_at > now,
        )
        values: dict[str, Any] = {"attempts": codes.c.attempts + 1}
        if matched:
            values["used_at"] = now
        async with self.engine.begin() as conn:
            won = (await conn.execute(update(codes).where(live).values(**values).returning(codes.c.id))).first()
        return matched and won is not None

    async def release(self, code_id: str) -> None:
        """A claimed code whose case could not be filed: live again, so that the applicant may submit once more."""
        codes, apps = t.application_codes, t.applications
        async with self.engine.begin() as conn:
            filed = (await conn.execute(select(apps.c.case_id).where(apps.c.code_id == code_id))).first()
            if filed is None:
                await conn.execute(update(codes).where(codes.c.id == code_id).values(used_at=None))

    async def record_application(
        self, case_id: str, code_id: str, organisation_id: str, description: str, now: datetime
    ) -> None:
        """The case this code filed, and the applicant's description."""
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.applications).values(
                    case_id=case_id,
                    code_id=code_id,
                    organisation_id=organisation_id,
                    description=description,
                    submitted_at=now,
                )
            )

    async def application(self, case_id: str) -> dict[str, Any] | None:
        """The application that filed the case (its organisation's name with it), if one did."""
        apps, orgs = t.applications, t.organisations
        query = (
            select(apps.c.case_id, apps.c.organisation_id, orgs.c.name, apps.c.description, apps.c.submitted_at)
            .select_from(apps.join(orgs, orgs.c.id == apps.c.organisation_id))
            .where(apps.c.case_id == case_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return dict(row._mapping) if row is not None else None
