"""A signed scene report that the drivers want mediated becomes a case, the same way as the police's intake.

Who may: each **driver** of the report, with their scene link, once both signed the electronic accident finding
(``signed``; before: 409). A driver asks for mediation of the compensation at an open mediation organisation (the
public ``/apply`` page's list, ``listPublicMediationOrganisations``); the other driver sees that choice on their
phone and agrees by asking at the same organisation (a different choice is the newest proposal: the first waits).
Each request is an event of the report's chain (``scene.mediation_asked``: the driver and the organisation's id):
the requests are read back from the chain, never kept twice.

When both asked at the same organisation, the one call that sees it converts the report:

1. the report moves to ``mediation`` (``scene.mediation_agreed``) with the report's version check: of two final
   requests at the same moment one wins, the other reloads, finds ``mediation`` and answers the report as it is,
   so one case is filed;
2. the case is filed ``referred`` to that organisation with referral kind ``police``
   (:meth:`ReferralService.receive_referral`, the scene report's number where the police case number is kept):
   parties the two drivers (applicant: the smaller liability share, driver 1 when equal; respondent: the other,
   each with name and mobile), each driver's insurer as an insurer participant; the case's documents: the finding
   both signed (``liability_finding``), the scene photos (``photo``, the newest of each slot) and the finding as
   data (``police_intake`` JSON of the intake's shape, the plates and licence numbers in it, for staff only: the
   mediator's calculator reads the shares at ``GET /cases/{id}/intake``);
3. the report records the case (``case_id``; ``scene.case_filed`` with the case's and the drivers' participants'
   ids). A failure while filing puts the report back to ``signed`` (``scene.mediation_failed``): ask again.

Each driver opens their join page from the phone: :meth:`SceneMediation.join_link` issues their participant a
join link (only to that driver's scene link), and the conversion sends each driver the link by SMS.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from server.cases.usecases import CaseService, NewParticipant
from server.domain import lifecycle as lc
from server.domain.audit import AuditEntry
from server.domain.lifecycle import ReferralKind
from server.domain.roles import Role
from server.domain.scene import LIABILITY_NAMES, PHOTO_SLOT_NAMES, SceneReport, SceneState, require_state
from server.domain.time import beijing_time
from server.errors import DeliveryFailed, InvalidCommand, NotFound
from server.identity.access import Authenticator
from server.identity.tokens import TokenClaims
from server.notify import Message, Notifier
from server.organisations.store import OrganisationStore
from server.referrals.usecases import MEDIATION_ORGANISATIONS, ReferralService
from server.scene.finding_store import FindingStore
from server.scene.store import Change, LoadedReport
from server.scene.usecases import SceneService, current_photos
from server.store import schema as t
from server.store.blobs import BlobStore
from server.store.repository import AuditRecord, DocumentRecord

logger = logging.getLogger(__name__)

FINDING_KIND = "police_intake"
"""The kind of the JSON document with the finding as data (the intake's own: ``server.intake.usecases``)."""
ASKING_STATES = frozenset({SceneState.SIGNED, SceneState.MEDIATION, SceneState.CLOSED})
"""The states in which the report's chain may hold the drivers' requests for mediation (asked while signed)."""
STUCK_AFTER = timedelta(minutes=2)
"""How long a conversion may stay half done (``mediation`` with no case) before a driver's request finishes it:
a live one takes seconds."""


class _AlreadyCase(Exception):
    """The report became a case while this request was deciding: answer it as it is."""


@dataclass(frozen=True)
class Asked:
    """The drivers' requests as the chain holds them: per driver number, the organisation asked (newest)."""

    by_driver: dict[int, str]
    case_id: str | None
    participants: dict[int, str]
    """Driver number → their participant on the case, once filed."""


def _asked(entries: list[AuditEntry]) -> Asked:
    by_driver: dict[int, str] = {}
    participants: dict[int, str] = {}
    case_id: str | None = None
    for e in entries:
        details = e.details_dict()
        if e.action == "scene.mediation_asked":
            by_driver[int(details["driver"])] = str(details["organisation_id"])
        elif e.action == "scene.mediation_failed":
            by_driver = {}
        elif e.action == "scene.case_filed":
            case_id = str(details["case_id"])
            participants = {int(k): str(v) for k, v in details["participants"].items()}
    return Asked(by_driver, case_id, participants)


def applicant_of(report: SceneReport) -> int:
    """The driver who applies: the smaller liability share (driver 1 when the shares are equal)."""
    assert report.finding is not None
    shares = report.finding.shares
    return min(sorted(shares), key=lambda n: shares[n])


def finding_data(report: SceneReport) -> dict[str, Any]:
    """The finding as data, in the shape of the police intake's document (``server.intake.document``), plus the
    drivers' licence numbers: what the mediator and the calculator read without anyone typing it in."""
    finding = report.finding
    assert finding is not None
    applicant = applicant_of(report)
    ref = {d.number: f"D{d.number}" for d in report.drivers}
    return {
        "police_case_number": report.number,
        "source": "scene_report",
        "scene_report_id": report.id,
        "accident": {
            "occurred_at": report.occurred_at.isoformat(),
            "place": report.place,
            "summary": finding.facts,
        },
        "parties": [
            {
                "ref": ref[d.number],
                "role": "applicant" if d.number == applicant else "respondent",
                "name": d.name,
                "plate": d.plate,
                "licence_number": d.licence_number,
            }
            for d in report.drivers
        ],
        "vehicles": [
            {"plate": d.plate, "party": ref[d.number], "model": None, "damage": d.damaged_part} for d in report.drivers
        ],
        "insurers": [
            {"name": d.insurer, "policy_number": None, "party": ref[d.number], "cover": "compulsory"}
            for d in report.drivers
        ],
        "liability": {
            "shares": [
                {
                    "party": ref[n],
                    "liability": finding.liabilities[n].value,
                    "liability_name": LIABILITY_NAMES[finding.liabilities[n]],
                    "share_percent": finding.shares[n],
                }
                for n in sorted(finding.shares)
            ],
            "reasons": finding.reasons,
            "finding_number": report.number,
            "agreed_amount": None if finding.agreed_amount is None else f"{finding.agreed_amount:.2f}",
            "payer": None if finding.payer is None else ref[finding.payer],
        },
    }


class SceneMediation:
    """The drivers ask for mediation; the report becomes a case."""

    def __init__(
        self,
        scenes: SceneService,
        referrals: ReferralService,
        organisations: OrganisationStore,
        findings: FindingStore,
        blobs: BlobStore,
        auth: Authenticator,
        notifier: Notifier,
        base_url: str,
    ) -> None:
        self.scenes = scenes
        self.referrals = referrals
        self.cases: CaseService = referrals.cases
        self.organisations = organisations
        self.findings = findings
        self.blobs = blobs
        self.auth = auth
        self.notifier = notifier
        self.base_url = base_url.rstrip("/")

    async def _asked(self, report_id: str) -> Asked:
        return _asked(await self.scenes.store.events(report_id))

    async def _open_organisation(self, organisation_id: str) -> str:
        try:
            organisation = await self.organisations.get(organisation_id)
        except NotFound:
            raise InvalidCommand("No such mediation organisation") from None
        if organisation.kind not in MEDIATION_ORGANISATIONS or organisation.disabled:
            raise InvalidCommand("Choose a mediation organisation that is open")
        return organisation.name

    # ------------------------------------------------------------------ what the phone shows

    async def read_as_driver(self, claims: TokenClaims, report_id: str, now: datetime) -> dict[str, Any]:
        """The driver's view of the report with its mediation part (finishing a conversion a crash left half done:
        :meth:`_mend`)."""
        report = await self.scenes.load(report_id)
        number = self.scenes._number_of(report, claims.subject)
        return await self._view(await self._mend(report, now), number)

    async def _view(self, report: SceneReport, number: int) -> dict[str, Any]:
        view = self.scenes.driver_view(report, number)
        # requests exist only once both signed: the phones' 3 s poll at the scene does not read the chain for them
        asked = await self._asked(report.id) if report.state in ASKING_STATES else Asked({}, None, {})
        names: dict[str, str] = {}
        for organisation_id in set(asked.by_driver.values()):
            try:
                names[organisation_id] = (await self.organisations.get(organisation_id)).name
            except NotFound:  # pragma: no cover - organisations are never deleted
                names[organisation_id] = ""
        case: dict[str, Any] | None = None
        if report.case_id is not None:
            loaded = await self.cases.repo.load_case(report.case_id)
            case = {"id": loaded.case.id, "number": loaded.case.number, "title": loaded.case.title}
        view["mediation"] = {
            "may_ask": report.state is SceneState.SIGNED,
            "asked": [
                {"driver": n, "organisation": {"id": o, "name": names.get(o, "")}}
                for n, o in sorted(asked.by_driver.items())
            ],
            "case": case,
        }
        return view

    # ------------------------------------------------------------------ asking

    async def ask(self, claims: TokenClaims, report_id: str, organisation_id: str, now: datetime) -> dict[str, Any]:
        """A driver asks for mediation at ``organisation_id``; when both asked there, the report becomes a case."""
        report = await self.scenes.load(report_id)
        self.scenes._number_of(report, claims.subject)
        if report.state is not SceneState.MEDIATION:
            require_state(report, "ask for mediation", SceneState.SIGNED)
        await self._open_organisation(organisation_id)
        converting = False

        async def decide(loaded: LoadedReport) -> Change:
            nonlocal converting
            report = loaded.report
            number = self.scenes._number_of(report, claims.subject)
            if report.state is SceneState.MEDIATION:
                raise _AlreadyCase
            require_state(report, "ask for mediation", SceneState.SIGNED)
            asked = await self._asked(report_id)
            mine = AuditRecord(
                f"driver:{claims.subject}",
                "scene.mediation_asked",
                {"driver": number, "organisation_id": organisation_id},
            )
            others = {n: o for n, o in asked.by_driver.items() if n != number}
            both = len(others) == len(report.drivers) - 1 and all(o == organisation_id for o in others.values())
            converting = both
            if not both:
                return Change(events=[mine])
            agreed = AuditRecord("system", "scene.mediation_agreed", {"organisation_id": organisation_id})
            return Change(report={"state": SceneState.MEDIATION.value}, events=[mine, agreed])

        try:
            report = await self.scenes._write(report_id, decide, now)
        except _AlreadyCase:
            report = await self._mend(await self.scenes.load(report_id), now)
        else:
            if converting:
                report = await self._convert(report, organisation_id, now)
        return await self._view(report, self.scenes._number_of(report, claims.subject))

    async def _mend(self, report: SceneReport, now: datetime) -> SceneReport:
        """Finish a conversion that a crash left half done: the report is ``mediation`` with no case, and nothing
        has happened to it for :data:`STUCK_AFTER`. One request claims the mending (a ``scene.mediation_resumed``
        event under the report's version check); it records the case if one was filed for the report (its number
        is the case's police case number at the agreed organisation), or files it."""
        if report.state is not SceneState.MEDIATION or report.case_id is not None:
            return report
        entries = await self.scenes.store.events(report.id)
        agreed = [e for e in entries if e.action in ("scene.mediation_agreed", "scene.mediation_resumed")]
        if not agreed or now - datetime.fromisoformat(agreed[-1].at) < STUCK_AFTER:
            return report
        organisation_id = str(agreed[-1].details_dict()["organisation_id"])

        def resume(loaded: LoadedReport) -> Change:
            if loaded.report.case_id is not None or loaded.report.version != report.version:
                raise _AlreadyCase
            return Change(
                events=[AuditRecord("system", "scene.mediation_resumed", {"organisation_id": organisation_id})]
            )

        try:
            report = await self.scenes._write(report.id, resume, now)
        except _AlreadyCase:
            return await self.scenes.load(report.id)
        logger.warning("[scene=%s] resuming a conversion left half done", report.id)
        c = t.cases
        found = await self.referrals.store.cases(
            [
                c.c.referral_kind == ReferralKind.POLICE.value,
                c.c.court_case_number == report.number,
                c.c.organisation_id == organisation_id,
            ],
            limit=1,
        )
        if not found:
            return await self._convert(report, organisation_id, now)
        case_id = found[0].id
        return await self._record_case(report, case_id, await self._drivers_on(case_id, report), now)

    async def _convert(self, report: SceneReport, organisation_id: str, now: datetime) -> SceneReport:
        try:
            case_id, participants = await self._file(report, organisation_id, now)
        except Exception:
            logger.warning("[scene=%s] filing its case failed: back to signed", report.id)

            def undo(loaded: LoadedReport) -> Change:
                return Change(
                    report={"state": SceneState.SIGNED.value},
                    events=[AuditRecord("system", "scene.mediation_failed", {"organisation_id": organisation_id})],
                )

            await self.scenes._write(report.id, undo, now)
            raise

        logger.info("[scene=%s] became case %s", report.id, case_id)
        return await self._record_case(report, case_id, participants, now)

    async def _record_case(
        self, report: SceneReport, case_id: str, participants: dict[int, str], now: datetime
    ) -> SceneReport:
        """The report records the case it became (``scene.case_filed``), then each driver gets their link."""

        def filed(loaded: LoadedReport) -> Change:
            details = {"case_id": case_id, "participants": {str(k): v for k, v in sorted(participants.items())}}
            return Change(report={"case_id": case_id}, events=[AuditRecord("system", "scene.case_filed", details)])

        report = await self.scenes._write(report.id, filed, now)
        await self._send_links(report, case_id, participants, now)
        return report

    async def _drivers_on(self, case_id: str, report: SceneReport) -> dict[int, str]:
        """Driver number → their participant on the case (the applicant the smaller share, as filed)."""
        by_role = {p.role: p.id for p in await self.cases.repo.participants(case_id)}
        applicant = applicant_of(report)
        return {d.number: by_role[Role.APPLICANT if d.number == applicant else Role.RESPONDENT] for d in report.drivers}

    async def _file(self, report: SceneReport, organisation_id: str, now: datetime) -> tuple[str, dict[int, str]]:
        """File the case with its parties and insurers, then keep its documents: the case's id and each driver's
        participant id."""
        actor = f"scene:{report.id}"
        applicant = applicant_of(report)
        ordered = sorted(report.drivers, key=lambda d: d.number != applicant)
        people = [
            NewParticipant(Role.APPLICANT if d.number == applicant else Role.RESPONDENT, d.name, phone=d.phone)
            for d in ordered
        ]
        # the insurer by its own name (a claim finds the insurer's organisation by it), once even if it insures both
        people += [
            NewParticipant(Role.INSURER, name) for name in dict.fromkeys(d.insurer for d in ordered if d.insurer)
        ]
        title = f"{ordered[0].name}与{ordered[1].name}道路交通事故损害赔偿纠纷"[:200]
        referral = lc.Referral(ReferralKind.POLICE, organisation_id, now, court_case_number=report.number)
        documents = await self._documents(report, actor, now)
        case = await self.referrals.receive_referral(
            actor, referral, kind="traffic_accident", title=title, parties=people, now=now
        )
        case_id = str(case["id"])
        for doc in documents:
            await self.cases.record_document(case_id, replace(doc, case_id=case_id), actor, tries=5)
        return case_id, await self._drivers_on(case_id, report)

    async def _documents(self, report: SceneReport, actor: str, now: datetime) -> list[DocumentRecord]:
        """The signed finding, the photos and the finding as data, kept in the blob store before the case."""
        out: list[DocumentRecord] = []
        record = await self.findings.finding(report.id)
        if record is None or record.signed_sha256 is None:
            raise InvalidCommand("The signed accident finding is missing")
        pdf = await self.blobs.get(record.signed_sha256)
        out.append(
            await self.cases.platform_document(
                "",
                pdf,
                kind="liability_finding",
                title=f"电子事故认定书（{report.number}，双方已签字）",
                media_type="application/pdf",
                visibility="parties",
                now=now,
                actor=actor,
            )
        )
        for (driver, slot), photo in sorted(current_photos(report).items()):
            out.append(
                await self.cases.platform_document(
                    "",
                    await self.blobs.get(photo.sha256),
                    kind="photo",
                    title=f"现场照片：{PHOTO_SLOT_NAMES[slot]}（驾驶人{driver}）",
                    media_type=photo.media_type,
                    visibility="parties",
                    now=now,
                    actor=actor,
                )
            )
        data = json.dumps(finding_data(report), ensure_ascii=False, sort_keys=True)
        out.append(
            await self.cases.platform_document(
                "",
                data.encode(),
                kind=FINDING_KIND,
                title="快处快赔事故认定信息",
                media_type="application/json",
                visibility="staff",
                now=now,
                actor=actor,
            )
        )
        return out

    # ------------------------------------------------------------------ the drivers' way in

    async def _participant(self, claims: TokenClaims, report_id: str) -> tuple[SceneReport, str]:
        report = await self.scenes.load(report_id)
        number = self.scenes._number_of(report, claims.subject)
        require_state(report, "open the case", SceneState.MEDIATION)
        asked = await self._asked(report_id)
        if report.case_id is None or number not in asked.participants:
            raise InvalidCommand("The case is being filed: try again in a moment")
        return report, asked.participants[number]

    async def join_link(self, claims: TokenClaims, report_id: str, now: datetime) -> dict[str, Any]:
        """A join link to the case for the driver's participant (only to that driver's scene link)."""
        report, participant_id = await self._participant(claims, report_id)
        participant = await self.cases.repo.participant(participant_id)
        issued = await self.auth.issue_join_link(participant, now)
        return {
            "case_id": report.case_id,
            "url": f"{self.base_url}/join#token={issued.token}",
            "expires_at": issued.expires_at.isoformat(),
        }

    async def _send_links(self, report: SceneReport, case_id: str, participants: dict[int, str], now: datetime) -> None:
        """Each driver's join link by SMS (recorded on the case as an invitation; a refused message is recorded,
        the conversion stands)."""
        loaded = await self.cases.repo.load_case(case_id)
        case = loaded.case
        for participant_id in (participants[n] for n in sorted(participants)):
            participant = await self.cases.repo.participant(participant_id)
            if not participant.phone:
                continue
            issued = await self.auth.issue_join_link(participant, now)
            text = (
                f"{participant.display_name}您好：您在{report.number}号快处快赔事故中申请的调解已立案"
                f"（{case.number}号案件），调解员将与您联系。用手机浏览器打开下面的链接查看案件：\n"
                f"{self.base_url}/join#token={issued.token}\n"
                f"链接有效期至 {beijing_time(issued.expires_at)}，仅供您本人使用，请勿转发。"
            )
            message = Message("sms", participant.phone, f"案件 {case.number} 调解", text, now, kind="invitation")
            details: dict[str, Any] = {"participant_id": participant_id, "channel": "sms"}
            try:
                delivery = await self.notifier.send(message)
                details["accepted"] = delivery.accepted
            except DeliveryFailed:
                details["accepted"] = False
            await self.cases.repo.record(case_id, [AuditRecord("system", "participant.invited", details)], now)
