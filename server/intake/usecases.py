"""Cases from the traffic police's systems: a signed intake document files one case per police case number.

Who may: a **police agency's system**, holding an intake key of the agency (an organisation of kind ``police``,
open). Nobody else: a bearer token means nothing here. Each request is authenticated on its own
(:meth:`IntakeService.authenticate`: the key, its HMAC signature over the request, a timestamp within five
minutes, a nonce never seen before on any node), then the document (already strict-validated at the edge)
files a case (:meth:`IntakeService.receive`):

- the agency's police case number is claimed first (``police_intakes``, unique per agency): of two requests at
  the same moment one claims and files, the other waits for the case and answers it; the same number with the
  same document (its canonical SHA-256) answers the case again (200), with another document 409
  ``intake_conflict``;
- the case arrives ``referred`` in the mediation organisation's queue (kind ``traffic_accident``, referral
  ``police``, the police case number where a court's case number is kept), its parties with their contacts
  and the insurers as participants, the attachments as the case's documents, the liability finding as a JSON
  document and as data (``police_intakes.document``, :meth:`IntakeService.finding`);
- no link is sent: the mediator invites the parties from the console, as for any referred case.

Keys are made and revoked by the command line (``mediation intake-key``), never over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from server.cases.usecases import CaseService, NewParticipant
from server.domain import lifecycle as lc
from server.domain.lifecycle import ReferralKind
from server.domain.organisations import OrganisationKind
from server.domain.roles import Action, Role
from server.errors import (
    IntakeBadSignature,
    IntakeConflict,
    IntakeUnknownKey,
    IntakeUnsigned,
    InvalidCommand,
    NotFound,
    ReplayedRequest,
    ServiceUnavailable,
    StaleRequest,
)
from server.identity.access import Principal, new_id
from server.intake import keys as k
from server.intake.document import IntakeDocument, canonical, decode, fingerprint
from server.intake.store import IntakeKey, IntakeStore
from server.organisations.store import OrganisationStore
from server.referrals.usecases import MEDIATION_ORGANISATIONS, ReferralService

logger = logging.getLogger(__name__)

FINDING_KIND = "police_intake"
"""The kind of the JSON document that keeps the intake's liability finding, vehicles and insurers on the case
(the platform's own kind: nobody uploads one)."""
CLAIM_WAIT = timedelta(seconds=20)
"""How long a request waits for another that claimed the same number to file its case."""
DEAD_CLAIM = timedelta(minutes=2)
"""A claim this old without its case is a request that died while filing: the number may be claimed again."""
COVER_NAMES = {"compulsory": "交强险", "commercial": "商业险"}
NO_LINKS = "No links were sent: the mediator invites the parties from the console (调解员从工作台邀请当事人)."


class AgencyKeys:
    """Police agencies' intake keys, as the command line makes, lists and revokes them."""

    def __init__(self, organisations: OrganisationStore, store: IntakeStore, intake_key: bytes) -> None:
        self.organisations = organisations
        self.store = store
        self.intake_key = intake_key

    async def create_key(self, organisation_id: str, now: datetime) -> tuple[str, str]:
        """A new key of a police agency: its id and its secret (hex), shown once. InvalidCommand when the agency
        is not an open police organisation or already holds :data:`~server.intake.keys.MAX_ACTIVE` keys."""
        try:
            agency = await self.organisations.get(organisation_id)
        except NotFound:
            raise InvalidCommand("No such organisation") from None
        if agency.kind is not OrganisationKind.POLICE or agency.disabled:
            raise InvalidCommand("Intake keys are for open police organisations (公安交管部门)")
        key_id = k.new_key_id()
        if not await self.store.add_key(IntakeKey(key_id, organisation_id, now, None), k.MAX_ACTIVE):
            raise InvalidCommand(f"The agency already holds {k.MAX_ACTIVE} active keys: revoke one first")
        logger.info("intake key %s created for organisation %s", key_id, organisation_id)
        return key_id, k.key_secret(self.intake_key, key_id).hex()

    async def revoke_key(self, key_id: str, now: datetime) -> None:
        """Revoke a key: it never signs again. NotFound when there is no such active key."""
        if not await self.store.revoke_key(key_id, now):
            raise NotFound("No such active intake key")
        logger.info("intake key %s revoked", key_id)

    async def keys(self, organisation_id: str) -> list[IntakeKey]:
        """An agency's keys, revoked ones included, the oldest first."""
        return await self.store.keys(organisation_id)


class IntakeService:
    """The intake API's use-cases."""

    def __init__(
        self,
        referrals: ReferralService,
        organisations: OrganisationStore,
        store: IntakeStore,
        intake_key: bytes,
    ) -> None:
        self.referrals = referrals
        self.cases: CaseService = referrals.cases
        self.organisations = organisations
        self.store = store
        self.intake_key = intake_key
        self.poll = 0.05
        """Seconds between two looks at a number another request is filing."""

    # ------------------------------------------------------------------ who is asking

    async def signer(self, headers: Mapping[str, str]) -> IntakeKey:
        """The active key a request names, read before its body (so an unsigned request or an unknown key is
        refused without reading up to :data:`~server.intake.document.MAX_BODY` bytes); else 401 with its code."""
        key_id = headers.get(k.KEY_HEADER, "")
        stamp = headers.get(k.TIMESTAMP_HEADER, "")
        nonce = headers.get(k.NONCE_HEADER, "")
        given = headers.get(k.SIGNATURE_HEADER, "")
        if not (
            k.KEY_ID.match(key_id) and k.TIMESTAMP.match(stamp) and k.NONCE.match(nonce) and k.SIGNATURE.match(given)
        ):
            raise IntakeUnsigned(
                f"Sign the request: {k.KEY_HEADER}, {k.TIMESTAMP_HEADER}, {k.NONCE_HEADER} (16-64 of A-Za-z0-9_-) "
                f"and {k.SIGNATURE_HEADER} (hex HMAC-SHA256)"
            )
        key = await self.store.key(key_id)
        if key is None or key.revoked_at is not None:
            raise IntakeUnknownKey("Unknown or revoked intake key")
        return key

    async def authenticate(
        self, key: IntakeKey, method: str, path: str, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> None:
        """Whether ``key`` signed this very request, now, for the first time; else 401 with its code."""
        stamp = headers[k.TIMESTAMP_HEADER]
        nonce = headers[k.NONCE_HEADER]
        given = headers[k.SIGNATURE_HEADER]
        secret = k.key_secret(self.intake_key, key.id)
        if not k.signature_matches(secret, method, path, stamp, nonce, body, given):
            raise IntakeBadSignature("The signature does not match the request")
        if abs(int(stamp) - now.timestamp()) > k.MAX_SKEW_SECONDS:
            raise StaleRequest(f"The timestamp is more than {k.MAX_SKEW_SECONDS} seconds from the server's clock")
        agency = await self.organisations.get(key.organisation_id)
        if agency.disabled:
            raise IntakeUnknownKey("Unknown or revoked intake key")
        if not await self.store.first_use(key.id, nonce, now, timedelta(seconds=k.NONCE_KEEP_SECONDS)):
            raise ReplayedRequest("This nonce was used before: a replayed request")

    # ------------------------------------------------------------------ the document

    async def receive(self, key: IntakeKey, doc: IntakeDocument, now: datetime) -> tuple[int, dict[str, Any]]:
        """File the document's case (201), or answer the case its number filed before (200)."""
        data = canonical(doc)
        fp = fingerprint(data)
        agency, number = key.organisation_id, doc.police_case_number
        await self._open_mediation_organisation(doc.mediation_organisation_id)
        deadline = asyncio.get_running_loop().time() + CLAIM_WAIT.total_seconds()
        while True:
            found = await self.store.intake(agency, number)
            if found is not None:
                if found.fingerprint != fp:
                    raise IntakeConflict("This police case number filed a case with another document")
                if found.case_id is not None:
                    return 200, await self._answer(found.case_id, number, created=False)
                if found.received_at < now - DEAD_CLAIM:
                    await self.store.release(found.id, older_than=now - DEAD_CLAIM)
                elif asyncio.get_running_loop().time() > deadline:
                    raise ServiceUnavailable("This police case number is being filed: send it again shortly")
                else:
                    await asyncio.sleep(self.poll)
                continue
            intake_id = new_id()
            document = json.dumps(data, ensure_ascii=False, sort_keys=True)
            if await self.store.claim(intake_id, agency, number, fp, document, key.id, now):
                case_id = await self._file(intake_id, key, doc, data, now)
                return 201, await self._answer(case_id, number, created=True)

    async def destination_errors(self, doc: IntakeDocument) -> list[dict[str, str]]:
        """Where the document would go, if that is wrong: in the problem's ``errors`` shape (empty when it is an
        open mediation organisation)."""
        try:
            await self._open_mediation_organisation(doc.mediation_organisation_id)
        except InvalidCommand as exc:
            return [{"field": "mediation_organisation_id", "message": str(exc), "type": "not_open_mediation"}]
        return []

    async def _open_mediation_organisation(self, organisation_id: str) -> None:
        try:
            organisation = await self.organisations.get(organisation_id)
        except NotFound:
            raise InvalidCommand("No such mediation organisation") from None
        if organisation.kind not in MEDIATION_ORGANISATIONS or organisation.disabled:
            raise InvalidCommand("Cases go to a mediation organisation that is open")

    async def _file(
        self, intake_id: str, key: IntakeKey, doc: IntakeDocument, data: dict[str, Any], now: datetime
    ) -> str:
        actor = f"intake:{key.id}"
        blobs = []
        try:
            for attachment in doc.attachments:  # content-addressed: kept before the case, harmless if it fails
                blobs.append(
                    await self.cases.platform_document(
                        "",
                        decode(attachment.content),
                        kind=attachment.kind,
                        title=attachment.title,
                        media_type=attachment.media_type,
                        visibility="parties",
                        now=now,
                        actor=actor,
                    )
                )
            finding = json.dumps({"police_case_number": doc.police_case_number, **_finding(data)}, ensure_ascii=False)
            blobs.append(
                await self.cases.platform_document(
                    "",
                    finding.encode(),
                    kind=FINDING_KIND,
                    title="公安交管部门移送的事故认定信息",
                    media_type="application/json",
                    visibility="parties",
                    now=now,
                    actor=actor,
                )
            )
            referral = lc.Referral(
                ReferralKind.POLICE, doc.mediation_organisation_id, now, court_case_number=doc.police_case_number
            )
            case = await self.referrals.receive_referral(
                actor, referral, kind="traffic_accident", title=_title(doc), parties=_people(doc), now=now
            )
        except Exception:
            await self.store.release(intake_id)  # nothing was filed: the number may be sent again
            raise
        case_id = str(case["id"])
        await self.store.filed(intake_id, case_id)
        for blob in blobs:
            await self.cases.record_document(case_id, replace(blob, case_id=case_id), actor, tries=5)
        logger.info("[case=%s] filed by intake key %s (%d documents)", case_id, key.id, len(blobs))
        return case_id

    async def _answer(self, case_id: str, number: str, *, created: bool) -> dict[str, Any]:
        loaded = await self.cases.repo.load_case(case_id)
        organisation_id = loaded.case.referral.organisation_id if loaded.case.referral else ""
        organisation = await self.organisations.get(organisation_id)
        return {
            "case": {
                "id": loaded.case.id,
                "number": loaded.case.number,
                "state": loaded.case.state.value,
                "organisation": {"id": organisation.id, "name": organisation.name},
            },
            "police_case_number": number,
            "created": created,
            "invitations": NO_LINKS,
        }

    # ------------------------------------------------------------------ reading it later

    async def finding(self, principal: Principal, case_id: str) -> dict[str, Any]:
        """The liability finding, vehicles and insurers the police's system sent, for the case's staff (the
        mediator's calculator reads the shares here)."""
        await self.cases.require(principal, case_id, Action.READ_ALL_DOCUMENTS)
        data = await self._stored(case_id)
        if data is None:
            raise NotFound("This case was not sent by a police agency's system")
        return {"case_id": case_id, "police_case_number": data["police_case_number"], **_finding(data)}

    async def _stored(self, case_id: str) -> dict[str, Any] | None:
        text = await self.store.document_of_case(case_id)
        if text is None:  # a scene report become a case (server.scene.mediation) keeps its finding as this document
            made = [d for d in await self.cases.repo.documents(case_id) if d.kind == FINDING_KIND]
            if made:
                text = (await self.cases.blobs.get(made[0].sha256)).decode()
        return None if text is None else dict(json.loads(text))

    async def spoken_words(self, case_id: str) -> list[str]:
        """Words the parties will say that the police's finding holds (the live transcript leans towards them;
        the server's own use: no caller, never shown): names, plates, insurers and the place's roads."""
        data = await self._stored(case_id)
        if data is None:
            return []
        words = [p["name"] for p in data["parties"]] + [p["plate"] for p in data["parties"] if p.get("plate")]
        words += [v["plate"] for v in data.get("vehicles", [])] + [i["name"] for i in data.get("insurers", [])]
        # the place's parts: 上海市静安区中山北路与建设路交叉口 → 上海市, 静安区, 中山北路, 建设路
        return words + [
            w for w in re.split(r"[，,、；;。\s]|与|和|及|交叉口|(?<=[省市区县镇])", data["accident"]["place"]) if w
        ]


def _finding(data: dict[str, Any]) -> dict[str, Any]:
    """The parts of a canonical document the later stages read: who is who (by ref and role, no contacts), the
    accident, vehicles, insurers and the liability finding."""
    return {
        "accident": data["accident"],
        "parties": [
            {"ref": p["ref"], "role": p["role"], "name": p["name"], "plate": p["plate"]} for p in data["parties"]
        ],
        "vehicles": data["vehicles"],
        "insurers": data["insurers"],
        "liability": data["liability"],
    }


def _title(doc: IntakeDocument) -> str:
    applicants = "、".join(p.name for p in doc.parties if p.role == "applicant")
    respondents = "、".join(p.name for p in doc.parties if p.role == "respondent")
    return f"{applicants}与{respondents}道路交通事故损害赔偿纠纷"[:200]


def _people(doc: IntakeDocument) -> list[NewParticipant]:
    parties = [
        NewParticipant(Role(p.role), p.name, phone=p.mobile, email=p.email, id_number=p.id_number) for p in doc.parties
    ]
    insurers = [NewParticipant(Role.INSURER, f"{i.name}（{COVER_NAMES[i.cover]}）") for i in doc.insurers]
    return parties + insurers
