"""Endpoints of the signing core: the platform's RFC 3161 timestamp authority, its CA
certificate, and verification reports of signed PDFs (uploaded, or stored on a case)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from pydantic import Field

from e_sign.verify import Report, verify_pdf
from server.cases.endpoints import SERVICE
from server.errors import InvalidCommand
from server.http import schemas as s
from server.http.kit import _CASE, API, Endpoint, body, case_id, now, principal, raw_body, respond
from server.http.problems import ApiError
from server.signing.usecases import Keys, SigningService

SIGNINGS: web.AppKey[SigningService] = web.AppKey("signings", SigningService)


class OpenSigningRequest(s.Strict):
    """Open signing on the current draft."""

    deadline_hours: s.Count = Field(default=72, ge=1, le=720)


MAX_MARK_CHARS = 360_000
"""The longest handwritten mark accepted (base64 of a PNG)."""

SIGN_BODY_LIMIT = MAX_MARK_CHARS + 4096
"""A signature's body: the mark plus the code or password and the JSON around them."""


class SignRequest(s.Strict):
    """A signature: the one-time code and the handwritten mark."""

    code: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="A party's one-time code")
    password: str | None = Field(default=None, max_length=256, description="The mediator's account password")
    mark_png: str = Field(min_length=16, max_length=MAX_MARK_CHARS, description="The handwritten mark, PNG, base64")


class OpenedSigning(s.Open):
    """The file prepared for signing, its signers in order, and the deadline."""

    document: dict[str, Any]
    signers: list[dict[str, Any]]
    deadline: str


class SigningView(s.Open):
    """Who signs, who signed when, the newest file, and the completion certificate once all have signed."""

    state: str
    deadline: str
    document: dict[str, Any]
    certificate: dict[str, Any] | None
    you: dict[str, Any]
    signers: list[dict[str, Any]]


class SignedView(s.Open):
    """The newest file after a signature; the certificate when it was the last one."""

    state: str
    document: dict[str, Any]
    certificate: dict[str, Any] | None = None


class CodeSent(s.Open):
    """Where the code went (masked)."""

    channel: str
    to: str
    expires_at: str


async def open_signing(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, OpenSigningRequest)
    return respond(await request.app[SIGNINGS].open(who, case_id(request), req.deadline_hours, now(request)), 201)


async def signing_status(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[SIGNINGS].status(who, case_id(request), now(request)))


async def send_code(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond(await request.app[SIGNINGS].send_code(who, case_id(request), now(request)), 201)


async def sign(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, SignRequest, SIGN_BODY_LIMIT)
    return respond(
        await request.app[SIGNINGS].sign(who, case_id(request), req.code, req.password, req.mark_png, now(request)), 201
    )


MAX_TSA_REQUEST = 16 * 1024
MAX_PDF = 20 * 1024 * 1024


SIGNING: web.AppKey[Keys] = web.AppKey("signing", Keys)
"""The platform's signing CA and timestamp authority."""


def report_view(report: Report) -> dict[str, Any]:
    """A verification report, JSON-ready (one entry per signature, in signing order)."""
    return {
        "ok": report.ok,
        "revisions": report.revisions,
        "problems": list(report.problems),
        "reasons": report.reasons,
        "signatures": [
            {
                "field": c.field_name,
                "ok": c.ok,
                "revision": c.revision,
                "signer": c.signer_name,
                "case_number": c.case_number,
                "signing_time": c.signing_time.isoformat() if c.signing_time else None,
                "timestamp_time": c.timestamp_time.isoformat() if c.timestamp_time else None,
                "timestamp_authority": c.timestamp_authority,
                "intact": c.intact,
                "valid": c.valid,
                "chain_ok": c.chain_ok,
                "timestamp_ok": c.timestamp_ok,
                "covers_whole_file": c.covers_whole_file,
                "coverage": c.coverage,
                "modification_level": c.modification_level,
                "unsigned_revisions_after": list(c.unsigned_revisions_after),
                "problems": list(c.problems),
            }
            for c in report.signatures
        ],
    }


async def _read_limited(request: web.Request, limit: int, media_type: str) -> bytes:
    if request.content_type != media_type:
        raise ApiError(415, "unsupported_media_type", f"Send the body as {media_type}")
    return await raw_body(request, limit)


async def timestamp(request: web.Request) -> web.Response:
    """RFC 3161 over HTTP (RFC 3161 §3.4): a TimeStampReq in, a TimeStampResp out (rejections too)."""
    data = await _read_limited(request, MAX_TSA_REQUEST, "application/timestamp-query")
    reply = request.app[SIGNING].tsa.respond(data)
    return web.Response(body=reply, content_type="application/timestamp-reply", headers={"Cache-Control": "no-store"})


async def ca_certificate(request: web.Request) -> web.Response:
    pem = request.app[SIGNING].ca.certificate.public_bytes(serialization.Encoding.PEM)
    return web.Response(body=pem, content_type="application/x-pem-file", headers={"Cache-Control": "max-age=3600"})


async def _report(request: web.Request, pdf: bytes) -> web.Response:
    roots = request.app[SIGNING].trust_roots
    report = await asyncio.to_thread(verify_pdf, pdf, roots)  # pyHanko's analysis: about 0.3 s a signature
    return respond(report_view(report))


async def verify_upload(request: web.Request) -> web.Response:
    await principal(request)  # anyone signed in; nothing of a case is read
    return await _report(request, await _read_limited(request, MAX_PDF, "application/pdf"))


async def verify_document(request: web.Request) -> web.Response:
    who = await principal(request)
    doc, data = await request.app[SERVICE].read_document(who, case_id(request), request.match_info["document_id"])
    if doc.media_type != "application/pdf":
        raise InvalidCommand("Only PDF documents carry signatures")  # a rule of the document, not the schema
    return await _report(request, data)


class ReportView(s.Open):
    """Whether every signature holds, and why not."""

    ok: bool
    revisions: int
    problems: list[str]
    reasons: list[str]
    signatures: list[dict[str, Any]]


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{_CASE}/signing",
        open_signing,
        "Open signing on the current draft: every signer's field prepared, the mediator last",
        "openSigning",
        OpenedSigning,
        status=201,
        body=OpenSigningRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("signing",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/signing",
        signing_status,
        "Who signs, who has signed and when, and the newest signed file",
        "readSigning",
        SigningView,
        errors=(401, 403, 404),
        tags=("signing",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/signing/code",
        send_code,
        "Send the signer a one-time code to their registered phone or e-mail",
        "sendSigningCode",
        CodeSent,
        status=201,
        errors=(401, 403, 404, 422, 429, 503),
        tags=("signing",),
    ),
    Endpoint(
        "POST",
        f"{_CASE}/signing/sign",
        sign,
        "Sign: the one-time code and the handwritten mark; a PAdES B-T signature is added to the PDF",
        "sign",
        SignedView,
        status=201,
        body=SignRequest,
        errors=(401, 403, 404, 409, 422, 429, 503),
        tags=("signing",),
    ),
    Endpoint(
        "POST",
        f"{API}/tsa",
        timestamp,
        "The platform's RFC 3161 time-stamp authority (application/timestamp-query)",
        "timestamp",
        None,
        auth=False,
        errors=(413, 415, 422),
        raw_body="application/timestamp-query",
        raw_response="application/timestamp-reply",
        tags=("signing",),
    ),
    Endpoint(
        "GET",
        f"{API}/signing/ca",
        ca_certificate,
        "The platform signing CA's certificate (PEM): the trust anchor for validating signed agreements",
        "signingCaCertificate",
        None,
        auth=False,
        raw_response="application/x-pem-file",
        tags=("signing",),
    ),
    Endpoint(
        "POST",
        f"{API}/signatures/verify",
        verify_upload,
        "Verify every signature of an uploaded PDF against the platform CA: a report per signature",
        "verifySignatures",
        ReportView,
        errors=(401, 413, 415, 422),
        raw_body="application/pdf",
        tags=("signing",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/documents/{{document_id}}/signatures",
        verify_document,
        "Verify every signature of a stored PDF document of the case",
        "verifyDocumentSignatures",
        ReportView,
        errors=(401, 403, 404, 422),
        tags=("signing",),
    ),
)
