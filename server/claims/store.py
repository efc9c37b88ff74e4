"""The claims stage's store: authorisations, repair shops, claims, their steps and payments.

Every change to a claim is written with its audit record in the case's chain, in one transaction under the
case's lock (:meth:`server.store.repository.CaseRepository.write_audited`), and guarded by what the caller
saw (a conditional UPDATE on the claim's state and paid sum): a claim changed meanwhile is a 409, never a
double payment. Audit details carry ids and amounts, never a name or a phone number.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from server.domain.claims import OPEN_STATES, Authorisation, ClaimState
from server.domain.compensation import Money
from server.errors import ConcurrentUpdate, Duplicate, NotFound
from server.store import schema as t
from server.store.repository import AuditRecord, CaseRepository, LoadedCase


@dataclass(frozen=True)
class Flagged:
    """A claim this node flagged overdue."""

    mediator_account_id: str | None
    """The case's mediator, to be told; None for a claim from a scene finding (no case) or no mediator yet."""


class _Stale(Exception):
    """The claim is no longer as the caller saw it (rolls the transaction back)."""


@dataclass(frozen=True)
class ClaimRecord:
    """One claim as stored, with the names the desks show."""

    id: str
    case_id: str | None
    """None for a claim from a scene finding."""
    case_number: str
    """The case's number, or the scene report's (KC-…) for a claim from a scene finding."""
    participant_id: str | None
    claimant_name: str
    insurer_id: str
    insurer_name: str
    source: str
    source_id: str
    region: str
    amount: Money
    vehicle: Money
    lines: list[dict[str, Any]]
    state: ClaimState
    submitted_at: datetime
    due_on: date
    overdue_at: datetime | None
    accepted_at: datetime | None
    acting_account_id: str | None
    authorisation_id: str | None
    repair_shop_id: str | None
    paid: Money
    paid_at: datetime | None
    refused_reason: str | None
    scene_report_id: str | None = None
    """The signed scene report a claim from a scene finding rests on (快处快赔)."""
    scene_driver_id: str | None = None
    """The claimant driver of that report."""


@dataclass(frozen=True)
class RepairShop:
    """An insurer's repair shop (定修直赔)."""

    id: str
    organisation_id: str
    name: str
    address: str
    phone: str

    def as_dict(self) -> dict[str, str]:
        """As the pages show it."""
        return {"id": self.id, "name": self.name, "address": self.address, "phone": self.phone}


@dataclass(frozen=True)
class StoredAuthorisation:
    """An authorisation as stored: the rules' view, its insurer, its signed PDF and when it was withdrawn."""

    authorisation: Authorisation
    organisation_id: str
    document_sha256: str
    revoked_at: datetime | None


def _authorisation(r: Any) -> Authorisation:
    return Authorisation(
        id=r.id,
        account_id=r.account_id,
        regions=tuple(json.loads(r.regions)),
        any_region=bool(r.any_region),
        limit=Money.from_fen(int(r.limit_fen)),
        valid_from=date.fromisoformat(r.valid_from),
        valid_to=date.fromisoformat(r.valid_to),
        revoked=r.revoked_at is not None,
    )


class ClaimStore:
    """Reads and writes the claims stage's tables (on the case store's engine)."""

    def __init__(self, cases: CaseRepository) -> None:
        self.cases = cases
        """Writes the audited rows under the case's lock."""
        self.engine = cases.engine

    # ------------------------------------------------------------------ authorisations

    async def add_authorisation(self, values: Mapping[str, Any]) -> None:
        """Keep an authorisation (``values``: the row of ``claim_authorisations``)."""
        async with self.engine.begin() as conn:
            await conn.execute(insert(t.claim_authorisations).values(**values))

    async def authorisations(self, organisation_id: str, account_id: str | None = None) -> list[Authorisation]:
        """An insurer's authorisations (of one adjuster, where named), the newest first."""
        a = t.claim_authorisations
        where = [a.c.organisation_id == organisation_id]
        if account_id is not None:
            where.append(a.c.account_id == account_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(a).where(and_(*where)).order_by(a.c.created_at.desc(), a.c.id))).all()
        return [_authorisation(r) for r in rows]

    async def authorisation(self, authorisation_id: str) -> Authorisation | None:
        """One authorisation, if it exists."""
        a = t.claim_authorisations
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(a).where(a.c.id == authorisation_id))).first()
        return _authorisation(row) if row is not None else None

    async def stored_authorisation(self, authorisation_id: str) -> StoredAuthorisation | None:
        """One authorisation with its insurer, its signed PDF's blob and when it was withdrawn."""
        a = t.claim_authorisations
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(a).where(a.c.id == authorisation_id))).first()
        if row is None:
            return None
        return StoredAuthorisation(_authorisation(row), row.organisation_id, row.document_sha256, row.revoked_at)

    async def revoke_authorisation(self, stored: StoredAuthorisation, actor: str, now: datetime) -> bool:
        """Withdraw the authorisation (a conditional UPDATE on ``revoked_at`` being empty) and record who did, as
        an ``authorisation.revoked`` event of the insurer naming the adjuster, in one transaction. False (nothing
        written) when it was already withdrawn."""
        a = t.claim_authorisations
        auth = stored.authorisation
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(a).where(a.c.id == auth.id, a.c.revoked_at.is_(None)).values(revoked_at=now)
            )
            if done.rowcount != 1:
                return False
            await conn.execute(
                insert(t.organisation_events).values(
                    organisation_id=stored.organisation_id,
                    at=now,
                    actor=actor,
                    action="authorisation.revoked",
                    account_id=auth.account_id,
                )
            )
        return True

    # ------------------------------------------------------------------ repair shops

    async def add_shop(self, shop: RepairShop, now: datetime) -> None:
        """Keep a repair shop; Duplicate if the insurer already lists one of that name."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(t.repair_shops).values(
                        id=shop.id,
                        organisation_id=shop.organisation_id,
                        name=shop.name,
                        address=shop.address,
                        phone=shop.phone,
                        created_at=now,
                    )
                )
        except IntegrityError:
            raise Duplicate("This insurer already lists a repair shop of this name") from None

    async def shops(self, organisation_id: str) -> list[RepairShop]:
        """An insurer's repair shops, by name."""
        r = t.repair_shops
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(r).where(r.c.organisation_id == organisation_id).order_by(r.c.name))
            ).all()
        return [RepairShop(x.id, x.organisation_id, x.name, x.address, x.phone) for x in rows]

    async def shop(self, shop_id: str) -> RepairShop | None:
        """One repair shop, if it exists."""
        r = t.repair_shops
        async with self.engine.connect() as conn:
            x = (await conn.execute(select(r).where(r.c.id == shop_id))).first()
        return RepairShop(x.id, x.organisation_id, x.name, x.address, x.phone) if x is not None else None

    # ------------------------------------------------------------------ claims

    async def claims(self, where: Sequence[ColumnElement[bool]], limit: int = 500) -> list[ClaimRecord]:
        """Claims matching ``where``: the open ones by deadline first, then the newest."""
        c, p, o, k = t.claims, t.participants, t.organisations, t.cases
        r, d = t.scene_reports, t.scene_drivers
        query = (
            select(
                c,
                func.coalesce(k.c.number, r.c.number).label("case_number"),
                func.coalesce(p.c.display_name, d.c.name).label("claimant_name"),
                o.c.name.label("insurer_name"),
            )
            .select_from(
                c.outerjoin(k, k.c.id == c.c.case_id)
                .outerjoin(p, p.c.id == c.c.participant_id)
                .outerjoin(r, r.c.id == c.c.scene_report_id)
                .outerjoin(d, d.c.id == c.c.scene_driver_id)
                .join(o, o.c.id == c.c.insurer_id)
            )
            .where(and_(*where))
            .order_by(c.c.due_on, c.c.submitted_at.desc(), c.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            ClaimRecord(
                id=r.id,
                case_id=r.case_id,
                case_number=r.case_number,
                participant_id=r.participant_id,
                claimant_name=r.claimant_name,
                insurer_id=r.insurer_id,
                insurer_name=r.insurer_name,
                source=r.source,
                source_id=r.source_id,
                region=r.region,
                amount=Money.from_fen(int(r.amount_fen)),
                vehicle=Money.from_fen(int(r.vehicle_fen)),
                lines=json.loads(r.lines),
                state=ClaimState(r.state),
                submitted_at=r.submitted_at,
                due_on=date.fromisoformat(r.due_on),
                overdue_at=r.overdue_at,
                accepted_at=r.accepted_at,
                acting_account_id=r.acting_account_id,
                authorisation_id=r.authorisation_id,
                repair_shop_id=r.repair_shop_id,
                paid=Money.from_fen(int(r.paid_fen)),
                paid_at=r.paid_at,
                refused_reason=r.refused_reason,
                scene_report_id=r.scene_report_id,
                scene_driver_id=r.scene_driver_id,
            )
            for r in rows
        ]

    async def claim(self, claim_id: str) -> ClaimRecord:
        """One claim; NotFound."""
        found = await self.claims([t.claims.c.id == claim_id], limit=1)
        if not found:
            raise NotFound("No such claim")
        return found[0]

    async def submit(self, values: Mapping[str, Any], actor: str, now: datetime) -> None:
        """Keep a new claim with its first step, audited; Duplicate if the party has an open claim on the case."""

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(insert(t.claims).values(**values))
            await _event(conn, values["id"], actor, "submitted", {"amount": Money(values["amount_fen"]).plain()}, now)

        record = AuditRecord(
            actor,
            "claim.submitted",
            {"claim_id": values["id"], "insurer_id": values["insurer_id"], "amount_fen": values["amount_fen"]},
        )
        try:
            await self._write(values["case_id"], record, work, now)
        except IntegrityError:
            raise Duplicate("This party already has an open claim on this case or report") from None

    async def _write(
        self,
        case_id: str | None,
        record: AuditRecord,
        work: Callable[[AsyncConnection], Awaitable[None]],
        now: datetime,
    ) -> LoadedCase | None:
        """Run ``work`` with the case's audit record under the case's lock; a claim from a scene finding (no
        case) in one transaction of its own, its steps in ``claim_events`` only (None)."""
        if case_id is not None:
            return await self.cases.write_audited(case_id, lambda _loaded: (None, [record]), work, now)
        async with self.engine.begin() as conn:
            await work(conn)
        return None

    async def change(
        self,
        claim: ClaimRecord,
        actor: str,
        action: str,
        changes: Mapping[str, Any],
        details: Mapping[str, Any],
        now: datetime,
        payment: Mapping[str, Any] | None = None,
    ) -> None:
        """Apply ``changes`` to the claim as the caller saw it (state and paid sum unchanged meanwhile), with a
        step, an audit record and, where given, a payment row, in one transaction; ConcurrentUpdate otherwise."""
        c = t.claims.c

        async def work(conn: AsyncConnection) -> None:
            done = await conn.execute(
                update(t.claims)
                .where(c.id == claim.id, c.state == claim.state.value, c.paid_fen == claim.paid.fen)
                .values(**changes)
            )
            if done.rowcount != 1:
                raise _Stale
            if payment is not None:
                seq = await _next(conn, t.claim_payments, claim.id)
                await conn.execute(insert(t.claim_payments).values(**payment, seq=seq))
            await _event(conn, claim.id, actor, action, details, now)

        record = AuditRecord(actor, f"claim.{action}", {"claim_id": claim.id, **details})
        try:
            await self._write(claim.case_id, record, work, now)
        except _Stale:
            raise ConcurrentUpdate("The claim changed meanwhile: reload it and try again") from None

    async def flag_overdue(self, claim: ClaimRecord, now: datetime) -> Flagged | None:
        """Set the claim's overdue flag once (a conditional UPDATE), with its step and audit record; None if it
        was flagged (or settled) meanwhile, here or on another node."""
        c = t.claims.c

        async def work(conn: AsyncConnection) -> None:
            done = await conn.execute(
                update(t.claims)
                .where(c.id == claim.id, c.overdue_at.is_(None), c.state.in_([s.value for s in OPEN_STATES]))
                .values(overdue_at=now)
            )
            if done.rowcount != 1:
                raise _Stale
            await _event(conn, claim.id, "system", "overdue", {"due_on": claim.due_on.isoformat()}, now)

        record = AuditRecord("system", "claim.overdue", {"claim_id": claim.id, "due_on": claim.due_on.isoformat()})
        try:
            loaded = await self._write(claim.case_id, record, work, now)
        except _Stale:
            return None
        assignment = loaded.case.assignment if loaded is not None else None
        return Flagged(assignment.mediator_account_id if assignment else None)

    async def overdue_candidates(self, today: date, limit: int = 200) -> list[ClaimRecord]:
        """Open claims whose due day ended before ``today`` (Beijing) and that are not flagged yet."""
        c = t.claims.c
        return await self.claims(
            [c.state.in_([s.value for s in OPEN_STATES]), c.overdue_at.is_(None), c.due_on < today.isoformat()], limit
        )

    async def events(self, claim_id: str) -> list[dict[str, Any]]:
        """A claim's steps, oldest first."""
        e = t.claim_events
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(e).where(e.c.claim_id == claim_id).order_by(e.c.seq))).all()
        return [{"at": r.at.isoformat(), "action": r.action, "details": json.loads(r.details)} for r in rows]

    async def payments(self, claim_id: str) -> list[dict[str, Any]]:
        """A claim's payments, oldest first."""
        p = t.claim_payments
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(p).where(p.c.claim_id == claim_id).order_by(p.c.seq))).all()
        return [
            {
                "id": r.id,
                "amount": Money.from_fen(int(r.amount_fen)).plain(),
                "reference": r.reference,
                "paid_on": r.paid_on,
                "repair_shop_id": r.repair_shop_id,
                "recorded_at": r.recorded_at.isoformat(),
            }
            for r in rows
        ]

    async def shop_paid(self, claim_id: str) -> Money:
        """What was paid to repair shops on a claim."""
        p = t.claim_payments.c
        async with self.engine.connect() as conn:
            total = (
                await conn.execute(
                    select(func.coalesce(func.sum(p.amount_fen), 0)).where(
                        p.claim_id == claim_id, p.repair_shop_id.is_not(None)
                    )
                )
            ).scalar_one()
        return Money.from_fen(int(total))


async def _next(conn: AsyncConnection, table: Any, claim_id: str) -> int:
    """The next ``seq`` of a claim's rows in ``table`` (the case's lock orders writers of one claim)."""
    found = (await conn.execute(select(func.max(table.c.seq)).where(table.c.claim_id == claim_id))).scalar_one()
    return int(found or 0) + 1


async def _event(
    conn: AsyncConnection, claim_id: str, actor: str, action: str, details: Mapping[str, Any], now: datetime
) -> None:
    await conn.execute(
        insert(t.claim_events).values(
            id=str(uuid.uuid4()),
            claim_id=claim_id,
            seq=await _next(conn, t.claim_events, claim_id),
            at=now,
            actor=actor,
            action=action,
            details=json.dumps(dict(details), ensure_ascii=False, sort_keys=True),
        )
    )
