"""Endpoints of the intake API: a police agency's system files a case (HMAC-signed, no bearer token), and the
case's staff read what it sent."""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, Field

from server.http import schemas as s
from server.http.kit import _CASE, API, Endpoint, case_id, now, principal, read_all, respond
from server.http.problems import ApiError
from server.intake.document import MAX_BODY, IntakeDocument, reference_errors
from server.intake.usecases import IntakeService

INTAKE: web.AppKey[IntakeService] = web.AppKey("intake", IntakeService)


class IntakeOrganisation(s.Open):
    """The mediation organisation whose queue the case joined."""

    id: str
    name: str


class IntakeCase(s.Open):
    """The case the document filed."""

    id: str
    number: str
    state: str = Field(description='"referred" until the organisation assigns it')
    organisation: IntakeOrganisation


class IntakeFiled(s.Open):
    """The case of the police case number: filed now (201) or before (200)."""

    case: IntakeCase
    police_case_number: str
    created: bool = Field(description="True when this request filed the case, False when it was filed before")
    invitations: str = Field(description="No links are sent by the intake: the mediator invites the parties")


class IntakeShareOut(s.Open):
    party: str
    liability: Literal["full", "major", "equal", "minor", "none"]
    share_percent: int


class IntakeFindingOut(s.Open):
    shares: list[IntakeShareOut]
    reasons: str
    finding_number: str | None


class IntakeAccidentOut(s.Open):
    occurred_at: AwareDatetime
    place: str
    summary: str


class IntakeRecord(s.Open):
    """What the police's system sent about the case: the accident, who is who, vehicles, insurers and the
    liability finding (the calculator reads the shares here)."""

    case_id: str
    police_case_number: str
    accident: IntakeAccidentOut
    parties: list[dict[str, str | None]]
    vehicles: list[dict[str, str | None]]
    insurers: list[dict[str, str]]
    liability: IntakeFindingOut


async def file_case(request: web.Request) -> web.Response:
    service = request.app[INTAKE]
    key = await service.signer(request.headers)  # before reading the body
    raw = await read_all(request, MAX_BODY)
    await service.authenticate(key, request.method, request.path, request.headers, raw, now(request))
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the document as application/json")
    doc = await asyncio.to_thread(IntakeDocument.model_validate_json, raw or b"null")  # base64 and sniffing
    errors = reference_errors(doc) + await service.destination_errors(doc)
    if errors:
        raise ApiError(422, "validation_failed", "The document's parts do not agree", errors)
    status, out = await service.receive(key, doc, now(request))
    return respond(out, status)


async def read_intake(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[INTAKE].finding(who, case_id(request)))


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{API}/intake/cases",
        file_case,
        "A traffic police agency's system files a case (HMAC-signed per agency, idempotent on the police case "
        "number; the request schema says how to sign): 201 filed, 200 filed before",
        "fileIntakeCase",
        IntakeFiled,
        status=201,
        body=IntakeDocument,
        auth=False,
        errors=(401, 409, 422, 503),
        tags=("intake",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/intake",
        read_intake,
        "What the police's system sent about the case (accident, vehicles, insurers, liability finding), for its staff",
        "readIntakeFinding",
        IntakeRecord,
        errors=(401, 403, 404),
        tags=("intake",),
    ),
)
