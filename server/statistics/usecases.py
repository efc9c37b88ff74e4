"""Who sees which figures: each caller's scope, the filters they may choose within it, and the result.

An organisation's administrator sees the cases their organisation holds; court staff (judges, clerks,
the court's administrators) the cases their court referred and those it holds itself, with its judges'
workload; a mediator the cases they hold. A filter naming a court or an organisation outside what the
caller sees is answered as if it did not exist (NotFound); a caller who is no staff member, or staff of
an organisation that holds no cases (an insurer's, an appraisal institution's administrator), Forbidden.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from server.domain.organisations import OrganisationKind
from server.domain.roles import AccountKind
from server.errors import Forbidden, NotFound
from server.identity.access import Principal
from server.organisations.store import OrganisationStore
from server.statistics.figures import Period, Tally, payment_days
from server.statistics.store import CaseFilter, StatisticsStore
from server.store.accounts import AccountStore

MEDIATING = frozenset({OrganisationKind.PEOPLES_MEDIATION, OrganisationKind.INDUSTRY_MEDIATION})
"""Organisations whose administrators see their organisation's figures."""


async def _none() -> list[dict[str, Any]]:
    return []


class StatisticsService:
    """The dashboard's figures, as far as the caller may see them."""

    def __init__(self, store: StatisticsStore, accounts: AccountStore, organisations: OrganisationStore) -> None:
        self.store = store
        self.accounts = accounts
        self.organisations = organisations

    async def figures(
        self,
        principal: Principal,
        *,
        court: str | None = None,
        organisation: str | None = None,
        first: str | None = None,
        last: str | None = None,
    ) -> dict[str, Any]:
        """The figures of the caller's cases, filtered by the referring court, the holding organisation and the
        period (Beijing dates of referral, both included)."""
        if not principal.is_account:
            raise Forbidden("Only staff accounts see statistics")
        caller = await self.accounts.account(principal.subject_id)
        own = await self.organisations.get(caller.organisation_id)
        if caller.kind is AccountKind.MEDIATOR:
            kind, scope = "mediator", CaseFilter(holder_account_id=caller.id)
        elif own.kind is OrganisationKind.COURT:
            kind, scope = "court", CaseFilter(court_scope=own.id)
        elif caller.kind is AccountKind.ORG_ADMIN and own.kind in MEDIATING:
            kind, scope = "organisation", CaseFilter(organisation_id=own.id)
        else:
            raise Forbidden("Statistics are for mediators, mediation organisations and courts")
        period = Period.parse(first, last)

        courts, organisations = await self.store.choices(scope)
        courts = sorted({*courts, own.id} if kind == "court" else set(courts))
        organisations = sorted({*organisations, own.id})
        if court is not None and court not in courts:
            raise NotFound("No such court among the cases you see")
        if organisation is not None and organisation not in organisations:
            raise NotFound("No such organisation among the cases you see")
        where = replace(
            scope,
            court_id=court,
            organisation_id=organisation if organisation is not None else scope.organisation_id,
            start=period.start,
            end=period.end,
        )
        raw, judges, claims = await asyncio.gather(
            self.store.figures(where),
            self.store.judges(own.id, organisation, period.start, period.end) if kind == "court" else _none(),
            self.store.claim_payments(where),  # one-click claims: days to payment per insurer
        )
        org_names = await self.store.organisation_names([*courts, *organisations])
        account_names = await self.store.account_names(list(raw["mediator"]))

        def grouped(tallies: dict[str, Tally], names: dict[str, str], by_key: bool = False) -> list[dict[str, Any]]:
            for key, tally in tallies.items():
                tally.name = names.get(key, key)
            order = sorted(tallies.values(), key=(lambda x: x.key) if by_key else (lambda x: (-x.cases, x.name)))
            return [x.as_dict() for x in order]

        totals: Tally = raw["totals"]
        return {
            "scope": {
                "kind": kind,
                "organisation_id": own.id,
                "organisation_name": own.name,
                "account_kind": caller.kind.value,
            },
            "filters": {
                "court": court,
                "organisation": organisation,
                "from": None if period.first is None else period.first.isoformat(),
                "to": None if period.last is None else period.last.isoformat(),
            },
            "choices": {
                "courts": [{"id": i, "name": org_names.get(i, i)} for i in courts],
                "organisations": [{"id": i, "name": org_names.get(i, i)} for i in organisations],
            },
            "totals": totals.as_dict(),
            "by_organisation": grouped(raw["organisation"], org_names),
            "by_mediator": grouped(raw["mediator"], account_names),
            "by_month": grouped(raw["month"], {}, by_key=True),
            "judges": judges,
            "claims_by_insurer": payment_days(claims),
        }
