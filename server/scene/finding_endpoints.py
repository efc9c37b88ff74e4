"""The electronic accident finding's endpoints: the drivers (with their scene link) read it, ask for a code and
sign; the officers of the report's police unit (with their login) follow the signing and read the file.

Who may do what::

    a driver of the report (scene link)   readSceneFinding, readSceneFindingDocument, sendSceneFindingCode,
                                          signSceneFinding (another report's link: 404; any other token: 401)
    an officer of the report's unit       readSceneFindingForOfficer, readSceneFindingDocumentForOfficer
                                          (officers of other units: 404; other accounts: 403)
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, Field, StringConstraints

from server.documents.marks import MAX_MARK_BYTES
from server.http import schemas as s
from server.http.kit import API, Endpoint, body, now, principal, respond, stored_file
from server.scene.endpoints import driver, report_id
from server.scene.finding_signing import Asker, FindingService, SceneReports
from server.scene.finding_store import FindingFile

FINDINGS: web.AppKey[FindingService] = web.AppKey("scene_findings", FindingService)
FINDING_ACCESS: web.AppKey[SceneReports] = web.AppKey("scene_finding_access", SceneReports)
"""Who asks: a driver of the report or an officer of its unit."""
SIGN_BODY_LIMIT = MAX_MARK_BYTES * 4 // 3 + 1024
"""A base64 mark of the largest size allowed, and the code."""
_TAGS = ("scene",)


class SignFindingIn(s.Strict):
    """The driver's one-time code and handwritten mark."""

    code: Annotated[str, StringConstraints(pattern=r"^\s*\d{6}\s*$")] = Field(
        description="The 6-digit code sent by SMS"
    )
    mark: Annotated[str, StringConstraints(min_length=8, max_length=MAX_MARK_BYTES * 4 // 3 + 4)] = Field(
        description="The handwritten mark: a PNG, base64"
    )


class FindingFileOut(s.Open):
    """The newest file of the finding."""

    seq: int = Field(description="0: certified by the police unit; 1, 2: with one, then both drivers' signatures")
    sha256: str
    size: int
    created_at: AwareDatetime


class FindingDriverOut(s.Open):
    """A driver and their signature."""

    number: int
    label: str = Field(description="当事人甲 / 当事人乙")
    name: str
    signed_at: AwareDatetime | None


class FindingStatusOut(s.Open):
    """Where the signing of the electronic accident finding stands."""

    report_id: str
    number: str
    state: str
    you: int | None = Field(description="The caller's driver number; null for an officer")
    complete: bool = Field(description="Both drivers signed")
    rendered_sha256: str = Field(description="SHA-256 of the finding as rendered, before fields and signatures")
    document: FindingFileOut
    drivers: list[FindingDriverOut]


class FindingCodeOut(s.Open):
    """Where the code went (masked) and until when it works."""

    channel: str
    to: str
    expires_at: AwareDatetime


async def _driver(request: web.Request) -> Asker:
    claims = await driver(request)
    return await request.app[FINDING_ACCESS].driver(claims.subject, report_id(request))


async def _officer(request: web.Request) -> Asker:
    who = await principal(request)
    return await request.app[FINDING_ACCESS].officer(who, report_id(request))


def _pdf(file: FindingFile, data: bytes, number: str) -> web.Response:
    return stored_file(data, "application/pdf", file.sha256, f'inline; filename="accident-finding-{number}.pdf"')


async def read_status(request: web.Request) -> web.Response:
    asker = await _driver(request)
    return respond(await request.app[FINDINGS].status(asker, now(request)))


async def read_document(request: web.Request) -> web.Response:
    asker = await _driver(request)
    file, data = await request.app[FINDINGS].document(asker, now(request))
    return _pdf(file, data, asker.report.number)


async def send_code(request: web.Request) -> web.Response:
    asker = await _driver(request)
    return respond(await request.app[FINDINGS].send_code(asker, now(request)), 201)


async def sign(request: web.Request) -> web.Response:
    asker = await _driver(request)
    req = await body(request, SignFindingIn, SIGN_BODY_LIMIT)
    return respond(await request.app[FINDINGS].sign(asker, req.code, req.mark, now(request)), 201)


async def officer_status(request: web.Request) -> web.Response:
    asker = await _officer(request)
    return respond(await request.app[FINDINGS].status(asker, now(request)))


async def officer_document(request: web.Request) -> web.Response:
    asker = await _officer(request)
    file, data = await request.app[FINDINGS].document(asker, now(request))
    return _pdf(file, data, asker.report.number)


_DRIVER = f"{API}/scene-reports/{{report_id}}/finding"
_DESK = f"{API}/police/scene-reports/{{report_id}}/finding"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        _DRIVER,
        read_status,
        "A driver reads where the signing of the electronic accident finding stands (issued on first reading)",
        "readSceneFinding",
        FindingStatusOut,
        errors=(404,),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_DRIVER}/document",
        read_document,
        "A driver reads the electronic accident finding (PDF, with the signatures made so far)",
        "readSceneFindingDocument",
        None,
        raw_response="application/pdf",
        errors=(404,),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DRIVER}/code",
        send_code,
        "A driver asks for a one-time code by SMS to sign the finding (one a minute, 10 a day)",
        "sendSceneFindingCode",
        FindingCodeOut,
        status=201,
        errors=(404, 409, 422, 429, 503),
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        f"{_DRIVER}/signature",
        sign,
        "A driver signs the finding with the code and a handwritten mark (PAdES B-T, an incremental update)",
        "signSceneFinding",
        FindingStatusOut,
        status=201,
        body=SignFindingIn,
        errors=(403, 404, 409, 422, 429, 503),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_DESK}/signing",
        officer_status,
        "An officer of the report's unit follows the drivers' signing of the electronic accident finding",
        "readSceneFindingForOfficer",
        FindingStatusOut,
        errors=(403, 404),
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        f"{_DESK}/document",
        officer_document,
        "An officer of the report's unit reads the electronic accident finding (PDF)",
        "readSceneFindingDocumentForOfficer",
        None,
        raw_response="application/pdf",
        errors=(403, 404),
        tags=_TAGS,
    ),
)

__all__ = ["ENDPOINTS", "FINDINGS", "FINDING_ACCESS"]
