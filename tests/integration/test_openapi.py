"""The OpenAPI document is valid, covers every route, and describes what the server really returns."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from server.api.table import ENDPOINTS
from server.app import build_app
from server.config import Settings
from tests.conftest import Api
from tests.integration.test_api import case_with_parties

pytestmark = pytest.mark.asyncio


def schema_validator(doc: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema)


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
