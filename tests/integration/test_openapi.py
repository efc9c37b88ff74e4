"""The OpenAPI document is valid, covers every route, and describes what the server really returns."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from server.app import build_app
from server.config import Settings
from server.domain.roles import AccountKind
from server.endpoints import ENDPOINTS
from tests.builders import account, case_with_parties
from tests.conftest import Api
from tests.openapi import schema_validator

pytestmark = pytest.mark.asyncio


async def test_document_is_valid_and_covers_every_route(api: Api, tmp_path: Any) -> None:
    status, doc, _ = await api.call("GET", "/api/v1/openapi.json")
    assert status == 200
    validate(doc)
    app = build_app(Settings(data_dir=tmp_path, secret_key="k" * 40, transcript_engine="off"))
    routed = {
        (r.method.lower(), r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/v1") and r.method != "HEAD"
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert routed == documented
    assert len(documented) == len(ENDPOINTS)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["operationId"], (method, path)
            assert "500" in op["responses"] and "400" in op["responses"]
            if "{case_id}" in path:
                assert {"401", "404"} <= set(op["responses"]), (method, path)


async def test_responses_match_their_documented_schemas(api: Api) -> None:
    _, doc, _ = await api.call("GET", "/api/v1/openapi.json")
    c = await case_with_parties(api)
    checks = [
        ("GET", f"/api/v1/cases/{c['case_id']}", c["applicant"], None, "CaseView"),
        ("GET", f"/api/v1/cases/{c['case_id']}", c["mediator"], None, "CaseView"),
        ("GET", "/api/v1/cases", c["mediator"], None, "CaseList"),
        ("GET", f"/api/v1/cases/{c['case_id']}/audit", c["mediator"], None, "AuditTrail"),
        ("GET", "/api/v1/me", c["respondent"], None, "Me"),
        ("GET", "/api/v1/health", None, None, "Health"),
        ("GET", "/api/v1/cases/nope", c["mediator"], None, "Problem"),
        ("POST", f"/api/v1/cases/{c['case_id']}/participants", c["mediator"], {"role": 1}, "Problem"),
        (
            "POST",
            f"/api/v1/cases/{c['case_id']}/participants",
            c["mediator"],
            {"role": "insurer", "display_name": "保险公司"},
            "AddedParticipant",
        ),
    ]
    for method, path, token, payload, schema in checks:
        status, body, _ = await api.call(method, path, token, json=payload)
        errors = list(schema_validator(doc, schema).iter_errors(body))
        assert not errors, (method, path, status, errors[0].message)


# ---------------------------------------------------------------- the contract (issue 12 item 20)

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""The contract does not depend on the database: one backend keeps these tests short."""

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DOCUMENT_TYPES = {"application/pdf", "image/jpeg", "image/png", "text/plain", "application/json"}
"""What a stored document can be: uploads (PDF, JPEG, PNG, text) and platform JSON (manifests, packet indexes)."""


def operation(doc: dict[str, Any], operation_id: str) -> dict[str, Any]:
    return next(op for ops in doc["paths"].values() for op in ops.values() if op["operationId"] == operation_id)


def success_schema(doc: dict[str, Any], operation_id: str) -> jsonschema.Draft202012Validator:
    responses = operation(doc, operation_id)["responses"]
    ok = next(r for status, r in responses.items() if status.startswith("2"))
    schema = dict(ok["content"]["application/json"]["schema"])
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


@SQLITE_ONLY
async def test_an_unsupported_method_answers_405_with_allow(api: Api) -> None:
    _, doc, _ = await api.call("GET", "/api/v1/openapi.json")
    for path, ops in doc["paths"].items():
        documented = {m.upper() for m in ops}
        url = path.replace("{", "").replace("}", "")  # any value routes to the same resource
        for method in METHODS:
            if method in documented:
                continue
            status, body, resp = await api.call(method, url)
            assert status == 405, (method, path, status)
            assert resp.headers["Content-Type"].startswith("application/problem+json")
            assert body["code"] == "method_not_allowed"
            allow = {m.strip() for m in resp.headers.get("Allow", "").split(",") if m.strip()}
            assert allow - {"HEAD"} == documented, (method, path, allow)


@SQLITE_ONLY
async def test_raw_bodies_and_responses_are_documented_with_their_real_media_types(api: Api) -> None:
    _, doc, _ = await api.call("GET", "/api/v1/openapi.json")
    bodies = {
        "timestamp": {"application/timestamp-query"},
        "verifySignatures": {"application/pdf"},
        "receiveSmsReceipt": {"application/json"},
        "addDocument": {"application/pdf", "image/jpeg", "image/png", "text/plain"},
        "addConfirmationMaterial": {"application/pdf", "image/jpeg", "image/png"},
        "uploadReliefEvidence": {"application/pdf", "image/jpeg", "image/png", "text/plain"},
        "submitAppraisalOpinion": {"application/pdf"},
        "uploadScenePhoto": {"image/jpeg", "image/png", "image/heic", "application/octet-stream"},
    }
    for op_id, types in bodies.items():
        assert set(operation(doc, op_id)["requestBody"]["content"]) == types, op_id
    raw = {
        op["operationId"]: set(op["requestBody"]["content"])
        for ops in doc["paths"].values()
        for op in ops.values()
        if "requestBody" in op and "application/json" not in op["requestBody"]["content"]
    }
    assert set(raw) <= set(bodies), set(raw) - set(bodies)
    for op_id in ("readDocument", "readServedDocument"):
        assert set(operation(doc, op_id)["responses"]["200"]["content"]) == DOCUMENT_TYPES, op_id

    # what is documented is what the server takes: anything else is 415
    c = await case_with_parties(api)
    octets = {"Content-Type": "application/octet-stream"}
    status, body, _ = await api.call("POST", "/api/v1/tsa", data=b"\x30\x00", headers=octets)
    assert status == 415, body
    status, body, _ = await api.call("POST", "/api/v1/signatures/verify", c["mediator"], data=b"%PDF", headers=octets)
    assert status == 415, body
    status, body, _ = await api.call(
        "POST",
        f"/api/v1/cases/{c['case_id']}/documents?kind=evidence&title=t",
        c["mediator"],
        data=b"x",
        headers=octets,
    )
    assert status == 415, body

    # every documented type is taken, and a stored document comes back as its own type
    samples = {
        "application/pdf": b"%PDF-1.4\n%%EOF\n",
        "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "text/plain": "现场记录".encode(),
    }
    for media_type in operation(doc, "addDocument")["requestBody"]["content"]:
        status, stored, _ = await api.call(
            "POST",
            f"/api/v1/cases/{c['case_id']}/documents?kind=evidence&title=t",
            c["mediator"],
            data=samples[media_type],
            headers={"Content-Type": media_type},
        )
        assert status == 201, (media_type, stored)
        url = f"/api/v1/cases/{c['case_id']}/documents/{stored['id']}"
        status, _, resp = await api.call("GET", url, c["mediator"])
        assert status == 200 and resp.content_type == media_type


@SQLITE_ONLY
async def test_a_session_record_is_described_and_its_422s_are_documented(api: Api) -> None:
    _, doc, _ = await api.call("GET", "/api/v1/openapi.json")
    c = await case_with_parties(api)
    base = f"/api/v1/cases/{c['case_id']}"
    starts = (api.clock() + timedelta(hours=1)).isoformat()
    status, scheduled, _ = await api.call("POST", f"{base}/sessions", c["mediator"], json={"starts_at": starts})
    assert status == 201, scheduled.get("errors")
    sid = scheduled["session_id"]
    validator = success_schema(doc, "readTranscript")
    for url in (f"{base}/transcript", f"{base}/transcript?session_id={sid}"):
        status, body, _ = await api.call("GET", url, c["mediator"])
        assert status == 200, body
        errors = [e.message for e in validator.iter_errors(body)]
        assert not errors, (url, errors)

    status, body, _ = await api.call("GET", f"{base}/transcript?session_id=nope", c["mediator"])
    assert status == 422 and body["code"] == "validation_failed"
    assert "422" in operation(doc, "readTranscript")["responses"]
    status, body, _ = await api.call("POST", f"{base}/record/finalise", c["mediator"], json={})
    assert status == 422 and body["code"] == "validation_failed"
    assert "422" in operation(doc, "finaliseRecord")["responses"]
    # every operation that validates a body or a query says it may answer 422
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op or any(p["in"] == "query" for p in op.get("parameters", [])):
                assert "422" in op["responses"], (method, path)


@SQLITE_ONLY
async def test_the_documented_string_limits_are_the_enforced_ones(api: Api) -> None:
    """A title the schema allows is taken, one it refuses is refused: lengths count the raw text."""
    _, doc, _ = await api.call("GET", "/api/v1/openapi.json")
    _, mediator = await account(api, AccountKind.MEDIATOR, "王调解员")
    validator = schema_validator(doc, "CreateCaseRequest")
    titles = ["a" * 200, "a" * 201, " " + "a" * 199, " " + "a" * 200, "a" * 200 + "\n", "   ", "", " 追尾 "]
    for title in titles:
        payload = {"kind": "traffic_accident", "title": title}
        valid = validator.is_valid(payload)
        status, body, _ = await api.call("POST", "/api/v1/cases", mediator, json=payload)
        assert status == (201 if valid else 422), (repr(title), valid, status, body)
        if status == 201:
            assert body["title"] == title.strip()


@SQLITE_ONLY
async def test_the_documented_text_pattern_is_the_enforced_one(api: Api) -> None:
    """Request text with a control character is refused exactly where the document's pattern says so."""
    _, doc, _ = await api.call("GET", "/api/v1/openapi.json")
    _, mediator = await account(api, AccountKind.MEDIATOR, "王调解员")
    validator = schema_validator(doc, "CreateCaseRequest")
    edges = "\x00\x08\t\n\x0b\x0c\r\x0e\x1f \x7e\x7f\x80\x9f\xa0\u2027\u2028\u2029\u202a\ufefe\ufeff\ufff8\ufff9\ufffb\ufffc"
    for ch in edges:
        payload = {"kind": "traffic_accident", "title": f"追尾{ch}事故"}
        valid = validator.is_valid(payload)
        status, body, _ = await api.call("POST", "/api/v1/cases", mediator, json=payload)
        assert status == (201 if valid else 422), (hex(ord(ch)), valid, status, body)
