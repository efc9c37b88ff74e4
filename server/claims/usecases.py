"""One-click claims (一键理赔) as each caller may start, act on and see them.

Who may do what (a caller outside gets NotFound, learning nothing; an insider without the right gets Forbidden):

- the **entitled party** (a party of a settled case whom the agreement's obligations name as payee of the case's
  insurer; an agent for the party they act for) starts one claim with one action: the amounts are the
  agreement's, nothing typed; they see its steps and, for vehicle damage, choose one of the insurer's repair
  shops (定修直赔);
- the **insurer** is the organisation of kind ``insurer`` whose name is the case's insurer participant's name
  (organisation names are unique; matched by name, no id is added to participants). Its **administrator**
  records authorisations (授权委托书) and repair shops and sees every claim on it; its **claims adjusters** see
  the queue and accept, pay or refuse, each only within an authorisation in force that covers the claim's
  amount and region (else ``beyond_authorisation``, 403);
- the case's **insurer participant** sees the case's claims with the adjuster who acts and their limits;
- the case's **mediator and judge**, the organisation's administrator and the **referring court** see the
  case's claims and their overdue flags.

A claim's source (:class:`~server.domain.claims.ClaimSource`): the signed agreement (:meth:`ClaimService.start`),
or a scene report's electronic accident finding signed by both drivers with an agreed amount (快处快赔,
:meth:`ClaimService.start_from_scene`): the claimant is the driver who does not pay, the amount the agreed one
(vehicle damage), the insurer the paying driver's (the organisation they picked, else the open insurer whose name
is the one they gave; else ``insurer_not_on_platform``, 422), the document the signed finding PDF. Only while
the report is ``signed``: once the drivers asked for mediation (``mediation``) the case's claim is the way, and a
closed report is settled off the platform (409). Such a claim has no case: the claimant driver reads it and
chooses a repair shop with their scene link; the **officers of the report's police unit** read it (its state and
overdue flag, never acting); insurer staff as for any claim; everyone else 404. Its steps are kept in
``claim_events`` (no case audit chain exists for it; the report's own chain is the scene stage's evidence and
ends with the signatures).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from server.agreement.usecases import TERMS_KIND
from server.cases.usecases import CaseService
from server.claims.store import ClaimRecord, ClaimStore, RepairShop, StoredAuthorisation
from server.domain import claims as rules
from server.domain.claims import ClaimAction, ClaimSource, ClaimState
from server.domain.compensation import ItemKind, Money
from server.domain.documents import sniff
from server.domain.lifecycle import CaseState
from server.domain.organisations import Organisation, OrganisationKind
from server.domain.roles import PARTY_ROLES, AccountKind, Role
from server.domain.scene import SceneReport, SceneState
from server.errors import Forbidden, IllegalTransition, InsurerNotOnPlatform, InvalidCommand, NotFound
from server.identity.access import Principal, new_id
from server.identity.tokens import TokenClaims
from server.organisations.store import OrganisationStore
from server.referrals.usecases import ReferralService
from server.scene.finding_store import FindingStore
from server.scene.store import SceneStore
from server.signing.usecases import SIGNING_KIND
from server.store import schema as t
from server.store.accounts import Account, AccountStore

logger = logging.getLogger(__name__)


_QUALIFIER = re.compile(r"\s*[（(][^（）()]*[）)]\s*$")


def bare_name(name: str) -> str:
    """An insurer's name without a qualifier in brackets at its end: 甲保险公司（交强险） → 甲保险公司."""
    return _QUALIFIER.sub("", name)


SETTLED = frozenset(
    {CaseState.SIGNED, CaseState.SERVING, CaseState.SERVED, CaseState.CONFIRMATION_APPLIED, CaseState.CONFIRMED}
)
"""States of a case whose agreement is signed: a claim may start."""

INSURER_STAFF = frozenset({AccountKind.ORG_ADMIN, AccountKind.CLAIMS_ADJUSTER})
"""Accounts of an insurer that see its claims."""

MAX_AUTHORISATION_PDF = 2 * 1024 * 1024
"""Largest signed authorisation document (bytes)."""


@dataclass(frozen=True)
class ClaimSettings:
    """How claims are timed."""

    working_days: int = rules.DEFAULT_WORKING_DAYS
    """Working days the insurer has to pay (``claim_payment_working_days``)."""
    holidays: frozenset[date] = field(default_factory=frozenset)
    """Public holidays (Beijing dates) that are not working days (``claim_holidays``)."""


@dataclass(frozen=True)
class Caller:
    """Who is asking about a claim, and as what."""

    kind: str
    """``claimant``, ``insurer_admin``, ``adjuster``, ``insurer_party``, ``follower`` (case staff, the court) or
    ``police`` (an officer of a scene claim's police unit)."""
    account: Account | None = None
    """Their account, for staff."""


class ClaimService:
    """Claims, authorisations and repair shops."""

    def __init__(
        self,
        cases: CaseService,
        accounts: AccountStore,
        organisations: OrganisationStore,
        referrals: ReferralService,
        store: ClaimStore,
        settings: ClaimSettings | None = None,
    ) -> None:
        self.cases = cases
        self.accounts = accounts
        self.organisations = organisations
        self.referrals = referrals
        self.store = store
        self.settings = settings or ClaimSettings()
        self.scenes = SceneStore(store.engine)
        """Scene reports, for claims from a signed scene finding."""
        self.findings = FindingStore(store.engine)

    # ------------------------------------------------------------------ who is asking

    async def _insurer_account(self, principal: Principal, organisation_id: str | None = None) -> Account:
        """A staff account of an insurer (of the named one: else NotFound)."""
        if not principal.is_account:
            raise Forbidden("Only an insurer's staff use the insurer's desk")
        account = await self.accounts.account(principal.subject_id)
        if organisation_id is not None and account.organisation_id != organisation_id:
            raise NotFound("No such organisation")
        if account.kind not in INSURER_STAFF:
            raise Forbidden("Only an insurer's administrator and claims adjusters use the insurer's desk")
        organisation = await self.organisations.get(account.organisation_id)
        if organisation.kind is not OrganisationKind.INSURER:
            if organisation_id is not None:
                raise NotFound("No such insurer")
            raise Forbidden("Only an insurer's administrator and claims adjusters use the insurer's desk")
        return account

    async def _admin(self, principal: Principal, organisation_id: str) -> Account:
        account = await self._insurer_account(principal, organisation_id)
        if account.kind is not AccountKind.ORG_ADMIN:
            raise Forbidden("Only the insurer's administrator does this")
        return account

    async def _caller(self, principal: Principal, claim: ClaimRecord) -> Caller:
        """The caller's standing on a claim; NotFound when they have none."""
        if principal.is_account:
            account = await self.accounts.account(principal.subject_id)
            if account.organisation_id == claim.insurer_id and account.kind in INSURER_STAFF:
                kind = "insurer_admin" if account.kind is AccountKind.ORG_ADMIN else "adjuster"
                return Caller(kind, account)
            if claim.scene_report_id is not None:
                report = (await self.scenes.load(claim.scene_report_id)).report
                if account.kind is AccountKind.POLICE_OFFICER and account.organisation_id == report.police_unit_id:
                    return Caller("police", account)
                raise NotFound("No such claim")
            if claim.case_id is None:
                raise NotFound("No such claim")
            try:
                await self.referrals.require_follower(principal, claim.case_id)
            except NotFound:
                raise NotFound("No such claim") from None
            return Caller("follower", account)
        if (
            claim.case_id is None
            or principal.service_id is not None
            or principal.case_id != claim.case_id
            or principal.role is None
        ):
            raise NotFound("No such claim")
        if principal.role is Role.INSURER:
            return Caller("insurer_party")
        if await self._party_of(principal) == claim.participant_id:
            return Caller("claimant")
        raise NotFound("No such claim")

    async def _party_of(self, principal: Principal) -> str:
        """The party a join link speaks for (an agent: the party they act for)."""
        me = await self.cases.repo.participant(principal.subject_id)
        return me.represents if me.role is Role.AGENT and me.represents else me.id

    async def _claim(self, principal: Principal, claim_id: str) -> tuple[ClaimRecord, Caller]:
        try:
            claim = await self.store.claim(claim_id)
        except NotFound:
            raise NotFound("No such claim") from None
        return claim, await self._caller(principal, claim)

    # ------------------------------------------------------------------ starting a claim

    async def start(
        self, principal: Principal, case_id: str, now: datetime, source: ClaimSource = ClaimSource.AGREEMENT
    ) -> dict[str, Any]:
        """The entitled party starts their claim on the case's insurer: one action, the amounts the source's."""
        access = await self.cases.access(principal, case_id)
        if access.role not in PARTY_ROLES - {Role.INSURER}:
            raise Forbidden("Only a party who receives money under the agreement starts a claim")
        if source is not ClaimSource.AGREEMENT:
            raise InvalidCommand("A claim from a scene finding starts from the scene report (startSceneClaim)")
        loaded = await self.cases.repo.load_case(case_id)
        if loaded.case.state not in SETTLED:
            raise IllegalTransition("start a claim", loaded.case.state.value)
        me = await self.cases.repo.participant(access.participant_id)
        party_id = me.represents if me.role is Role.AGENT and me.represents else me.id
        people = await self.cases.repo.participants(case_id)
        claimant = next(p for p in people if p.id == party_id)
        terms, agreement_id = await self._agreement(case_id)
        insurer, lines = await self._owed(
            terms, claimant.display_name, [p.display_name for p in people if p.role is Role.INSURER]
        )
        amount = Money.from_fen(sum(Money.parse(line["amount"]).fen for line in lines))
        vehicle = Money.from_fen(
            min(
                amount.fen,
                sum(
                    Money.parse(i["amount"]).fen
                    for i in (terms.get("claim") or {}).get("items", [])
                    if ItemKind.parse(i["kind"]) is ItemKind.PROPERTY
                ),
            )
        )
        home = await self.referrals.store.home(case_id)
        region = ""
        if home is not None and home.organisation_id:
            region = (await self.organisations.get(home.organisation_id)).region
        claim_id = new_id()
        due = rules.payment_due(now, self.settings.working_days, self.settings.holidays)
        await self.store.submit(
            {
                "id": claim_id,
                "case_id": case_id,
                "participant_id": claimant.id,
                "insurer_id": insurer.id,
                "source": source.value,
                "source_id": agreement_id,
                "region": region,
                "amount_fen": amount.fen,
                "vehicle_fen": vehicle.fen,
                "lines": json.dumps(lines, ensure_ascii=False),
                "state": ClaimState.SUBMITTED.value,
                "open_key": claimant.id,
                "submitted_at": now,
                "due_on": due.isoformat(),
                "paid_fen": 0,
            },
            principal.actor,
            now,
        )
        logger.info("[case=%s] claim %s submitted on insurer %s", case_id, claim_id, insurer.id)
        return await self._view(await self.store.claim(claim_id), Caller("claimant"), now)

    async def start_from_scene(self, driver: TokenClaims, report_id: str, now: datetime) -> dict[str, Any]:
        """The driver who does not pay starts their claim on the paying driver's insurer from the signed finding:
        one action, the agreed amount (快处快赔 → 一键理赔)."""
        report = await self._scene_report(driver, report_id)
        me = next(d for d in report.drivers if d.id == driver.subject)
        if report.state is not SceneState.SIGNED:
            raise IllegalTransition("start a claim from the scene finding", report.state.value)
        finding = report.finding
        if finding is None or finding.agreed_amount is None or finding.payer is None:
            raise InvalidCommand("The finding names no agreed amount and payer: there is nothing to claim")
        if finding.payer == me.number:
            raise Forbidden("The driver who pays the agreed amount does not claim it")
        record = await self.findings.finding(report_id)
        if record is None or record.signed_sha256 is None:
            raise IllegalTransition("start a claim from the scene finding", "unsigned")
        payer = report.driver(finding.payer)
        insurer = None
        if payer.insurer_organisation_id:
            try:
                insurer = await self.organisations.get(payer.insurer_organisation_id)
            except NotFound:
                insurer = None
        if insurer is None and payer.insurer.strip():
            insurer = await self.organisations.by_name(payer.insurer.strip())
        if insurer is None or insurer.kind is not OrganisationKind.INSURER or insurer.disabled:
            raise InsurerNotOnPlatform("The paying driver's insurer is not an insurer on this platform")
        amount = Money.parse(finding.agreed_amount, "the agreed amount")
        if amount.fen <= 0:
            raise InvalidCommand("The finding's agreed amount is nothing")
        region = ""
        try:
            region = (await self.organisations.get(report.police_unit_id)).region
        except NotFound:
            pass
        lines = [{"payer": insurer.name, "amount": amount.plain(), "due": "", "method": "车辆损失"}]
        claim_id = new_id()
        due = rules.payment_due(now, self.settings.working_days, self.settings.holidays)
        await self.store.submit(
            {
                "id": claim_id,
                "case_id": None,
                "participant_id": None,
                "scene_report_id": report.id,
                "scene_driver_id": me.id,
                "insurer_id": insurer.id,
                "source": ClaimSource.SCENE_FINDING.value,
                "source_id": report.id,
                "region": region,
                "amount_fen": amount.fen,
                "vehicle_fen": amount.fen,
                "lines": json.dumps(lines, ensure_ascii=False),
                "state": ClaimState.SUBMITTED.value,
                "open_key": me.id,
                "submitted_at": now,
                "due_on": due.isoformat(),
                "paid_fen": 0,
            },
            f"driver:{me.id}",
            now,
        )
        logger.info("[scene=%s] claim %s submitted on insurer %s", report.id, claim_id, insurer.id)
        return await self._view(await self.store.claim(claim_id), Caller("claimant"), now)

    async def _scene_report(self, driver: TokenClaims, report_id: str) -> SceneReport:
        """The report of a driver's scene link (NotFound for another report)."""
        if driver.ref != report_id:
            raise NotFound("No such scene report")
        report = (await self.scenes.load(report_id)).report
        if not any(d.id == driver.subject for d in report.drivers):
            raise NotFound("No such scene report")
        return report

    async def scene_claims(self, driver: TokenClaims, report_id: str, now: datetime) -> list[dict[str, Any]]:
        """The driver's own claims from the report."""
        await self._scene_report(driver, report_id)
        c = t.claims.c
        found = await self.store.claims([c.scene_report_id == report_id, c.scene_driver_id == driver.subject])
        return [await self._view(claim, Caller("claimant"), now) for claim in found]

    async def scene_claims_for_officer(
        self, principal: Principal, report_id: str, now: datetime
    ) -> list[dict[str, Any]]:
        """The report's claims, for the officers of its police unit (others: 404; not an officer: 403)."""
        if not principal.is_account or principal.account_kind is not AccountKind.POLICE_OFFICER:
            raise Forbidden("Only the report's police unit reads its claims")
        account = await self.accounts.account(principal.subject_id)
        try:
            report = (await self.scenes.load(report_id)).report
        except NotFound:
            raise NotFound("No such scene report") from None
        if account.organisation_id != report.police_unit_id:
            raise NotFound("No such scene report")
        found = await self.store.claims([t.claims.c.scene_report_id == report_id])
        return [await self._view(claim, Caller("police", account), now) for claim in found]

    async def _scene_claim(self, driver: TokenClaims, report_id: str, claim_id: str) -> ClaimRecord:
        await self._scene_report(driver, report_id)
        try:
            claim = await self.store.claim(claim_id)
        except NotFound:
            raise NotFound("No such claim") from None
        if claim.scene_report_id != report_id or claim.scene_driver_id != driver.subject:
            raise NotFound("No such claim")
        return claim

    async def read_scene_claim(
        self, driver: TokenClaims, report_id: str, claim_id: str, now: datetime
    ) -> dict[str, Any]:
        """One of the driver's claims from the report."""
        return await self._view(await self._scene_claim(driver, report_id, claim_id), Caller("claimant"), now)

    async def choose_scene_shop(
        self, driver: TokenClaims, report_id: str, claim_id: str, shop_id: str, now: datetime
    ) -> dict[str, Any]:
        """The claimant driver chooses one of the insurer's repair shops (定修直赔)."""
        claim = await self._scene_claim(driver, report_id, claim_id)
        await self._choose(claim, f"driver:{driver.subject}", shop_id, now)
        return await self.read_scene_claim(driver, report_id, claim_id, now)

    async def _agreement(self, case_id: str) -> tuple[dict[str, Any], str]:
        """The signed agreement's terms and its signed document's id."""
        docs = await self.cases.repo.documents(case_id)
        drafts = [d for d in docs if d.kind == TERMS_KIND]
        signed = [d for d in docs if d.kind == SIGNING_KIND]
        if not drafts or not signed:
            raise InvalidCommand("The case has no signed agreement")
        versions = [json.loads(await self.cases.blobs.get(d.sha256)) for d in drafts]
        stored = max(versions, key=lambda v: int(v["version"]))
        newest = max(signed, key=lambda d: (d.size, d.created_at))
        terms = stored["terms"]
        assert isinstance(terms, dict)
        return terms, newest.id

    async def _owed(
        self, terms: dict[str, Any], claimant: str, insurers: Sequence[str]
    ) -> tuple[Organisation, list[dict[str, Any]]]:
        """The first of the case's insurers that the agreement obliges to pay the claimant, and those payments.

        An insurer participant is the organisation of its name, or of its name without a qualifier in brackets at
        the end (the police's intake names them ``…（交强险）``)."""
        for name in insurers:
            organisation = await self.organisations.by_name(name) or await self.organisations.by_name(bare_name(name))
            if organisation is None or organisation.kind is not OrganisationKind.INSURER or organisation.disabled:
                continue
            lines = [
                {"payer": o["payer"], "amount": o["amount"], "due": o["due"], "method": o["method"]}
                for o in terms.get("obligations", [])
                if o["payee"] == claimant and o["payer"] == name
            ]
            if lines:
                return organisation, lines
        raise InvalidCommand("The agreement names no payment by the case's insurer to this party")

    # ------------------------------------------------------------------ reading

    async def read(self, principal: Principal, claim_id: str, now: datetime) -> dict[str, Any]:
        """One claim, as the caller may see it."""
        claim, caller = await self._claim(principal, claim_id)
        return await self._view(claim, caller, now)

    async def case_claims(self, principal: Principal, case_id: str, now: datetime) -> list[dict[str, Any]]:
        """The case's claims: a party their own (the insurer participant: all), staff and the court all."""
        if principal.is_account:
            await self.referrals.require_follower(principal, case_id)
            caller = Caller("follower")
            where = [t.claims.c.case_id == case_id]
        else:
            access = await self.cases.access(principal, case_id)
            if access.role not in PARTY_ROLES:
                raise NotFound("No such case")
            where = [t.claims.c.case_id == case_id]
            if access.role is Role.INSURER:
                caller = Caller("insurer_party")
            else:
                caller = Caller("claimant")
                where.append(t.claims.c.participant_id == await self._party_of(principal))
        return [await self._view(c, caller, now) for c in await self.store.claims(where)]

    async def queue(self, principal: Principal, now: datetime) -> list[dict[str, Any]]:
        """The insurer's claims: open ones by deadline first."""
        account = await self._insurer_account(principal)
        kind = "insurer_admin" if account.kind is AccountKind.ORG_ADMIN else "adjuster"
        claims = await self.store.claims([t.claims.c.insurer_id == account.organisation_id])
        return [await self._view(c, Caller(kind, account), now, full=False) for c in claims]

    async def agreement_document(self, principal: Principal, claim_id: str) -> tuple[bytes, str]:
        """The signed agreement a claim rests on (its PDF and title), for the insurer and the claimant."""
        claim, _ = await self._claim(principal, claim_id)
        if claim.scene_report_id is not None:
            record = await self.findings.finding(claim.scene_report_id)
            if record is None or record.signed_sha256 is None:
                raise NotFound("No such document")
            return await self.cases.blobs.get(record.signed_sha256), f"电子事故认定书 {claim.case_number}"
        if claim.case_id is None:
            raise NotFound("No such document")
        doc = next((d for d in await self.cases.repo.documents(claim.case_id) if d.id == claim.source_id), None)
        if doc is None:
            raise NotFound("No such document")
        return await self.cases.blobs.get(doc.sha256), doc.title

    async def _view(self, claim: ClaimRecord, caller: Caller, now: datetime, full: bool = True) -> dict[str, Any]:
        today = rules.beijing_date(now)
        open_ = claim.state in rules.OPEN_STATES
        acting = None
        if claim.authorisation_id and claim.acting_account_id:
            authorisation = await self.store.authorisation(claim.authorisation_id)
            try:
                adjuster = (await self.accounts.account(claim.acting_account_id)).display_name
            except NotFound:
                adjuster = ""
            if authorisation is not None:
                acting = {
                    "adjuster": adjuster,
                    "limit": authorisation.limit.plain(),
                    "regions": list(authorisation.regions),
                    "any_region": authorisation.any_region,
                    "valid_from": authorisation.valid_from.isoformat(),
                    "valid_to": authorisation.valid_to.isoformat(),
                }
        shop = await self.store.shop(claim.repair_shop_id) if claim.repair_shop_id else None
        view: dict[str, Any] = {
            "id": claim.id,
            "case": {"id": claim.case_id or "", "number": claim.case_number},
            "scene_report": {"id": claim.scene_report_id, "number": claim.case_number}
            if claim.scene_report_id
            else None,
            "claimant": {"participant_id": claim.participant_id or "", "name": claim.claimant_name},
            "insurer": {"id": claim.insurer_id, "name": claim.insurer_name},
            "source": claim.source,
            "state": claim.state.value,
            "state_label": rules.STATE_NAMES[claim.state],
            "amount": claim.amount.plain(),
            "paid": claim.paid.plain(),
            "vehicle_damage": claim.vehicle.plain(),
            "lines": claim.lines,
            "submitted_at": claim.submitted_at.isoformat(),
            "due_on": claim.due_on.isoformat(),
            "working_days_left": rules.working_days_left(today, claim.due_on, self.settings.holidays)
            if open_
            else None,
            "overdue": claim.overdue_at is not None,
            "overdue_at": claim.overdue_at.isoformat() if claim.overdue_at else None,
            "paid_at": claim.paid_at.isoformat() if claim.paid_at else None,
            "refused_reason": claim.refused_reason,
            "acting": acting,
            "repair_shop": shop.as_dict() if shop else None,
            "agreement_url": f"/api/v1/claims/{claim.id}/agreement",
            "events": [],
            "payments": [],
            "repair_shops": [],
        }
        if full:
            view["events"] = await self.store.events(claim.id)
            view["payments"] = await self.store.payments(claim.id)
            if caller.kind == "claimant" and open_ and claim.vehicle.fen > 0:
                view["repair_shops"] = [s.as_dict() for s in await self.store.shops(claim.insurer_id)]
        return view

    # ------------------------------------------------------------------ the insurer acts

    async def _acting(
        self, principal: Principal, claim_id: str, action: ClaimAction, now: datetime
    ) -> tuple[ClaimRecord, Account, rules.Authorisation]:
        claim, caller = await self._claim(principal, claim_id)
        if caller.kind != "adjuster" or caller.account is None:
            raise Forbidden("Only the insurer's claims adjusters act on claims")
        rules.check(action, claim.state)
        authorisations = await self.store.authorisations(claim.insurer_id, caller.account.id)
        authorisation = rules.acting_authorisation(
            authorisations, caller.account.id, claim.amount, claim.region, rules.beijing_date(now)
        )
        return claim, caller.account, authorisation

    async def accept(self, principal: Principal, claim_id: str, now: datetime) -> dict[str, Any]:
        """An adjuster accepts the claim under their authorisation."""
        claim, account, authorisation = await self._acting(principal, claim_id, ClaimAction.ACCEPT, now)
        changes = {
            "state": ClaimState.ACCEPTED.value,
            "accepted_at": now,
            "acting_account_id": account.id,
            "authorisation_id": authorisation.id,
        }
        await self.store.change(
            claim, principal.actor, "accepted", changes, {"authorisation_id": authorisation.id}, now
        )
        return await self.read(principal, claim_id, now)

    async def pay(
        self,
        principal: Principal,
        claim_id: str,
        *,
        amount: str,
        reference: str,
        paid_on: date,
        repair_shop_id: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """An adjuster records a payment (to the claimant, or to the repair shop they chose)."""
        claim, account, authorisation = await self._acting(principal, claim_id, ClaimAction.PAY, now)
        money = Money.parse(amount, "the payment")
        state = rules.after_payment(claim.amount, claim.paid, money)
        if paid_on > rules.beijing_date(now) or paid_on < rules.beijing_date(claim.submitted_at):
            raise InvalidCommand("A payment's date lies between the claim's submission and today")
        if repair_shop_id is not None:
            if repair_shop_id != claim.repair_shop_id:
                raise InvalidCommand("A payment to a repair shop goes to the shop the claimant chose")
            if (await self.store.shop_paid(claim.id)).fen + money.fen > claim.vehicle.fen:
                raise InvalidCommand(f"A repair shop is paid at most the vehicle damage ({claim.vehicle})")
        payment_id = new_id()
        changes: dict[str, Any] = {"state": state.value, "paid_fen": claim.paid.fen + money.fen}
        if state is ClaimState.PAID:
            changes["paid_at"] = now
        if claim.accepted_at is None:
            changes.update(accepted_at=now, acting_account_id=account.id, authorisation_id=authorisation.id)
        payment = {
            "id": payment_id,
            "claim_id": claim.id,
            "amount_fen": money.fen,
            "reference": reference,
            "paid_on": paid_on.isoformat(),
            "repair_shop_id": repair_shop_id,
            "account_id": account.id,
            "recorded_at": now,
        }
        details = {
            "payment_id": payment_id,
            "amount": money.plain(),
            "paid_on": paid_on.isoformat(),
            "repair_shop_id": repair_shop_id,
            "authorisation_id": authorisation.id,
        }
        await self.store.change(claim, principal.actor, "paid", changes, details, now, payment=payment)
        return await self.read(principal, claim_id, now)

    async def refuse(self, principal: Principal, claim_id: str, reason: str, now: datetime) -> dict[str, Any]:
        """An adjuster refuses the claim with reasons (the party may then claim again)."""
        claim, _, authorisation = await self._acting(principal, claim_id, ClaimAction.REFUSE, now)
        if claim.paid.fen:
            raise InvalidCommand("A claim partly paid cannot be refused")
        changes = {"state": ClaimState.REFUSED.value, "refused_reason": reason, "open_key": None}
        await self.store.change(claim, principal.actor, "refused", changes, {"authorisation_id": authorisation.id}, now)
        return await self.read(principal, claim_id, now)

    async def choose_shop(self, principal: Principal, claim_id: str, shop_id: str, now: datetime) -> dict[str, Any]:
        """The claimant chooses one of the insurer's repair shops for the vehicle damage (定修直赔)."""
        claim, caller = await self._claim(principal, claim_id)
        if caller.kind != "claimant":
            raise Forbidden("Only the claimant chooses a repair shop")
        await self._choose(claim, principal.actor, shop_id, now)
        return await self.read(principal, claim_id, now)

    async def _choose(self, claim: ClaimRecord, actor: str, shop_id: str, now: datetime) -> None:
        rules.check(ClaimAction.CHOOSE_SHOP, claim.state)
        if claim.vehicle.fen == 0:
            raise InvalidCommand("This claim has no vehicle damage")
        shop = await self.store.shop(shop_id)
        if shop is None or shop.organisation_id != claim.insurer_id:
            raise InvalidCommand("Choose one of the insurer's repair shops")
        await self.store.change(
            claim, actor, "shop_chosen", {"repair_shop_id": shop.id}, {"repair_shop_id": shop.id}, now
        )

    # ------------------------------------------------------------------ the insurer's administrator

    async def authorise(
        self,
        principal: Principal,
        organisation_id: str,
        *,
        account_id: str,
        regions: Sequence[str],
        any_region: bool,
        limit: str,
        valid_from: date,
        valid_to: date,
        document: str,
        now: datetime,
    ) -> dict[str, Any]:
        """The insurer's administrator records an authorisation of one of its adjusters, with the signed PDF."""
        admin = await self._admin(principal, organisation_id)
        try:
            adjuster = await self.accounts.account(account_id)
        except NotFound:
            raise InvalidCommand("No such claims adjuster in this insurer") from None
        if adjuster.organisation_id != organisation_id or adjuster.kind is not AccountKind.CLAIMS_ADJUSTER:
            raise InvalidCommand("No such claims adjuster in this insurer")
        try:
            pdf = base64.b64decode(document, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidCommand("The authorisation document must be base64") from None
        if len(pdf) > MAX_AUTHORISATION_PDF or sniff(pdf) != "application/pdf":
            raise InvalidCommand("The authorisation document must be a PDF of at most 2 MiB")
        authorisation = rules.Authorisation(
            new_id(),
            adjuster.id,
            tuple(sorted(set(regions))),
            any_region,
            Money.parse(limit, "the limit"),
            valid_from,
            valid_to,
        )
        ref = await self.cases.blobs.put(pdf)
        await self.store.add_authorisation(
            {
                "id": authorisation.id,
                "organisation_id": organisation_id,
                "account_id": adjuster.id,
                "regions": json.dumps(list(authorisation.regions), ensure_ascii=False),
                "any_region": any_region,
                "limit_fen": authorisation.limit.fen,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat(),
                "document_sha256": ref.sha256,
                "document_size": ref.size,
                "created_at": now,
                "created_by": admin.id,
            }
        )
        logger.info("authorisation %s of account %s recorded by %s", authorisation.id, adjuster.id, admin.id)
        return _authorisation_view(authorisation, adjuster.display_name, now)

    async def authorisations(self, principal: Principal, organisation_id: str, now: datetime) -> list[dict[str, Any]]:
        """The insurer's authorisations (an adjuster: their own)."""
        account = await self._insurer_account(principal, organisation_id)
        mine = None if account.kind is AccountKind.ORG_ADMIN else account.id
        out = []
        for a in await self.store.authorisations(organisation_id, mine):
            try:
                name = (await self.accounts.account(a.account_id)).display_name
            except NotFound:
                name = ""
            out.append(_authorisation_view(a, name, now))
        return out

    async def _stored(self, organisation_id: str, authorisation_id: str) -> StoredAuthorisation:
        """The insurer's authorisation (another insurer's, or none: NotFound)."""
        stored = await self.store.stored_authorisation(authorisation_id)
        if stored is None or stored.organisation_id != organisation_id:
            raise NotFound("No such authorisation")
        return stored

    async def revoke(
        self, principal: Principal, organisation_id: str, authorisation_id: str, now: datetime
    ) -> dict[str, Any]:
        """The insurer's administrator withdraws an authorisation from ``now`` on: its adjuster's accepting, paying
        and refusing that needed it are refused (``beyond_authorisation``) unless another in force covers them;
        what was paid stays paid. Withdrawing one already withdrawn changes nothing and answers it as it is."""
        admin = await self._admin(principal, organisation_id)
        stored = await self._stored(organisation_id, authorisation_id)
        if await self.store.revoke_authorisation(stored, principal.actor, now):
            logger.info("authorisation %s withdrawn by %s", authorisation_id, admin.id)
        a = (await self._stored(organisation_id, authorisation_id)).authorisation
        try:
            name = (await self.accounts.account(a.account_id)).display_name
        except NotFound:
            name = ""
        return _authorisation_view(a, name, now)

    async def authorisation_document(self, principal: Principal, organisation_id: str, authorisation_id: str) -> bytes:
        """The signed authorisation PDF as stored: for the insurer's administrator and the adjuster it names (another
        adjuster of the insurer: 403). A case's mediator sees on the claim who acts and within what limits, never
        the PDF (an insurer's internal paper)."""
        account = await self._insurer_account(principal, organisation_id)
        stored = await self._stored(organisation_id, authorisation_id)
        if account.kind is not AccountKind.ORG_ADMIN and account.id != stored.authorisation.account_id:
            raise Forbidden("Only the insurer's administrator and the adjuster it names read this authorisation")
        return await self.cases.blobs.get(stored.document_sha256)

    async def add_shop(
        self, principal: Principal, organisation_id: str, *, name: str, address: str, phone: str, now: datetime
    ) -> dict[str, str]:
        """The insurer's administrator adds a repair shop to its list."""
        await self._admin(principal, organisation_id)
        shop = RepairShop(new_id(), organisation_id, name, address, phone)
        await self.store.add_shop(shop, now)
        return shop.as_dict()

    async def shops(self, principal: Principal, organisation_id: str) -> list[dict[str, str]]:
        """The insurer's repair shops, for its staff."""
        await self._insurer_account(principal, organisation_id)
        return [s.as_dict() for s in await self.store.shops(organisation_id)]


def _authorisation_state(a: rules.Authorisation, today: date) -> str:
    """``revoked`` (已撤回), ``expired`` (已过期), ``pending`` (未生效) or ``in_force`` (在效)."""
    if a.revoked:
        return "revoked"
    if today > a.valid_to:
        return "expired"
    return "pending" if today < a.valid_from else "in_force"


def _authorisation_view(a: rules.Authorisation, adjuster: str, now: datetime) -> dict[str, Any]:
    return {
        "id": a.id,
        "account_id": a.account_id,
        "adjuster": adjuster,
        "regions": list(a.regions),
        "any_region": a.any_region,
        "limit": a.limit.plain(),
        "valid_from": a.valid_from.isoformat(),
        "valid_to": a.valid_to.isoformat(),
        "in_force": a.in_force(rules.beijing_date(now)),
        "state": _authorisation_state(a, rules.beijing_date(now)),
    }
