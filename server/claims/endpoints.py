"""Endpoints of one-click claims (一键理赔): the claimant's one action, the insurer's desk, its authorisations and
repair shops."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StringConstraints

from server.claims.usecases import ClaimService
from server.errors import Unauthenticated
from server.http import schemas as s
from server.http.kit import _CASE, API, Endpoint, body, case_id, now, principal, respond
from server.scene.endpoints import driver, report_id

CLAIMS: web.AppKey[ClaimService] = web.AppKey("claims", ClaimService)

_CLAIM = f"{API}/claims/{{claim_id}}"
_ORG = f"{API}/organisations/{{organisation_id}}"
_SCENE = f"{API}/scene-reports/{{report_id}}/claims"

Amount = Annotated[str, StringConstraints(min_length=1, max_length=24, pattern=r"^[0-9][0-9,]{0,19}(\.[0-9]{1,2})?$")]
"""Yuan as text, at most two decimals (e.g. 15000.00)."""

Region = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$")
]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._/-]+$")]
Address = Annotated[str, StringConstraints(min_length=1, max_length=400, pattern=s.NOT_BLANK)]


class PaymentRequest(s.Strict):
    """A payment on a claim."""

    amount: Amount
    reference: Reference = Field(description="The bank's payment reference")
    paid_on: date = Field(description="The day paid (Beijing)")
    repair_shop_id: s.Uuid | None = Field(default=None, description="Paid to the repair shop the claimant chose")


class RefusalRequest(s.Strict):
    """A refusal, with the reasons."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=s.NOT_BLANK)]


class ShopChoice(s.Strict):
    """The repair shop the claimant chooses (定修直赔)."""

    repair_shop_id: s.Uuid


class AuthorisationRequest(s.Strict):
    """An authorisation of one adjuster (授权委托书), with its signed PDF."""

    account_id: s.Uuid
    regions: list[Region] = Field(default_factory=list, max_length=50)
    any_region: bool = Field(default=False, description="Covers policies issued in any region (异地出单)")
    limit: Amount = Field(description="The largest claim it covers, in yuan")
    valid_from: date
    valid_to: date
    document_pdf: Annotated[
        str, StringConstraints(min_length=8, max_length=2_800_000, pattern=r"^[A-Za-z0-9+/=]+$")
    ] = Field(description="The signed authorisation, a PDF (base64)")


class RepairShopRequest(s.Strict):
    """A repair shop of the insurer."""

    name: s.Name
    address: Address
    phone: s.Phone


class RepairShopOut(s.Open):
    """A repair shop."""

    id: str
    name: str
    address: str
    phone: str


class RepairShops(s.Open):
    """An insurer's repair shops."""

    repair_shops: list[RepairShopOut]


class AuthorisationOut(s.Open):
    """An authorisation."""

    id: str
    account_id: str
    adjuster: str
    regions: list[str]
    any_region: bool
    limit: str
    valid_from: str
    valid_to: str
    in_force: bool
    state: str = Field(description="in_force (在效), revoked (已撤回), expired (已过期) or pending (未生效)")


class Authorisations(s.Open):
    """An insurer's authorisations."""

    authorisations: list[AuthorisationOut]


class ClaimOut(s.Open):
    """A claim with its deadline clock, its steps and payments."""

    id: str
    case: dict[str, str] = Field(
        description="The case (id empty for a claim from a scene finding: its report's number)"
    )
    scene_report: dict[str, str] | None = Field(description="The signed scene report a claim from a finding rests on")
    claimant: dict[str, str]
    insurer: dict[str, str]
    source: str
    state: str
    state_label: str
    amount: str
    paid: str
    vehicle_damage: str
    lines: list[dict[str, Any]]
    submitted_at: str
    due_on: str
    working_days_left: int | None
    overdue: bool
    overdue_at: str | None
    paid_at: str | None
    refused_reason: str | None
    acting: dict[str, Any] | None
    repair_shop: RepairShopOut | None
    agreement_url: str
    events: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    repair_shops: list[RepairShopOut]


class Claims(s.Open):
    """Claims."""

    claims: list[ClaimOut]


def _claim_id(request: web.Request) -> str:
    return request.match_info["claim_id"]


def _org(request: web.Request) -> str:
    return request.match_info["organisation_id"]


async def start_claim(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[CLAIMS].start(who, case_id(request), now(request)), 201)


async def case_claims(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"claims": await request.app[CLAIMS].case_claims(who, case_id(request), now(request))})


async def queue(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"claims": await request.app[CLAIMS].queue(who, now(request))})


async def read_claim(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[CLAIMS].read(who, _claim_id(request), now(request)))


async def agreement(request: web.Request) -> web.Response:
    who = await principal(request)
    data, _ = await request.app[CLAIMS].agreement_document(who, _claim_id(request))
    headers = {"Cache-Control": "no-store", "Content-Disposition": "inline"}
    return web.Response(body=data, content_type="application/pdf", headers=headers)


async def accept(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[CLAIMS].accept(who, _claim_id(request), now(request)))


async def pay(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, PaymentRequest)
    out = await request.app[CLAIMS].pay(
        who,
        _claim_id(request),
        amount=req.amount,
        reference=req.reference,
        paid_on=req.paid_on,
        repair_shop_id=req.repair_shop_id,
        now=now(request),
    )
    return respond(out, 201)


async def refuse(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, RefusalRequest)
    return respond(await request.app[CLAIMS].refuse(who, _claim_id(request), req.reason.strip(), now(request)))


async def choose_shop(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ShopChoice)
    return respond(await request.app[CLAIMS].choose_shop(who, _claim_id(request), req.repair_shop_id, now(request)))


async def authorise(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, AuthorisationRequest, limit=3 * 1024 * 1024)
    out = await request.app[CLAIMS].authorise(
        who,
        _org(request),
        account_id=req.account_id,
        regions=[r.strip() for r in req.regions],
        any_region=req.any_region,
        limit=req.limit,
        valid_from=req.valid_from,
        valid_to=req.valid_to,
        document=req.document_pdf,
        now=now(request),
    )
    return respond(out, 201)


async def authorisations(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"authorisations": await request.app[CLAIMS].authorisations(who, _org(request), now(request))})


async def revoke(request: web.Request) -> web.Response:
    who = await principal(request)
    auth = request.match_info["authorisation_id"]
    return respond(await request.app[CLAIMS].revoke(who, _org(request), auth, now(request)))


async def authorisation_document(request: web.Request) -> web.Response:
    who = await principal(request)
    data = await request.app[CLAIMS].authorisation_document(who, _org(request), request.match_info["authorisation_id"])
    headers = {"Cache-Control": "no-store", "Content-Disposition": "inline"}
    return web.Response(body=data, content_type="application/pdf", headers=headers)


async def add_shop(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, RepairShopRequest)
    out = await request.app[CLAIMS].add_shop(
        who, _org(request), name=req.name, address=req.address.strip(), phone=req.phone, now=now(request)
    )
    return respond(out, 201)


async def shops(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"repair_shops": await request.app[CLAIMS].shops(who, _org(request))})


async def start_scene_claim(request: web.Request) -> web.Response:
    who = await driver(request)
    return respond(await request.app[CLAIMS].start_from_scene(who, report_id(request), now(request)), 201)


async def scene_claims(request: web.Request) -> web.Response:
    """The driver's own claims (their scene link), or all of the report's for its police unit's officers."""
    service = request.app[CLAIMS]
    try:
        who = await driver(request)
    except Unauthenticated:
        officer = await principal(request)
        return respond({"claims": await service.scene_claims_for_officer(officer, report_id(request), now(request))})
    return respond({"claims": await service.scene_claims(who, report_id(request), now(request))})


async def read_scene_claim(request: web.Request) -> web.Response:
    who = await driver(request)
    out = await request.app[CLAIMS].read_scene_claim(who, report_id(request), _claim_id(request), now(request))
    return respond(out)


async def choose_scene_shop(request: web.Request) -> web.Response:
    who = await driver(request)
    req = await body(request, ShopChoice)
    out = await request.app[CLAIMS].choose_scene_shop(
        who, report_id(request), _claim_id(request), req.repair_shop_id, now(request)
    )
    return respond(out)


_TAGS = ("claims",)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        _SCENE,
        start_scene_claim,
        "The driver who does not pay starts a claim from the signed scene finding on the paying driver's insurer:"
        " the agreed amount (快处快赔 → 一键理赔; scene link)",
        "startSceneClaim",
        ClaimOut,
        status=201,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        _SCENE,
        scene_claims,
        "A scene report's claims: the driver's own (scene link), or all for the officers of its police unit",
        "listSceneClaims",
        Claims,
        errors=(401, 403, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_SCENE}/{{claim_id}}",
        read_scene_claim,
        "One of the driver's claims from the scene report: its state, deadline and payments (scene link)",
        "readSceneClaim",
        ClaimOut,
        errors=(401, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_SCENE}/{{claim_id}}/repair-shop",
        choose_scene_shop,
        "The claimant driver chooses one of the insurer's repair shops (定修直赔; scene link)",
        "chooseSceneRepairShop",
        ClaimOut,
        body=ShopChoice,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CASE}/claims",
        start_claim,
        "The entitled party starts a claim on the case's insurer: the amounts are the signed agreement's (一键理赔)",
        "startClaim",
        ClaimOut,
        status=201,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_CASE}/claims",
        case_claims,
        "The case's claims: a party's own (the insurer participant: all), for staff and the referring court all",
        "listCaseClaims",
        Claims,
        errors=(401, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{API}/claims",
        queue,
        "The insurer's queue of claims with their payment deadlines (its administrator and claims adjusters)",
        "listInsurerClaims",
        Claims,
        errors=(401, 403),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        _CLAIM,
        read_claim,
        "One claim: its amounts, deadline, steps, payments and the adjuster who acts",
        "readClaim",
        ClaimOut,
        errors=(401, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_CLAIM}/agreement",
        agreement,
        "The signed agreement the claim rests on (PDF)",
        "readClaimAgreement",
        None,
        raw_response="application/pdf",
        errors=(401, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CLAIM}/accept",
        accept,
        "A claims adjuster accepts the claim within their authorisation",
        "acceptClaim",
        ClaimOut,
        errors=(401, 403, 404, 409),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CLAIM}/payments",
        pay,
        "A claims adjuster records a payment (to the claimant, or to the repair shop they chose: 定修直赔)",
        "payClaim",
        ClaimOut,
        status=201,
        body=PaymentRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CLAIM}/refusal",
        refuse,
        "A claims adjuster refuses the claim with reasons",
        "refuseClaim",
        ClaimOut,
        body=RefusalRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_CLAIM}/repair-shop",
        choose_shop,
        "The claimant chooses one of the insurer's repair shops for the vehicle damage (定修直赔)",
        "chooseRepairShop",
        ClaimOut,
        body=ShopChoice,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ORG}/authorisations",
        authorise,
        "The insurer's administrator records an authorisation of an adjuster (授权委托书) with its signed PDF",
        "recordAuthorisation",
        AuthorisationOut,
        status=201,
        body=AuthorisationRequest,
        errors=(401, 403, 404, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_ORG}/authorisations",
        authorisations,
        "The insurer's authorisations (an adjuster: their own)",
        "listAuthorisations",
        Authorisations,
        errors=(401, 403, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ORG}/authorisations/{{authorisation_id}}/revoke",
        revoke,
        "The insurer's administrator withdraws an authorisation from now on (again: unchanged, 200)",
        "revokeAuthorisation",
        AuthorisationOut,
        errors=(401, 403, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_ORG}/authorisations/{{authorisation_id}}/document",
        authorisation_document,
        "The signed authorisation (PDF) as stored: the insurer's administrator and the adjuster it names",
        "readAuthorisationDocument",
        None,
        raw_response="application/pdf",
        errors=(401, 403, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_ORG}/repair-shops",
        add_shop,
        "The insurer's administrator adds a repair shop to its list (定修直赔)",
        "addRepairShop",
        RepairShopOut,
        status=201,
        body=RepairShopRequest,
        errors=(401, 403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_ORG}/repair-shops",
        shops,
        "The insurer's repair shops, for its staff",
        "listRepairShops",
        RepairShops,
        errors=(401, 403, 404),
        tags=_TAGS,
    ),
)
