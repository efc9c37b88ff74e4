"""Endpoints of the signing core: the platform's RFC 3161 timestamp authority, its CA
certificate, and verification reports of signed PDFs (uploaded, or stored on a case)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization

from e_sign.verify import Report, verify_pdf
from server.agreement.signing import Keys
from server.api import schemas as s
from server.api.problems import ApiError
from server.api.routes import _CASE, API, SERVICE, Endpoint, case_id, principal, raw_body, respond
from server.errors import InvalidCommand

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
