"""The route × role matrix: every operation of ``openapi.json`` called as every kind of caller.

One server, one case taken all the way to a judge (signed, served, applied for confirmation and
taken by a judge of the court), then each operation is called, in the document's order, as each
of twelve callers: nobody, a service link, a party of another case, another mediator, a judge of
another court, the administrator of the court that holds the case, another organisation's
administrator, the court's clerk, both parties, the mediator and the judge on the case. The expected status of every
cell is data (:data:`MATRIX`); an operation without a row fails the test, so a new endpoint must
say who may call it. Across all cells: no 5xx, and no leak — a caller outside the case never gets
a 2xx that carries the case or its people, and a party never sees the other party's contacts.

The calls run in a fixed order on a fixed clock, so even the cells that depend on the case's state
are exact; a few where another rule decides (code throttles, the recording) accept a small set.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from server.domain.roles import AccountKind
from server.scene.endpoints import SCENES
from tests.builders import (
    CLAIM,
    COURT,
    SERVICE_APPLICANT,
    SERVICE_RESPONDENT,
    TERMS,
    account,
    judge_of,
    mark,
    scene_photo,
    scene_world,
    served_case,
    staff_of,
)
from tests.conftest import Api
from tests.pdfs import require_pdf_tools

require_pdf_tools()  # skips the module without poppler-utils, OpenSSL or the CJK fonts (fails in CI)
pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

OUTSIDERS = (
    "anonymous",
    "service_link",
    "other_party",
    "other_mediator",
    "other_judge",
    "org_admin",
    "other_admin",
    "clerk",
    "police_officer",
    "claims_adjuster",
    "appraiser",
    "fund_officer",
    "bureau_officer",
    "scene_driver",
)
"""Callers who hold no role on the case (the administrator of the case's organisation and the court's clerk
included: the organisation holds the case, but only those on it see it)."""
ROLES = (*OUTSIDERS, "applicant", "respondent", "mediator", "judge")
"""Every caller, in the order each operation is tried (the judge last: the ruling moves the case)."""
FRONT_STAFF = {
    "police_officer": (AccountKind.POLICE_OFFICER, "示范区公安局交通警察大队", "冯警官"),
    "claims_adjuster": (AccountKind.CLAIMS_ADJUSTER, "丙财产保险公司示范区支公司", "陈理赔员"),
    "appraiser": (AccountKind.APPRAISER, "示范司法鉴定所", "褚鉴定人"),
    "fund_officer": (AccountKind.FUND_OFFICER, "示范区道路交通事故社会救助基金", "卫经办人"),
    "bureau_officer": (AccountKind.BUREAU_OFFICER, "示范区司法局", "蒋科员"),
}
"""The staff of the traffic-accident front (issue 15), each in an organisation of their own kind. A row that does
not name them expects of them what it expects of another organisation's administrator (they are outside the case
and its organisation)."""

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
Cell = int | frozenset[int]


@dataclass(frozen=True)
class Call:
    """How an operation is called: a JSON body, a raw body, a query, path values other than the usual."""

    json: Any = None
    raw: tuple[str, bytes] | None = None
    query: str = ""
    path: dict[str, str] = field(default_factory=dict)
    body: Callable[[dict[str, Any]], Any] | None = None
    """A JSON body that needs the case's ids."""


@dataclass(frozen=True)
class Row:
    call: Call
    expect: dict[str, Cell]
    sees_case: frozenset[str] = frozenset()
    """Outsiders who may learn of the case here by design: its organisation's administrator on the desk that
    tracks the organisation's cases, its mediators on the organisation's queue (no case markers checked, no probe)."""


def on_case(
    call: Call = Call(),  # noqa: B008 - frozen, never changed
    *,
    parties: Cell = 403,
    applicant: Cell | None = None,
    respondent: Cell | None = None,
    mediator: Cell = 403,
    judge: Cell = 403,
) -> Row:
    """A case operation: callers outside the case get 401 (no account or case token) or 404 (cannot probe)."""
    return Row(
        call,
        {
            "anonymous": 401,
            "service_link": 401,
            "other_party": 404,
            "other_mediator": 404,
            "other_judge": 404,
            "org_admin": 404,
            "other_admin": 404,
            "clerk": 404,
            "applicant": parties if applicant is None else applicant,
            "respondent": parties if respondent is None else respondent,
            "mediator": mediator,
            "judge": judge,
        },
    )


def everyone(status: Cell, call: Call = Call(), **overrides: Cell) -> Row:  # noqa: B008
    """``status`` for every caller unless overridden (a scene link: what nobody gets, unless overridden)."""
    return Row(
        call, {role: overrides.get(role, status) for role in ROLES if role != "scene_driver" or role in overrides}
    )


def accounts(call: Call = Call(), **cells: Cell) -> Row:  # noqa: B008
    """An operation of no case: 401 without an account or case token, then per caller."""
    return Row(call, {"anonymous": 401, "service_link": 401, **cells})


def signed_in(status: Cell, call: Call = Call(), **overrides: Cell) -> Row:  # noqa: B008
    """An operation of no case that every holder of a login or a case link may call: ``status`` for each of them
    unless overridden."""
    return accounts(
        call,
        **{
            role: overrides.get(role, status)
            for role in ROLES
            if role not in ("anonymous", "service_link", "scene_driver") or role in overrides
        },
    )


APPRAISAL_START = 409
"""The matrix's case was confirmed by the court (an end state) before the appraisal rows: no appraisal starts on it
(the other appraisal rows use an id no appraisal has)."""
PARTIES = {"other_party": 403, "applicant": 403, "respondent": 403}
"""Parties (case links) refused an operation meant for staff accounts."""
FRONT = dict.fromkeys(("police_officer", "claims_adjuster", "appraiser", "fund_officer", "bureau_officer"), 403)
"""The front's staff refused an operation meant for the staff of courts and mediation organisations."""


def served(status: int = 200, call: Call = Call()) -> Row:  # noqa: B008
    """Only a service link opens what was served on its recipient."""
    return everyone(401, call, service_link=status)


def judges_only(call: Call, judge: Cell) -> Row:
    """A court operation on a case: 403 for every account that is not a judge, 404 for a judge of another court."""
    row = on_case(call, judge=judge)
    return Row(
        call,
        {**row.expect, "other_party": 403, "other_mediator": 403, "org_admin": 403, "other_admin": 403, "clerk": 403},
    )


def org_admins(status: int, call: Call = Call()) -> Row:  # noqa: B008
    """An operation on the case's organisation's accounts: its administrator only; 404 for other organisations."""
    return accounts(
        call,
        other_party=403,
        other_mediator=403,  # a mediator of the same court: inside, not an administrator
        other_judge=404,
        org_admin=status,
        other_admin=404,
        clerk=403,
        applicant=403,
        respondent=403,
        mediator=403,
        judge=403,
    )


def desk(call: Call = Call(), **cells: Cell) -> Row:  # noqa: B008
    """An action on a case at the organisation's desk: its members are inside (403 unless ``cells`` say
    otherwise), other organisations' staff get 404, parties 403; its members may learn the case exists."""
    members = {"other_mediator": 403, "clerk": 403, "org_admin": 403, "mediator": 403, "judge": 403}
    return Row(
        call, {**on_case().expect, **PARTIES, **members, **cells}, sees_case=frozenset(members) - {"mediator", "judge"}
    )


def insurer_org(call: Call = Call()) -> Row:  # noqa: B008
    """An insurer's own records (H4: authorisations, repair shops) on the path of the case's organisation, a court:
    its administrator learns it is no insurer (404), its other staff 403; parties 403; everyone else 404."""
    return accounts(
        call,
        **PARTIES,
        other_mediator=403,
        other_judge=404,
        org_admin=404,
        other_admin=404,
        clerk=403,
        mediator=403,
        judge=403,
    )


RANDOM_ID = str(uuid.uuid4())
"""A record id the world does not hold (a relief application, its document)."""
NO_ACCOUNT = {"anonymous": 401, "service_link": 401, "scene_driver": 401}
"""Callers without an account or a case link: a service link and a scene report's link open only their own."""
RELIEF_APPLICATION = {
    "fund_id": RANDOM_ID,
    "ground": "fled",
    "advance_kind": "rescue",
    "amount": "1000.00",
    "payee": "示范区人民医院",
}


def relief_desk(call: Call) -> Row:
    """An action of a relief fund's officer on an application the world does not hold: 404 for everyone signed in."""
    return everyone(404, Call(json=call.json, path={"application_id": RANDOM_ID}), **NO_ACCOUNT)


MATRIX: dict[str, Row] = {
    "health": everyone(200),
    "openapi": everyone(200),
    # the electronic accident finding (issue 15, H2): only a driver's scene link of the report (every other token
    # is refused with 401; another report's link: 404) and the officers of its police unit (another unit's: 404,
    # other accounts: 403); the report here is one the world does not hold
    "readSceneFinding": everyone(401, Call(path={"report_id": RANDOM_ID}), scene_driver=404),
    "readSceneFindingDocument": everyone(401, Call(path={"report_id": RANDOM_ID}), scene_driver=404),
    "sendSceneFindingCode": everyone(401, Call(path={"report_id": RANDOM_ID}), scene_driver=404),
    "signSceneFinding": everyone(
        401, Call(json={"code": "123456", "mark": mark()}, path={"report_id": RANDOM_ID}), scene_driver=404
    ),
    "readSceneFindingForOfficer": everyone(403, Call(path={"report_id": RANDOM_ID}), **NO_ACCOUNT, police_officer=404),
    "readSceneFindingDocumentForOfficer": everyone(
        403, Call(path={"report_id": RANDOM_ID}), **NO_ACCOUNT, police_officer=404
    ),
    "login": everyone(401, Call(body=lambda ids: {"username": f"nobody-{uuid.uuid4().hex[:8]}", "password": "x"})),
    "logout": signed_in(204),
    "me": signed_in(200),
    "readMyOrganisation": signed_in(200, **PARTIES),
    # the case's organisation: only its administrator; other organisations' staff learn nothing (404)
    "listOrganisationAccounts": org_admins(200),
    "createOrganisationAccount": org_admins(
        201,
        Call(
            body=lambda ids: {"username": f"m.{uuid.uuid4().hex[:8]}", "display_name": "新调解员", "kind": "mediator"}
        ),
    ),
    "setOrganisationAccountContacts": org_admins(200, Call(json={"phone": "13700000000"})),
    "resetOrganisationAccountPassword": org_admins(200),
    "disableOrganisationAccount": org_admins(200),
    "createCase": accounts(
        Call(json={"kind": "traffic_accident", "title": "矩阵"}),
        other_party=403,
        other_mediator=201,
        other_judge=403,
        org_admin=403,
        other_admin=403,
        clerk=403,
        applicant=403,
        respondent=403,
        mediator=201,
        judge=403,
    ),
    "listCases": accounts(
        other_party=403,
        other_mediator=200,
        other_judge=200,
        org_admin=403,
        other_admin=403,
        clerk=200,
        applicant=403,
        respondent=403,
        mediator=200,
        judge=200,
    ),
    "readCase": on_case(parties=200, mediator=200, judge=200),
    "addParticipant": on_case(Call(json={"role": "observer", "display_name": "旁听人员"}), mediator=201),
    "reissueLink": on_case(mediator=201),
    "inviteParticipant": on_case(Call(json={"channel": "sms"}), mediator=422),  # the insurer has no mobile number
    "revokeLinks": on_case(mediator=200),
    "scheduleSession": on_case(Call(json={"starts_at": "2026-12-01T09:00:00+08:00"}), mediator=409),
    "startSession": on_case(mediator=409),
    "endSession": on_case(mediator=409),
    "cancelSession": on_case(mediator=409),
    "withdrawCase": on_case(Call(json={"reason": "撤回"}), mediator=409),
    "referToLitigation": on_case(Call(json={"reason": "调解不成"}), mediator=409),
    "addDocument": on_case(
        Call(raw=("text/plain", "现场记录".encode()), query="kind=evidence&title=记录"), mediator=201
    ),
    "readDocument": on_case(parties=200, mediator=200, judge=200),
    "verifyRecording": on_case(mediator=200, judge=200),
    "readChat": on_case(parties=200, mediator=200, judge=200),
    "readAudit": on_case(mediator=200, judge=200),
    "listRecordedSessions": on_case(mediator=200, judge=200),
    "readRecordingTimeline": on_case(mediator=404, judge=404),
    "playRecordingClip": on_case(mediator=404, judge=404),
    "readTranscript": on_case(mediator=200, judge=200),
    "correctTranscriptLine": on_case(Call(json={"text": "更正"}), mediator=404),
    "addRecordNote": on_case(Call(body=lambda ids: {"session_id": ids["session_id"], "text": "备注"}), mediator=201),
    "finaliseRecord": on_case(Call(body=lambda ids: {"session_id": ids["session_id"]}), mediator=201),
    "openSigning": on_case(Call(json={"deadline_hours": 48}), mediator=409),
    "readSigning": on_case(parties=200, mediator=200, judge=200),
    "sendSigningCode": on_case(parties=422, mediator=422),  # "not open for signing"
    "sign": on_case(Call(body=lambda ids: {"code": "123456", "mark_png": mark()}), parties=409, mediator=409),
    "calculateCompensation": on_case(Call(json=CLAIM), mediator=200),
    "draftAgreement": on_case(Call(json=TERMS), mediator=409),
    "readAgreementDrafts": on_case(parties=200, mediator=200, judge=200),
    # comments stay open on a draft after signing (reported: arguably 409 once the agreement is signed)
    "commentAgreementDraft": on_case(Call(json={"text": "同意"}, path={"version": "1"}), parties=201, mediator=201),
    "timestamp": everyone(200, Call(raw=("application/timestamp-query", b"\x30\x03\x02\x01\x01"))),
    "signingCaCertificate": everyone(200),
    "verifySignatures": signed_in(200, Call(raw=("application/pdf", PDF))),
    "verifyDocumentSignatures": on_case(parties=200, mediator=200, judge=200),
    "readDocumentPages": on_case(parties=200, mediator=200, judge=200),
    "readDocumentPage": on_case(parties=200, mediator=200, judge=200),
    "receiveSmsReceipt": everyone(
        401, Call(raw=("application/json", b'{"reference":"abcdefgh","status":"delivered"}'))
    ),
    "consentToService": on_case(Call(json={"channels": ["inbox"]}), parties=201),
    "readServiceConsents": on_case(parties=200, mediator=200, judge=200),
    # every party by default, and the insurer added later has not consented
    "serveDocument": on_case(Call(body=lambda ids: {"document_id": ids["document_id"]}), mediator=422),
    "readServices": on_case(parties=200, mediator=200, judge=200),
    "retryService": on_case(Call(json={}), mediator=422),  # nobody is waiting
    "makeProofOfService": on_case(Call(path={"participant_id": "applicant"}), mediator=201),
    "readInbox": on_case(parties=200),
    "readServed": served(),
    "readServedDocument": served(),
    "readServedPages": served(),
    "readServedPage": served(),
    "exportCase": on_case(mediator=422, judge=422),  # only a closed case is exported
    "listCourts": accounts(
        other_party=403,
        other_mediator=200,
        other_judge=200,
        org_admin=200,
        other_admin=200,
        clerk=200,
        applicant=403,
        respondent=403,
        mediator=200,
        judge=200,
    ),
    "prepareConfirmation": on_case(Call(json={"court": COURT}), mediator=422),
    "readConfirmation": on_case(parties=200, mediator=200, judge=200),
    # "already submitted" is checked before "only the parties apply" (reported: staff should get 403)
    "confirmApplication": on_case(parties=422, mediator=422, judge=422),
    "readConfirmationPacket": on_case(mediator=200, judge=200),
    "verifyConfirmationPacket": on_case(mediator=200, judge=200),
    "addConfirmationMaterial": on_case(Call(raw=("application/pdf", PDF), query="title=材料"), parties=201),
    # only judges get past the account check: anyone else is refused before the case is looked up
    "requestConfirmationMaterial": judges_only(Call(json={"text": "请补充材料。", "days": 5}), judge=201),
    "ruleOnConfirmation": judges_only(Call(json={"confirmed": True, "reasons": "协议合法。"}), judge=201),
    "rateSession": on_case(Call(json={"score": 4}), parties=201),  # the mediator and the judge do not rate
    "readMySessionRating": on_case(parties=200),  # rated just before; staff read no rating
    "readOrganisationFigures": org_admins(200),
    "listCourtApplications": accounts(
        other_party=403,
        other_mediator=403,
        other_judge=200,
        org_admin=403,
        other_admin=403,
        clerk=403,
        applicant=403,
        respondent=403,
        mediator=403,
        judge=200,
    ),
    "takeCourtApplication": accounts(
        other_party=403,
        other_mediator=403,
        other_judge=404,
        org_admin=403,
        other_admin=403,
        clerk=403,
        applicant=403,
        respondent=403,
        mediator=403,
        judge=200,
    ),  # taking it again
    # referral desks (server.referrals): the case here is the court's own (no referring court)
    "referToMediation": accounts(
        Call(
            body=lambda ids: {
                "organisation_id": str(uuid.uuid4()),  # no such organisation: 422 for those who may refer
                "referral_kind": "pre_litigation",
                "kind": "traffic_accident",
                "title": "委派",
                "parties": [{"role": "applicant", "display_name": "甲"}],
            }
        ),
        other_party=403,
        other_mediator=403,
        other_judge=422,
        org_admin=403,
        other_admin=403,
        clerk=422,
        applicant=403,
        respondent=403,
        mediator=403,
        judge=422,
    ),
    "listCourtReferrals": accounts(
        other_party=403,
        other_mediator=403,
        other_judge=200,
        org_admin=200,
        other_admin=200,
        clerk=200,
        applicant=403,
        respondent=403,
        mediator=403,
        judge=200,
        **FRONT,
    ),
    "recordApplication": accounts(
        Call(
            json={"kind": "traffic_accident", "title": "申请", "parties": [{"role": "applicant", "display_name": "甲"}]}
        ),
        other_party=403,
        other_mediator=403,
        other_judge=404,
        org_admin=422,  # a court is not a mediation organisation
        other_admin=404,
        clerk=403,
        applicant=403,
        respondent=403,
        mediator=403,
        judge=403,
    ),
    "listOrganisationCases": Row(
        Call(),
        {
            "anonymous": 401,
            "service_link": 401,
            "other_party": 403,
            "other_mediator": 200,  # the queue and their own: not this case
            "other_judge": 404,
            "org_admin": 200,
            "other_admin": 404,
            "clerk": 403,
            "applicant": 403,
            "respondent": 403,
            "mediator": 200,
            "judge": 403,
        },
        sees_case=frozenset({"org_admin"}),
    ),
    "assignMediator": desk(
        Call(body=lambda ids: {"mediator_account_id": ids["account_id"]}),
        org_admin=422,  # the account was disabled by an earlier row
    ),
    # the organisation's mediators: the case is no longer waiting for one
    "acceptAssignment": desk(other_mediator=409, mediator=409),
    "declineAssignment": desk(Call(json={"reason": "回避"}), other_mediator=409, mediator=409),
    "takeCase": desk(other_mediator=409, mediator=409),
    "requestPeriodExtension": on_case(Call(json={"days": 10, "reason": "等待鉴定"}), mediator=409),
    "consentToPeriodExtension": on_case(parties=409),
    "readCaseTimeline": Row(
        Call(),
        {**on_case(parties=200, mediator=200, judge=200).expect, "org_admin": 200},
        sees_case=frozenset({"org_admin"}),
    ),
    # the address for service (server.e_service.addresses)
    "confirmServiceAddress": on_case(
        Call(json={"electronic": True, "channels": ["inbox"], "acknowledged": True}), parties=200
    ),
    "readServiceAddresses": on_case(parties=200, mediator=200, judge=200),
    "readServiceAddressDocument": on_case(
        Call(path={"participant_id": "applicant"}), applicant=200, respondent=404, mediator=200, judge=200
    ),
    # rosters and profiles (server.rosters)
    "readCourtRoster": accounts(
        Call(path={"court_id": "organisation_id"}),
        other_party=404,
        other_mediator=403,
        other_judge=404,
        org_admin=200,
        other_admin=404,
        clerk=200,
        applicant=404,
        respondent=404,
        mediator=403,
        judge=200,
    ),
    "addRosterEntry": accounts(
        Call(
            path={"court_id": "organisation_id"},
            body=lambda ids: {
                "organisation_id": ids["line_id"],
                "specialties": ["traffic"],
                "term_start": "2026-12-01T00:00:00+08:00",
                "term_end": "2027-12-01T00:00:00+08:00",
            },
        ),
        other_party=404,
        other_mediator=403,
        other_judge=404,
        org_admin=422,
        other_admin=404,
        clerk=403,
        applicant=404,
        respondent=404,
        mediator=403,
        judge=403,
    ),
    "updateRosterEntry": accounts(
        Call(path={"court_id": "organisation_id", "entry_id": "clip_id"}, json={"status": "suspended"}),
        other_party=404,
        other_mediator=403,
        other_judge=404,
        org_admin=404,
        other_admin=404,
        clerk=403,
        applicant=404,
        respondent=404,
        mediator=403,
        judge=403,
    ),
    "listRosterCandidates": accounts(
        Call(path={"court_id": "organisation_id"}),
        other_party=404,
        other_mediator=403,
        other_judge=404,
        org_admin=200,
        other_admin=404,
        clerk=403,
        applicant=404,
        respondent=404,
        mediator=403,
        judge=403,
    ),
    "listRosterMemberships": accounts(
        other_party=404,
        other_mediator=404,
        other_judge=404,
        org_admin=404,
        other_admin=404,
        clerk=404,
        applicant=404,
        respondent=404,
        mediator=404,
        judge=404,
    ),
    "readMediatorProfile": accounts(
        other_party=404,
        other_mediator=404,
        other_judge=404,
        org_admin=200,
        other_admin=404,
        clerk=404,
        applicant=404,
        respondent=404,
        mediator=404,
        judge=404,
    ),
    "writeMediatorProfile": accounts(
        Call(json={"qualification": "律师", "specialties": ["traffic"], "introduction": ""}),
        other_party=404,
        other_mediator=404,
        other_judge=404,
        org_admin=200,
        other_admin=404,
        clerk=404,
        applicant=404,
        respondent=404,
        mediator=404,
        judge=404,
    ),
    # a failed mediation (server.failure): no court referred this case, so no court reads its record
    "draftUndisputedFacts": on_case(
        Call(json={"items": [{"kind": "fact", "text": "交警认定李四负全部责任。"}]}), mediator=409
    ),
    "readUndisputedFacts": on_case(parties=200, mediator=200, judge=200),
    "answerUndisputedFacts": on_case(
        Call(json={"answer": "confirm"}, path={"version": "1"}), parties=404
    ),  # none drafted
    "failMediationWithFacts": on_case(Call(json={"reason": "调解不成"}), mediator=409),
    "readUndisputedFactsForCourt": everyone(404, anonymous=401, service_link=401),
    "readUndisputedFactsDocumentForCourt": everyone(404, anonymous=401, service_link=401),
    # statistics: each caller's own scope (a party none)
    "readStatistics": signed_in(200, **PARTIES, **FRONT),
    "readStatisticsCsv": signed_in(200, **PARTIES, **FRONT),
    # a party's own application from /apply: public, the same answer to everyone (the case's organisation is a
    # court: no codes for it, no application to it)
    "listPublicMediationOrganisations": everyone(200),
    "sendApplicationCode": everyone(
        422, Call(body=lambda ids: {"organisation_id": ids["organisation_id"], "phone": "13900001111"})
    ),
    "submitApplication": everyone(
        422,
        Call(
            body=lambda ids: {
                "organisation_id": ids["organisation_id"],
                "kind": "traffic_accident",
                "description": "追尾",
                "applicant": {"display_name": "甲", "phone": "13900001111"},
                "respondent": {"display_name": "乙"},
                "code": "123456",
            }
        ),
    ),
    "readApplication": on_case(parties=404, mediator=404, judge=404),  # this case was not filed by an application
    # online appraisal (server.appraisal): the mediator drives it, the parties consent, apply and evaluate; the
    # appraisals of other rows use an id no appraisal has (404 for whoever gets past the role check); the desk is the
    # appraisers', the evaluations the justice bureau's
    "listAppraisalInstitutions": signed_in(200, **PARTIES),
    "setAppraisalSpecialties": org_admins(422, Call(json={"specialties": ["injury"]})),  # a court lists none
    "startAppraisal": on_case(Call(json={"subject": "injury"}), mediator=APPRAISAL_START),
    "listAppraisals": on_case(parties=200, mediator=200, judge=200),
    "consentToAppraisal": on_case(Call(json={"agree": True}, path={"appraisal_id": "line_id"}), parties=404),
    "chooseAppraisalInstitution": on_case(
        Call(body=lambda ids: {"organisation_id": ids["line_id"]}, path={"appraisal_id": "line_id"}), mediator=404
    ),
    "drawAppraisalInstitution": on_case(Call(path={"appraisal_id": "line_id"}), mediator=404),
    "appointAppraisal": on_case(
        Call(json={"fee": "3000", "payer": "insurer"}, path={"appraisal_id": "line_id"}), mediator=404
    ),
    "sendAppraisalMaterials": on_case(Call(json={"document_ids": []}, path={"appraisal_id": "line_id"}), mediator=404),
    "applyForReappraisal": on_case(Call(json={"reasons": "未检查伤者"}, path={"appraisal_id": "line_id"}), parties=404),
    "decideReappraisal": on_case(Call(json={"grant": True}, path={"appraisal_id": "line_id"}), mediator=404),
    "evaluateAppraisalOpinion": on_case(
        Call(json={"score": 3}, path={"appraisal_id": "line_id"}), parties=404, mediator=404
    ),
    "listAppraisalDesk": signed_in(403, appraiser=200),
    "readAppraisalDeskItem": signed_in(404, Call(path={"appraisal_id": "line_id"})),
    "readAppraisalMaterial": signed_in(404, Call(path={"appraisal_id": "line_id"})),
    "submitAppraisalOpinion": signed_in(404, Call(raw=("application/pdf", PDF), path={"appraisal_id": "line_id"})),
    "readAppraisalEvaluations": signed_in(403, bureau_officer=200),
    # cases from the police's systems: only an agency's HMAC-signed request files one (a bearer token is no key);
    # what the police sent is for the case's staff (this case was not sent by the police: 404 for them)
    "fileIntakeCase": everyone(401, Call(json={"police_case_number": "公交认字[2026]第00001号"})),
    "readIntakeFinding": on_case(parties=403, mediator=404, judge=404),
    # scene reports (快处快赔, H1): public start and join; a driver's scene link (the world's "scene_driver": a
    # row that does not name it expects what it expects of nobody) opens its report only; the desk is the police
    # officers' of the report's unit (the world's report is just started: its decisions are 409)
    "listPublicPoliceUnits": everyone(200),
    "startSceneReport": everyone(
        201,
        Call(
            body=lambda ids: {
                "police_unit_id": ids["police_unit_id"],
                "occurred_at": ids["scene_occurred_at"],
                "place": "文一路",
                "name": "甲",
                "phone": "13900001111",
            }
        ),
    ),
    "joinSceneReport": everyone(
        422,
        Call(
            body=lambda ids: {
                "number": ids["report_number"],
                "code": ids["wrong_join_code"],
                "name": "乙",
                "phone": "13900002222",
            }
        ),
    ),
    "readSceneReport": everyone(401, scene_driver=200),
    "setSceneDriverItems": everyone(
        401,
        Call(
            json={
                "name": "甲",
                "phone": "13900001111",
                "licence_number": "330102199001011111",
                "plate": "浙A12345",
                "insurer": "中国人保财险",
                "damaged_part": "左前门",
            }
        ),
        scene_driver=200,
    ),
    "uploadScenePhoto": everyone(
        401,
        Call(raw=("image/jpeg", scene_photo(1)), query=f"slot=front&original_sha256={'a' * 64}&original_size=9"),
        scene_driver=201,
    ),
    "completeSceneDriverPart": everyone(401, scene_driver=422),  # photos missing
    # a signed scene report becomes a case (issue 15, H8): the report's drivers only; the world's is not signed
    "askSceneMediation": everyone(401, Call(json={"organisation_id": RANDOM_ID}), scene_driver=409),
    "issueSceneCaseLink": everyone(401, scene_driver=409),
    "listSceneQueue": signed_in(403, police_officer=200),
    "readSceneReportForPolice": signed_in(403, police_officer=200),
    "readScenePhoto": signed_in(403, police_officer=404),
    "acceptSceneReport": signed_in(403, police_officer=409),
    "returnSceneReport": signed_in(403, Call(json={"reason": "照片不清晰"}), police_officer=409),
    "makeLiabilityFinding": signed_in(
        403,
        Call(
            json={
                "drivers": [
                    {"number": 1, "liability": "full", "share": 100},
                    {"number": 2, "liability": "none", "share": 0},
                ],
                "facts": "追尾。",
                "reasons": "未保持安全距离。",
            }
        ),
        police_officer=409,
    ),
    "closeSceneReport": signed_in(403, police_officer=409),
    # relief fund advances (H6): the case's parties and mediator apply and read; a judge on the case 403; the
    # fund's officers work their desk (the world holds no application: a random id is 404 for them too)
    "listCaseReliefApplications": on_case(parties=200, mediator=200),
    "applyForReliefAdvance": on_case(  # no such fund: 422 for the applicant and the mediator (who names no one)
        Call(json=RELIEF_APPLICATION), applicant=422, respondent=403, mediator=422
    ),
    "uploadReliefEvidence": on_case(
        Call(raw=("text/plain", "抢救费用清单".encode()), query="kind=invoice&title=清单"),
        applicant=201,
        respondent=403,  # only the applicant side (and the mediator) adds evidence for the fund
        mediator=201,
    ),
    "resubmitReliefApplication": on_case(
        Call(json={"note": "已补充"}, path={"application_id": RANDOM_ID}), parties=404, mediator=404
    ),
    "readReliefDesk": signed_in(403, fund_officer=200, scene_driver=401),
    "readReliefApplication": everyone(404, Call(path={"application_id": RANDOM_ID}), **NO_ACCOUNT),
    "readReliefEvidence": everyone(
        404, Call(path={"application_id": RANDOM_ID, "document_id": RANDOM_ID}), **NO_ACCOUNT
    ),
    "decideReliefApplication": relief_desk(Call(json={"decision": "approve", "amount": "100"})),
    "payReliefAdvance": relief_desk(Call(json={"reference": "PAY-1", "paid_on": "2026-11-20"})),
    "nameReliefLiableParty": relief_desk(Call(json={"participant_id": None})),
    "recordReliefRecovery": relief_desk(Call(json={"amount": "1", "received_on": "2026-11-20", "reference": "R1"})),
    "writeOffReliefRecovery": relief_desk(Call(json={"reason": "无财产"})),
    # one-click claims (一键理赔, H4): the world's case owes nothing of its insurer participant (no insurer of that
    # name): a party's claim is 422; the world holds no claim (a random id: 404 for everyone signed in)
    "startClaim": on_case(parties=422),
    # claims from a signed scene finding (快处快赔, H10): the claimant driver's scene link (another report's: 404,
    # every other token 401); the report's police unit's officers list its claims (another unit's: 404, other
    # accounts 403); the report here is one the world does not hold
    "startSceneClaim": everyone(401, Call(path={"report_id": RANDOM_ID}), scene_driver=404),
    "listSceneClaims": everyone(
        403, Call(path={"report_id": RANDOM_ID}), **{**NO_ACCOUNT, "scene_driver": 404}, police_officer=404
    ),
    "readSceneClaim": everyone(401, Call(path={"report_id": RANDOM_ID, "claim_id": RANDOM_ID}), scene_driver=404),
    "chooseSceneRepairShop": everyone(
        401,
        Call(json={"repair_shop_id": RANDOM_ID}, path={"report_id": RANDOM_ID, "claim_id": RANDOM_ID}),
        scene_driver=404,
    ),
    "listCaseClaims": Row(
        on_case().call,
        {**on_case(parties=200, mediator=200, judge=200).expect, "org_admin": 200},  # the organisation follows it
        sees_case=frozenset({"org_admin"}),
    ),
    "listInsurerClaims": signed_in(403, claims_adjuster=200, scene_driver=401),
    "readClaim": everyone(404, Call(path={"claim_id": RANDOM_ID}), anonymous=401, service_link=401, scene_driver=401),
    "readClaimAgreement": everyone(
        404, Call(path={"claim_id": RANDOM_ID}), anonymous=401, service_link=401, scene_driver=401
    ),
    "acceptClaim": everyone(404, Call(path={"claim_id": RANDOM_ID}), anonymous=401, service_link=401, scene_driver=401),
    "payClaim": everyone(
        404,
        Call(json={"amount": "1", "reference": "TX-1", "paid_on": "2026-11-20"}, path={"claim_id": RANDOM_ID}),
        anonymous=401,
        service_link=401,
        scene_driver=401,
    ),
    "refuseClaim": everyone(
        404,
        Call(json={"reason": "不符合"}, path={"claim_id": RANDOM_ID}),
        anonymous=401,
        service_link=401,
        scene_driver=401,
    ),
    "chooseRepairShop": everyone(
        404,
        Call(json={"repair_shop_id": RANDOM_ID}, path={"claim_id": RANDOM_ID}),
        anonymous=401,
        service_link=401,
        scene_driver=401,
    ),
    "recordAuthorisation": insurer_org(
        Call(
            body=lambda ids: {
                "account_id": ids["account_id"],
                "any_region": True,
                "limit": "10000",
                "valid_from": "2026-11-01",
                "valid_to": "2027-10-31",
                "document_pdf": base64.b64encode(PDF).decode(),
            }
        )
    ),
    "listAuthorisations": insurer_org(),
    # H12: an authorisation the world does not hold, on the case organisation's path (a court): as its other records.
    "revokeAuthorisation": insurer_org(Call(path={"authorisation_id": RANDOM_ID})),
    "readAuthorisationDocument": insurer_org(Call(path={"authorisation_id": RANDOM_ID})),
    "addRepairShop": insurer_org(Call(json={"name": "修理厂", "address": "城东路 1 号", "phone": "057188880000"})),
    "listRepairShops": insurer_org(),
}
"""Expected status per operation and caller, in the state the calls before it leave the case."""

LAST = ("logout",)
"""Operations that end the caller's token: called after every other."""


@dataclass
class World:
    tokens: dict[str, str | None]
    ids: dict[str, str]
    case_markers: tuple[str, ...]
    """What only callers on the case may see: its id and number."""
    contacts: dict[str, tuple[str, ...]]
    """Each party's own contact details (phone, e-mail, ID number), which the other party may not see."""


async def build_world(api: Api) -> World:
    judge = await judge_of(api, COURT, "赵法官")
    other_judge = await judge_of(api, "另一法院", "钱法官")
    c = await served_case(api)
    base, med = c["base"], c["mediator"]
    status, dummy, _ = await api.call(
        "POST", f"{base}/participants", med, json={"role": "insurer", "display_name": "丙保险"}
    )
    assert status == 201, dummy
    assert (await api.call("POST", f"{base}/confirmation", med, json={"court": COURT}))[0] == 201
    for who in ("applicant", "respondent"):
        assert (await api.call("POST", f"{base}/confirmation/confirm", c[who]))[0] == 200
    assert (await api.call("POST", f"/api/v1/court/applications/{c['case_id']}/take", judge))[0] == 200
    inbox = (await api.call("GET", f"{base}/service/inbox", c["applicant"]))[1]["services"]
    service_link = inbox[0]["link"].split("#token=")[1]
    view = (await api.call("GET", base, med))[1]
    services = (await api.call("GET", f"{base}/service", med))[1]["services"]

    _, other_mediator = await account(api, AccountKind.MEDIATOR, "李调解员")
    org_admin = await staff_of(api, AccountKind.ORG_ADMIN, COURT, "周管理员")
    other_admin = await staff_of(api, AccountKind.ORG_ADMIN, "另一法院", "吴管理员")
    clerk = await staff_of(api, AccountKind.CLERK, COURT, "郑书记员")
    front = {role: await staff_of(api, *spec) for role, spec in FRONT_STAFF.items()}
    scene = await scene_world(api, FRONT_STAFF["police_officer"][1])
    api.app[SCENES].starts_per_client = 2 * len(ROLES)  # every caller starts a report from 127.0.0.1
    status, mine, _ = await api.call("GET", "/api/v1/organisations/mine", med)
    assert status == 200 and mine["organisation"]["name"] == COURT
    organisation_id = mine["organisation"]["id"]
    status, target, _ = await api.call(
        "POST",
        f"/api/v1/organisations/{organisation_id}/accounts",
        org_admin,
        json={"username": f"t.{uuid.uuid4().hex[:8]}", "display_name": "被管理的调解员", "kind": "mediator"},
    )
    assert status == 201, target
    status, other_case, _ = await api.call(
        "POST", "/api/v1/cases", other_mediator, json={"kind": "traffic_accident", "title": "另一案件"}
    )
    assert status == 201
    status, added, _ = await api.call(
        "POST",
        f"/api/v1/cases/{other_case['id']}/participants",
        other_mediator,
        json={"role": "applicant", "display_name": "王五"},
    )
    assert status == 201
    return World(
        tokens={
            "anonymous": None,
            "service_link": service_link,
            "other_party": added["link"]["token"],
            "other_mediator": other_mediator,
            "other_judge": other_judge,
            "org_admin": org_admin,
            "other_admin": other_admin,
            "clerk": clerk,
            **front,
            "scene_driver": scene.pop("token"),
            "applicant": c["applicant"],
            "respondent": c["respondent"],
            "mediator": med,
            "judge": judge,
        },
        ids={
            "case_id": c["case_id"],
            "participant_id": dummy["participant"]["id"],
            "applicant": c["applicant_id"],
            "session_id": view["sessions"][0]["id"],
            "document_id": c["agreement"]["id"],
            "service_id": services[0]["id"],
            "line_id": str(uuid.uuid4()),
            "clip_id": str(uuid.uuid4()),
            "version": "1",
            "page": "1",
            "organisation_id": organisation_id,
            "account_id": target["account"]["id"],
            **scene,
        },
        case_markers=(c["case_id"], view["number"]),
        contacts={
            "applicant": tuple(SERVICE_APPLICANT[k] for k in ("phone", "email", "id_number")),
            "respondent": tuple(SERVICE_RESPONDENT[k] for k in ("phone", "email")),
        },
    )


def url_of(path: str, row: Row, world: World) -> str:
    """The operation's path with the case's ids (or the row's own) and the row's query."""
    values = dict(world.ids)
    values.update({k: world.ids.get(v, v) for k, v in row.call.path.items()})
    url = path.format(**values)
    return f"{url}?{row.call.query}" if row.call.query else url


def leaks(role: str, status: int, text: str, world: World, row: Row) -> list[str]:
    """What ``role`` should not have seen in this answer."""
    found = []
    if role in OUTSIDERS and 200 <= status < 300 and role != "service_link" and role not in row.sees_case:
        found += [m for m in world.case_markers if m in text]
    if role in OUTSIDERS or role in world.contacts:
        others = [r for r in world.contacts if r != role]
        found += [m for r in others for m in world.contacts[r] if m in text]
    return found


async def test_every_operation_answers_every_caller_as_the_table_says(api: Api) -> None:
    world = await build_world(api)
    _, doc, _ = await api.call("GET", "/api/v1/openapi.json")
    operations = [(m.upper(), p, op["operationId"]) for p, ops in doc["paths"].items() for m, op in ops.items()]
    documented = {op_id for _, _, op_id in operations}
    assert documented - set(MATRIX) == set(), f"operations without a row in MATRIX: {documented - set(MATRIX)}"
    assert set(MATRIX) - documented == set(), f"rows for operations not in openapi.json: {set(MATRIX) - documented}"
    operations.sort(key=lambda o: o[2] in LAST)

    wrong, server_errors, leaked = [], [], []
    seen: dict[tuple[str, str], str] = {}
    for method, path, op_id in operations:
        row = MATRIX[op_id]
        assert set(ROLES) - set(FRONT_STAFF) - {"scene_driver"} <= set(row.expect) <= set(ROLES), (
            op_id,
            set(ROLES) ^ set(row.expect),
        )
        for role in ROLES:
            kwargs: dict[str, Any] = {}
            if row.call.raw is not None:
                kwargs = {"data": row.call.raw[1], "headers": {"Content-Type": row.call.raw[0]}}
            payload = row.call.body(world.ids) if row.call.body else row.call.json
            status, body, _ = await api.call(
                method, url_of(path, row, world), world.tokens[role], json=payload, **kwargs
            )
            text = json.dumps(body, ensure_ascii=False) if not isinstance(body, bytes) else ""
            seen[op_id, role] = text
            expected = row.expect.get(role, row.expect["anonymous" if role == "scene_driver" else "other_admin"])
            if status >= 500:
                server_errors.append(f"{op_id} as {role}: {status}")
            if not (status in expected if isinstance(expected, frozenset) else status == expected):
                wrong.append(f"{op_id} as {role}: expected {expected}, got {status} {text[:160]}")
            if found := leaks(role, status, text, world, row):
                leaked.append(f"{op_id} as {role}: {status} carries {len(found)} value(s) it must not")
            if role in OUTSIDERS and role not in row.sees_case and "{case_id}" in path:  # nor whether the case exists
                probe = url_of(path, row, world).replace(world.ids["case_id"], str(uuid.uuid4()))
                other, _, _ = await api.call(method, probe, world.tokens[role], json=payload, **kwargs)
                if other != status:
                    leaked.append(f"{op_id} as {role}: {status} for the case, {other} for no case")
    # the leak check can see: staff read every contact, each party their own
    assert all(m in seen["readCase", "mediator"] for r in world.contacts for m in world.contacts[r])
    assert all(world.contacts[r][0] in seen["readCase", r] for r in world.contacts)  # the phone
    assert all(m in seen["readCase", "judge"] for m in world.case_markers)
    assert not server_errors, "\n".join(server_errors)
    assert not leaked, "\n".join(leaked)
    assert not wrong, f"{len(wrong)} cells differ:\n" + "\n".join(wrong)
