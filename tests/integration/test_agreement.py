"""The mediation agreement over real HTTP on SQLite and PostgreSQL: the compensation calculator,
versioned drafts rendered to PDF (read back with pdftotext), comments by the parties, and who may
do what."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from typing import Any

import pytest

from tests.builders import CLAIM, TERMS, between_sessions, case_with_parties
from tests.conftest import Api

pytestmark = pytest.mark.asyncio


def money(split: dict[str, Any], role: str) -> str:
    return next(p["total"] for p in split["payers"] if p["role"] == role)


async def test_the_calculator_splits_a_claim(api: Api) -> None:
    c = await case_with_parties(api)
    url = f"/api/v1/cases/{c['case_id']}/agreement/calculate"
    status, split, _ = await api.call("POST", url, c["mediator"], json=CLAIM)
    assert status == 200, split
    # the compulsory insurer pays 18,000 of the medical costs, all 20,000 of the lost income
    # (within 180,000) and 2,000 of the property loss; the commercial insurer the other 15,000
    assert split["grand_total"] == "55000.00"
    assert money(split, "compulsory_insurer") == "40000.00"
    assert money(split, "commercial_insurer") == "15000.00"
    assert split["explanation"]
    # money as a float is refused (it may already be rounded), naming the item
    bad = {**CLAIM, "items": [{"kind": "医疗费", "amount": 30000.5}]}
    status, body, _ = await api.call("POST", url, c["mediator"], json=bad)
    assert status == 422 and "医疗费" in body["detail"] and "text" in body["detail"]
    status, body, _ = await api.call("POST", url, c["applicant"], json=CLAIM)
    assert (status, body["code"]) == (403, "forbidden")


async def test_drafts_are_versions_the_parties_read_and_comment_on(api: Api) -> None:
    c = await between_sessions(api)
    cid, med = c["case_id"], c["mediator"]
    base = f"/api/v1/cases/{cid}/agreement/drafts"
    status, body, _ = await api.call("POST", base, c["applicant"], json=TERMS)
    assert (status, body["code"]) == (403, "forbidden")
    status, v1, _ = await api.call("POST", base, med, json=TERMS)
    assert status == 201, v1
    assert v1["version"] == 1 and v1["document"]["kind"] == "agreement_draft"
    signers = v1["terms"]["signers"]
    assert [s["role"] for s in signers] == ["applicant", "respondent", "mediator"]  # the mediator last
    assert all(len(s["box"]) == 4 for s in signers)
    assert v1["terms"]["split"]["grand_total"] == "55000.00"
    # the applicant reads the PDF: Chinese text, the table, the version, a masked ID number
    status, pdf, _ = await api.call("GET", f"/api/v1/cases/{cid}/documents/{v1['document']['id']}", c["applicant"])
    assert status == 200 and pdf[:5] == b"%PDF-"
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    flat = "".join(text.split())
    for expected in ("调解协议书", "第1稿", "医疗费", "55,000.00", "甲保险公司", "110***********1234", "司法确认"):
        assert expected in flat, expected
    assert "110101199001011234" not in flat
    # comments on version 1, then a second draft
    for who, words in (("applicant", "误工费应按实际收入计算。"), ("respondent", "同意。")):
        status, body, _ = await api.call("POST", f"{base}/1/comments", c[who], json={"text": words})
        assert status == 201, body
        api.clock.advance(timedelta(seconds=1))  # comments are listed in the order they were made
    status, body, _ = await api.call("POST", f"{base}/2/comments", c["applicant"], json={"text": "x"})
    assert status == 404
    status, body, _ = await api.call("POST", f"{base}/1/comments", c["applicant"], json={"text": ""})
    assert status == 422
    status, v2, _ = await api.call("POST", base, med, json={**TERMS, "other_terms": ["误工费按实际收入计算。"]})
    assert status == 201 and v2["version"] == 2
    status, listing, _ = await api.call("GET", base, c["respondent"])
    assert status == 200
    assert [d["version"] for d in listing["drafts"]] == [1, 2]
    assert [x["name"] for x in listing["drafts"][0]["comments"]] == ["张三", "李四"]
    assert listing["drafts"][1]["comments"] == []
    status, view, _ = await api.call("GET", f"/api/v1/cases/{cid}", med)
    assert view["state"] == "agreement_drafted"
    # the audit trail keeps each comment's hash, never its text
    entries = (await api.call("GET", f"/api/v1/cases/{cid}/audit", med))[1]["entries"]
    comments = [e for e in entries if e["action"] == "agreement.comment"]
    assert len(comments) == 2 and all(len(e["details"]["sha256"]) == 64 for e in comments)
    assert "误工费应按实际收入计算" not in str(entries)


async def test_no_draft_in_a_state_that_forbids_it_and_nothing_is_stored(api: Api) -> None:
    c = await case_with_parties(api)  # filed: no session has been held
    cid = c["case_id"]
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/agreement/drafts", c["mediator"], json=TERMS)
    assert (status, body["code"]) == (409, "illegal_transition")
    status, view, _ = await api.call("GET", f"/api/v1/cases/{cid}", c["mediator"])
    assert view["documents"] == []
    bad = {**TERMS, "obligations": [{**TERMS["obligations"][0], "due": "31/12/2026"}]}
    c2 = await between_sessions(api)
    status, body, _ = await api.call(
        "POST", f"/api/v1/cases/{c2['case_id']}/agreement/drafts", c2["mediator"], json=bad
    )
    assert status == 422 and "YYYY-MM-DD" in body["detail"]
