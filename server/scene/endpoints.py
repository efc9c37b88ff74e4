"""Endpoints of scene reports: the public start and join, the drivers' scene link, the police desk."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, StringConstraints

from server.domain.scene import Liability, PhotoSlot
from server.errors import Unauthenticated
from server.http import schemas as s
from server.http.kit import API, Endpoint, body, now, principal, query, raw_body, respond
from server.http.problems import ApiError
from server.identity.tokens import TokenClaims
from server.scene.images import MAX_PHOTO_BYTES
from server.scene.mediation import SceneMediation
from server.scene.usecases import DriverItems, FindingInput, PhotoUpload, SceneService

SCENES: web.AppKey[SceneService] = web.AppKey("scenes", SceneService)
SCENE_MEDIATION: web.AppKey[SceneMediation] = web.AppKey("scene_mediation", SceneMediation)

MAX_BODY = 8 * 1024
"""The most a JSON body of this stage may weigh: 413 past it."""

PHOTO_TYPES = ("image/jpeg", "image/png", "image/heic", "application/octet-stream")
"""What a photo upload may say it is (the bytes decide what it is)."""

_TRIM = AfterValidator(str.strip)

MainlandMobile = Annotated[str, StringConstraints(pattern=r"^1[3-9][0-9]{9}$")]
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=s.NOT_BLANK), _TRIM]
Place = Annotated[str, StringConstraints(min_length=2, max_length=200, pattern=s.NOT_BLANK), _TRIM]
Licence = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{15,18}$")]
Plate = Annotated[
    str,
    StringConstraints(
        pattern=r"^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][A-HJ-NP-Z0-9]{5,6}$"
    ),
]
"""A mainland plate: province, letter, five (or six, new-energy) letters and digits, e.g. 浙A12345, 浙AD12345."""
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=s.NOT_BLANK), _TRIM]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=s.NOT_BLANK), _TRIM]
ReportNumber = Annotated[str, StringConstraints(pattern=r"^KC-[0-9]{8}-[0-9]{4,6}$")]
Code = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Amount = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}(\.[0-9]{1,2})?$")]


class ScenePoliceUnit(s.Open):
    id: str
    name: str
    region: str


class ScenePoliceUnits(s.Open):
    """Open traffic police units a driver may report to."""

    units: list[ScenePoliceUnit]


class SceneStart(s.Strict):
    """Driver 1 starts a report: the police unit, when and where, their name and mobile."""

    police_unit_id: s.Uuid
    occurred_at: AwareDatetime
    place: Place
    name: PersonName
    phone: MainlandMobile


class SceneStarted(s.Open):
    """The report, driver 1's scene link (keep it on the phone), and the join code for the other driver."""

    report: dict[str, object]
    driver: Literal[1]
    token: str
    expires_at: AwareDatetime
    join_code: str
    join_url: str
    join_expires_at: AwareDatetime


class SceneJoin(s.Strict):
    """Driver 2 joins with the report's number and the join code."""

    number: ReportNumber
    code: Code
    name: PersonName
    phone: MainlandMobile


class SceneJoined(s.Open):
    report: dict[str, object]
    driver: Literal[2]
    token: str
    expires_at: AwareDatetime


class SceneDriverItems(s.Strict):
    """A driver's items (all of them, each time)."""

    name: PersonName
    phone: MainlandMobile
    licence_number: Licence = Field(description="驾驶证号: 15-18 digits or capital letters")
    plate: Plate = Field(description="号牌号码, e.g. 浙A12345 (new-energy: 8 characters)")
    insurer: ShortText = Field(description="交强险承保公司, at most 60 characters")
    damaged_part: ShortText = Field(description="受损部位, at most 60 characters")


class ScenePhotoQuery(s.Strict):
    """What the phone says of the photo it sends as the body."""

    model_config = ConfigDict(extra="forbid", strict=False)

    slot: Literal["front", "rear", "collision", "driver_with_vehicle"]
    original_sha256: Hex64
    original_size: int = Field(ge=1, le=200 * 1024 * 1024)
    captured_at: AwareDatetime | None = None


class ScenePhotoOut(s.Open):
    id: str
    slot: str
    media_type: str
    sha256: str
    size: int
    width: int
    height: int


class SceneDriverReport(s.Open):
    """The report as a driver sees it (the other driver's name and plate only)."""

    id: str
    number: str
    state: str
    state_name: str
    driver: int
    me: dict[str, object]
    photos: list[dict[str, object]]
    missing: list[str]
    other: dict[str, object] | None
    finding: dict[str, object] | None


class SceneMediationRequest(s.Strict):
    """A driver asks for mediation of the compensation at an open mediation organisation (the public list:
    ``listPublicMediationOrganisations``); when both drivers asked at the same one, the report becomes a case."""

    organisation_id: s.Uuid


class SceneCaseLink(s.Open):
    """The driver's join link to the case the report became (keep it to yourself)."""

    case_id: str
    url: str
    expires_at: AwareDatetime


class SceneQueue(s.Open):
    reports: list[dict[str, object]]


class SceneOfficerReport(s.Open):
    """A report as its unit's officers see it: both drivers, every photo, the chain's verdict."""

    id: str
    number: str
    state: str
    drivers: list[dict[str, object]]
    photos: list[dict[str, object]]
    chain: dict[str, object]
    finding: dict[str, object] | None


class SceneReturn(s.Strict):
    reason: LongText


class SceneDriverLiability(s.Strict):
    number: Literal[1, 2]
    liability: Literal["full", "major", "equal", "minor", "none"]
    share: s.Count = Field(ge=0, le=100)


class LiabilityFindingRequest(s.Strict):
    """The liability finding: each driver's liability and share (adding up to 100), the facts, the reasons, and
    optionally the amount the drivers agreed and who pays it."""

    drivers: list[SceneDriverLiability] = Field(min_length=2, max_length=2)
    facts: LongText
    reasons: LongText
    agreed_amount: Amount | None = None
    payer: Literal[1, 2] | None = None


# ------------------------------------------------------------------ handlers


def report_id(request: web.Request) -> str:
    return request.match_info["report_id"]


async def driver(request: web.Request) -> TokenClaims:
    """The driver's scene link for the report in the path."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send the scene link's token: Authorization: Bearer <token>")
    return await request.app[SCENES].driver_claims(token.strip(), report_id(request), now(request))


async def list_units(request: web.Request) -> web.Response:
    return respond({"units": await request.app[SCENES].police_units()})


async def start(request: web.Request) -> web.Response:
    req = await body(request, SceneStart, MAX_BODY)
    out = await request.app[SCENES].start(
        req.police_unit_id, req.occurred_at, req.place, req.name, req.phone, now(request), request.remote or "-"
    )
    return respond(out, 201)


async def join(request: web.Request) -> web.Response:
    req = await body(request, SceneJoin, MAX_BODY)
    return respond(await request.app[SCENES].join(req.number, req.code, req.name, req.phone, now(request)), 201)


async def read_report(request: web.Request) -> web.Response:
    claims = await driver(request)
    return respond(await request.app[SCENE_MEDIATION].read_as_driver(claims, report_id(request), now(request)))


async def ask_mediation(request: web.Request) -> web.Response:
    claims = await driver(request)
    req = await body(request, SceneMediationRequest, MAX_BODY)
    out = await request.app[SCENE_MEDIATION].ask(claims, report_id(request), req.organisation_id, now(request))
    return respond(out)


async def case_link(request: web.Request) -> web.Response:
    claims = await driver(request)
    return respond(await request.app[SCENE_MEDIATION].join_link(claims, report_id(request), now(request)), 201)


async def set_items(request: web.Request) -> web.Response:
    claims = await driver(request)
    req = await body(request, SceneDriverItems, MAX_BODY)
    items = DriverItems(req.name, req.phone, req.licence_number, req.plate, req.insurer, req.damaged_part)
    return respond(await request.app[SCENES].set_items(claims, report_id(request), items, now(request)))


async def upload_photo(request: web.Request) -> web.Response:
    claims = await driver(request)
    meta = query(request, ScenePhotoQuery)
    if request.content_type not in PHOTO_TYPES:
        raise ApiError(415, "unsupported_media_type", "Send the photo as image/jpeg, image/png or image/heic")
    data = await raw_body(request, MAX_PHOTO_BYTES)
    upload = PhotoUpload(PhotoSlot(meta.slot), data, meta.original_sha256, meta.original_size, meta.captured_at)
    return respond(await request.app[SCENES].add_photo(claims, report_id(request), upload, now(request)), 201)


async def complete(request: web.Request) -> web.Response:
    claims = await driver(request)
    return respond(await request.app[SCENES].complete(claims, report_id(request), now(request)))


async def queue(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"reports": await request.app[SCENES].queue(who)})


async def read_for_officer(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[SCENES].read_as_officer(who, report_id(request)))


async def read_photo(request: web.Request) -> web.Response:
    who = await principal(request)
    data, media_type = await request.app[SCENES].photo(who, report_id(request), request.match_info["photo_id"])
    return web.Response(body=data, content_type=media_type, headers={"Cache-Control": "no-store"})


async def accept(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[SCENES].accept(who, report_id(request), now(request)))


async def return_report(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, SceneReturn, MAX_BODY)
    return respond(await request.app[SCENES].return_(who, report_id(request), req.reason, now(request)))


async def make_finding(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, LiabilityFindingRequest, MAX_BODY)
    given = FindingInput(
        liabilities={d.number: Liability(d.liability) for d in req.drivers},
        shares={d.number: d.share for d in req.drivers},
        facts=req.facts,
        reasons=req.reasons,
        agreed_amount=None if req.agreed_amount is None else Decimal(req.agreed_amount),
        payer=req.payer,
    )
    return respond(await request.app[SCENES].make_finding(who, report_id(request), given, now(request)))


async def close(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[SCENES].close(who, report_id(request), now(request)))


_TAGS = ("scene",)
_PUBLIC = f"{API}/public"
_DRIVER = f"{API}/scene-reports/{{report_id}}"
_DESK = f"{API}/police/scene-reports"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{_PUBLIC}/police-units",
        list_units,
        "Open traffic police units a driver may send a scene report to",
        "listPublicPoliceUnits",
        ScenePoliceUnits,
        auth=False,
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_PUBLIC}/scene-reports",
        start,
        "A driver starts a scene report (快处快赔): their scene link and the join code for the other driver",
        "startSceneReport",
        SceneStarted,
        status=201,
        body=SceneStart,
        auth=False,
        errors=(422, 429),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_PUBLIC}/scene-reports/join",
        join,
        "The other driver joins a scene report with its number and join code: their scene link",
        "joinSceneReport",
        SceneJoined,
        status=201,
        body=SceneJoin,
        auth=False,
        errors=(409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        _DRIVER,
        read_report,
        "A driver's scene report (scene link): its state, what is missing, the other driver's name and plate",
        "readSceneReport",
        SceneDriverReport,
        errors=(404,),
        tags=_TAGS,
    ),
    Endpoint(
        "PUT",
        f"{_DRIVER}/items",
        set_items,
        "A driver gives their items: licence number, plate, insurer, damaged part, name and mobile (scene link)",
        "setSceneDriverItems",
        SceneDriverReport,
        body=SceneDriverItems,
        errors=(404, 409),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DRIVER}/photos",
        upload_photo,
        "A driver uploads one photo as the raw body (checked from its bytes: JPEG, PNG or HEIC, size and pixels)",
        "uploadScenePhoto",
        ScenePhotoOut,
        status=201,
        query=ScenePhotoQuery,
        raw_body=PHOTO_TYPES,
        errors=(404, 409, 413, 415),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DRIVER}/complete",
        complete,
        "A driver completes their part (refused with what is missing); both completed: submitted to the police",
        "completeSceneDriverPart",
        SceneDriverReport,
        errors=(404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DRIVER}/mediation",
        ask_mediation,
        "A driver asks for mediation at an open mediation organisation once both signed the finding (scene link); "
        "when both asked at the same one, the report becomes a case referred there",
        "askSceneMediation",
        SceneDriverReport,
        body=SceneMediationRequest,
        errors=(404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DRIVER}/case-link",
        case_link,
        "A driver's join link to the case their report became (scene link; each call issues a new one)",
        "issueSceneCaseLink",
        SceneCaseLink,
        status=201,
        errors=(404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        _DESK,
        queue,
        "The police desk's queue of its unit's scene reports (submitted first, oldest first)",
        "listSceneQueue",
        SceneQueue,
        errors=(403,),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_DESK}/{{report_id}}",
        read_for_officer,
        "A scene report for its unit's officers: both drivers, every photo with its hashes, the chain's verdict",
        "readSceneReportForPolice",
        SceneOfficerReport,
        errors=(403, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_DESK}/{{report_id}}/photos/{{photo_id}}",
        read_photo,
        "A scene photo's bytes, for the report's unit's officers",
        "readScenePhoto",
        None,
        errors=(403, 404),
        raw_response=("image/jpeg", "image/png", "image/heic"),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DESK}/{{report_id}}/accept",
        accept,
        "An officer accepts a submitted scene report: the drivers may leave the scene",
        "acceptSceneReport",
        SceneOfficerReport,
        errors=(403, 404, 409),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DESK}/{{report_id}}/return",
        return_report,
        "An officer returns a submitted scene report to the drivers with a reason",
        "returnSceneReport",
        SceneOfficerReport,
        body=SceneReturn,
        errors=(403, 404, 409),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DESK}/{{report_id}}/finding",
        make_finding,
        "An officer makes the liability finding on an accepted scene report (shares adding up to 100)",
        "makeLiabilityFinding",
        SceneOfficerReport,
        body=LiabilityFindingRequest,
        errors=(403, 404, 409, 422),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DESK}/{{report_id}}/close",
        close,
        "An officer closes a scene report",
        "closeSceneReport",
        SceneOfficerReport,
        errors=(403, 404, 409),
        tags=_TAGS,
    ),
)
