"""The export of a closed case over real HTTP on both databases: content, hashes, audit head, access."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest

from server.domain.roles import AccountKind
from server.export.endpoints import EXPORTER
from server.identity.access import new_id
from server.store.record import RecordEdit, RecordStore, TranscriptLine
from tests.builders import APPLICANT, RESPONDENT, account, case_with_parties
from tests.conftest import Api
from tests.openapi import schema_validator

pytestmark = pytest.mark.asyncio


async def upload(api: Api, token: str, cid: str, data: bytes, media_type: str, query: str) -> dict[str, Any]:
    status, doc, _ = await api.call(
        "POST", f"/api/v1/cases/{cid}/documents?{query}", token, data=data, headers={"Content-Type": media_type}
    )
    assert status == 201, doc
    return dict(doc)


async def closed_case(api: Api) -> dict[str, Any]:
    """A case with a judge, two documents, a session with a corrected transcript line, then withdrawn."""
    c = await case_with_parties(api)
    cid, med = c["case_id"], c["mediator"]
    judge_name, c["judge"] = await account(api, AccountKind.JUDGE)
    status, body, _ = await api.call(
        "POST",
        f"/api/v1/cases/{cid}/participants",
        med,
        json={"role": "judge", "display_name": "陈法官", "account_username": judge_name},
    )
    assert status == 201, body
    c["documents"] = [
        await upload(
            api,
            med,
            cid,
            b"%PDF-1.7\n% liability finding\n",
            "application/pdf",
            "kind=liability_finding&title=责任认定书&visibility=parties",
        ),
        await upload(api, med, cid, "内部备注".encode(), "text/plain", "kind=note&title=备注"),
    ]
    starts = (api.clock() + timedelta(minutes=10)).isoformat()
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions", med, json={"starts_at": starts})
    assert status == 201, body
    sid = body["session_id"]
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions/{sid}/start", med)
    assert status == 200, body
    now = api.clock()
    line = TranscriptLine(
        new_id(), cid, sid, c["applicant_id"], now, now + timedelta(seconds=3), "我要求赔偿一万元", "zh", "test"
    )
    records = RecordStore(api.repo)
    await records.add_transcript_line(line, now)
    await records.add_record_edit(
        RecordEdit(new_id(), cid, sid, line.id, "correction", "我要求赔偿一万二千元", "account:x", now), now
    )
    c["line"] = line
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions/{sid}/end", med)
    assert status == 200, body
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/withdraw", med, json={"reason": "申请人撤回"})
    assert status == 200 and body["state"] == "withdrawn", body
    return c


async def test_a_closed_case_exports_with_hashes_that_match_the_downloads(api: Api) -> None:
    c = await closed_case(api)
    cid, med = c["case_id"], c["mediator"]
    status, out, resp = await api.call("GET", f"/api/v1/cases/{cid}/export", med)
    assert status == 200, out
    assert resp.headers["Cache-Control"] == "no-store"
    _, doc, _ = await api.call("GET", "/api/v1/openapi.json")
    errors = list(schema_validator(doc, "CaseExport").iter_errors(out))
    assert not errors, errors[0].message
    assert out["format"] == "mediation-case-export/1"
    _, view, _ = await api.call("GET", f"/api/v1/cases/{cid}", med)
    assert out["case"] == {
        "id": cid,
        "number": view["number"],
        "kind": "traffic_accident",
        "title": view["title"],
        "state": "withdrawn",
        "filed_at": view["filed_at"],
        "agreement_effective_at": None,
        "outcome_reason": "申请人撤回",
    }
    # every document, staff-only ones included, and each hash is that of the bytes served
    assert sorted(d["id"] for d in out["documents"]) == sorted(d["id"] for d in c["documents"])
    for d in out["documents"]:
        assert d["download"] == f"/api/v1/cases/{cid}/documents/{d['id']}"
        status, data, _ = await api.call("GET", d["download"], med)
        assert status == 200
        assert hashlib.sha256(data).hexdigest() == d["sha256"] and len(data) == d["size"]
    # contact details only masked
    people = {p["role"]: p for p in out["participants"]}
    assert set(people) == {"mediator", "applicant", "respondent", "judge"}
    assert people["applicant"]["phone_masked"] == "139****5678"
    assert people["applicant"]["id_number_masked"] == "110***********1234"
    assert people["respondent"]["email_masked"] == "l***@example.org"
    assert people["mediator"]["phone_masked"] is None
    text = json.dumps(out, ensure_ascii=False)
    for secret in (APPLICANT["phone"], APPLICANT["id_number"], RESPONDENT["phone"], RESPONDENT["email"]):
        assert secret not in text
    # the session and the transcript line, with its correction as the text
    [session] = out["sessions"]
    assert session["status"] == "ended" and session["started_at"] and session["ended_at"]
    line = c["line"]
    assert out["transcript"] == [
        {
            "id": line.id,
            "session_id": line.session_id,
            "participant_id": c["applicant_id"],
            "started_at": line.started_at.isoformat(),
            "ended_at": line.ended_at.isoformat(),
            "text": "我要求赔偿一万二千元",
            "corrected": True,
        }
    ]
    # the audit head is the trail's last entry: the export itself
    _, trail, _ = await api.call("GET", f"/api/v1/cases/{cid}/audit", med)
    last = trail["entries"][-1]
    assert last["action"] == "case.exported" and last["actor"].startswith("account:")
    assert out["audit"] == {
        "entries": len(trail["entries"]),
        "head": last["hash"],
        "head_seq": last["seq"],
        "chain_intact": True,
    }
    # the judge of the case may export too
    status, by_judge, _ = await api.call("GET", f"/api/v1/cases/{cid}/export", c["judge"])
    assert status == 200 and by_judge["case"] == out["case"]


async def test_sections_registered_by_other_parts_are_added(api: Api) -> None:
    c = await closed_case(api)

    async def notes(case_id: str) -> tuple[str, Any]:
        return "partner_notes", {"case": case_id, "items": []}

    exporter = api.app[EXPORTER]
    exporter.sections.append(notes)
    status, out, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}/export", c["mediator"])
    assert status == 200
    assert out["partner_notes"] == {"case": c["case_id"], "items": []}
    assert out["service"] == [] and out["confirmation"] is None  # the platform's own sections
    _, doc, _ = await api.call("GET", "/api/v1/openapi.json")
    assert not list(schema_validator(doc, "CaseExport").iter_errors(out))


async def test_open_cases_parties_and_strangers_are_refused(api: Api) -> None:
    c = await case_with_parties(api)
    cid, med = c["case_id"], c["mediator"]
    status, body, _ = await api.call("GET", f"/api/v1/cases/{cid}/export", med)
    assert (status, body["code"]) == (422, "invalid_command")
    assert body["detail"].startswith("Only a closed case can be exported")
    assert 'state "filed"' in body["detail"]
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/withdraw", med, json={})
    assert status == 200
    for party in ("applicant", "respondent"):
        status, body, _ = await api.call("GET", f"/api/v1/cases/{cid}/export", c[party])
        assert (status, body["code"]) == (403, "forbidden")
    other = await case_with_parties(api)
    status, body, _ = await api.call("GET", f"/api/v1/cases/{cid}/export", other["mediator"])
    assert (status, body["code"]) == (404, "not_found")
    status, body, _ = await api.call("GET", f"/api/v1/cases/{cid}/export")
    assert (status, body["code"]) == (401, "unauthenticated")
    # none of the refusals was recorded as an export
    _, trail, _ = await api.call("GET", f"/api/v1/cases/{cid}/audit", med)
    assert "case.exported" not in [e["action"] for e in trail["entries"]]
