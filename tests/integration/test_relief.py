"""Relief fund advances (救助基金垫付) and recovery (追偿) over the real API (SQLite and PostgreSQL): the applicant
applies from their link with evidence, the fund asks for more, approves and pays, recovers in two parts; a refusal;
bounds; and who sees what (another fund's officer, a party of another case: 404)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from server.domain.roles import AccountKind
from tests.builders import case_with_parties, staff_of
from tests.conftest import Api

pytestmark = pytest.mark.asyncio

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


async def _fund(api: Api, name: str) -> tuple[str, str]:
    """A fund officer's token and the fund's id."""
    token = await staff_of(api, AccountKind.FUND_OFFICER, name, "卫经办人")
    status, mine, _ = await api.call("GET", "/api/v1/organisations/mine", token)
    assert status == 200, mine
    return token, str(mine["organisation"]["id"])


def _apply(fund: str, **over: Any) -> dict[str, Any]:
    body = {
        "fund_id": fund,
        "ground": "fled",
        "advance_kind": "rescue",
        "amount": "20000.00",
        "payee": "示范区人民医院",
        "description": "肇事车辆逃逸，伤者在医院抢救。",
    }
    return {**body, **over}


async def test_apply_ask_more_approve_pay_and_recover_in_two_parts(api: Api) -> None:
    c = await case_with_parties(api)
    cid = c["case_id"]
    officer, fund_id = await _fund(api, f"示范区道路交通事故社会救助基金-{uuid.uuid4().hex[:6]}")

    # the applicant sees the open funds, uploads evidence (checked from its bytes) and applies
    status, listed, _ = await api.call("GET", f"/api/v1/cases/{cid}/relief", c["applicant"])
    assert status == 200 and listed["applications"] == [], listed
    assert fund_id in [f["id"] for f in listed["funds"]]
    assert [a["participant_id"] for a in listed["applicants"]] == [c["applicant_id"]]
    status, doc, _ = await api.call(
        "POST",
        f"/api/v1/cases/{cid}/relief/evidence?kind=invoice&title=抢救费用清单",
        c["applicant"],
        data=PNG,
        headers={"Content-Type": "image/png"},
    )
    assert status == 201, doc
    status, fake, _ = await api.call(
        "POST",
        f"/api/v1/cases/{cid}/relief/evidence?kind=invoice&title=假图片",
        c["applicant"],
        data=b"not a png at all",
        headers={"Content-Type": "image/png"},
    )
    assert status == 422 and fake["code"] == "invalid_command", fake
    status, app, _ = await api.call(
        "POST", f"/api/v1/cases/{cid}/relief", c["applicant"], json=_apply(fund_id, documents=[doc["id"]])
    )
    assert status == 201, app
    assert app["state"] == "submitted" and app["asked"] == "20000.00" and app["ground_name"] == "肇事逃逸"
    aid = app["id"]
    # one open application per party and ground
    status, again, _ = await api.call("POST", f"/api/v1/cases/{cid}/relief", c["applicant"], json=_apply(fund_id))
    assert status == 409 and again["code"] == "duplicate", again

    # the fund's desk: the queue, the application with its one document, and that document only
    status, queue, _ = await api.call("GET", "/api/v1/relief/applications", officer)
    assert status == 200 and [a["id"] for a in queue["applications"]] == [aid], queue
    status, seen, _ = await api.call("GET", f"/api/v1/relief/applications/{aid}", officer)
    assert status == 200 and [d["id"] for d in seen["evidence"]] == [doc["id"]], seen
    status, data, _ = await api.call("GET", f"/api/v1/relief/applications/{aid}/evidence/{doc['id']}", officer)
    assert status == 200 and data == PNG
    status, _, _ = await api.call("GET", f"/api/v1/cases/{cid}/documents/{doc['id']}", officer)
    assert status == 404  # not the case's other routes

    # more material asked, the applicant answers, the fund approves (no more than asked) and pays
    status, more, _ = await api.call(
        "POST", f"/api/v1/relief/applications/{aid}/decision", officer, json={"decision": "ask_more"}
    )
    assert status == 422, more  # asking for more needs a note
    status, more, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{aid}/decision",
        officer,
        json={"decision": "ask_more", "note": "请补充交警出具的逃逸证明"},
    )
    assert status == 200 and more["state"] == "more_requested", more
    status, mine, _ = await api.call("GET", f"/api/v1/cases/{cid}/relief", c["applicant"])
    assert mine["applications"][0]["state"] == "more_requested"
    assert mine["applications"][0]["note"] == "请补充交警出具的逃逸证明"
    status, back, _ = await api.call(
        "POST", f"/api/v1/cases/{cid}/relief/{aid}/resubmit", c["applicant"], json={"note": "已补充"}
    )
    assert status == 200 and back["state"] == "submitted", back
    status, over, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{aid}/decision",
        officer,
        json={"decision": "approve", "amount": "20000.01"},
    )
    assert status == 422 and over["code"] == "invalid_command", over
    status, ok, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{aid}/decision",
        officer,
        json={"decision": "approve", "amount": "18000", "payee": "示范区人民医院财务科"},
    )
    assert status == 200 and ok["state"] == "approved" and ok["approved"] == "18000.00", ok
    assert ok["payee"] == "示范区人民医院财务科"
    status, early, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{aid}/recoveries",
        officer,
        json={"amount": "1.00", "received_on": "2026-11-20", "reference": "R0"},
    )
    assert status == 409, early  # nothing to recover before the advance is paid
    status, paid, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{aid}/payment",
        officer,
        json={"reference": "PAY-0001", "paid_on": "2026-11-20"},
    )
    assert status == 200 and paid["state"] == "paid", paid
    assert paid["recovery"]["status"] == "open" and paid["recovery"]["liable_name"] == "未查明（逃逸）"

    # the mediator sees it too, with its steps
    status, med, _ = await api.call("GET", f"/api/v1/cases/{cid}/relief", c["mediator"])
    assert [s["action"] for s in med["applications"][0]["steps"]] == [
        "submitted",
        "more_requested",
        "resubmitted",
        "approved",
        "paid",
    ]

    # recovery against the respondent, in two parts
    status, named, _ = await api.call(
        "PUT", f"/api/v1/relief/applications/{aid}/liable", officer, json={"participant_id": c["respondent_id"]}
    )
    assert status == 200 and named["recovery"]["liable_name"] == "李四", named
    status, part, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{aid}/recoveries",
        officer,
        json={"amount": "8000", "received_on": "2026-11-21", "reference": "R1"},
    )
    assert status == 201 and part["recovery"]["status"] == "partly_recovered", part
    assert part["recovery"]["outstanding"] == "10000.00"
    status, too_much, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{aid}/recoveries",
        officer,
        json={"amount": "10000.01", "received_on": "2026-11-22", "reference": "R2"},
    )
    assert status == 422, too_much
    status, done, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{aid}/recoveries",
        officer,
        json={"amount": "10000", "received_on": "2026-11-22", "reference": "R2"},
    )
    assert status == 201 and done["recovery"]["status"] == "recovered", done
    assert [r["amount"] for r in done["recovery"]["received"]] == ["8000.00", "10000.00"]
    status, desk, _ = await api.call("GET", "/api/v1/relief/applications", officer)
    assert desk["figures"] == {"advanced": "18000.00", "recovered": "18000.00", "outstanding": "0.00"}
    status, closed, _ = await api.call(
        "POST", f"/api/v1/relief/applications/{aid}/write-off", officer, json={"reason": "无"}
    )
    assert status == 409, closed

    # the case's audit trail records each step, without the payee or the notes
    status, trail, _ = await api.call("GET", f"/api/v1/cases/{cid}/audit", c["mediator"])
    assert status == 200
    actions = [e["action"] for e in trail["entries"] if e["action"].startswith("relief.")]
    assert actions == [
        "relief.applied",
        "relief.decided",
        "relief.resubmitted",
        "relief.decided",
        "relief.paid",
        "relief.liable_named",
        "relief.recovered",
        "relief.recovered",
    ]
    assert "示范区人民医院" not in str(trail) and "逃逸证明" not in str(trail)


async def test_refusal_write_off_and_the_mediator_applying(api: Api) -> None:
    c = await case_with_parties(api)
    cid = c["case_id"]
    officer, fund_id = await _fund(api, f"救助基金-{uuid.uuid4().hex[:6]}")
    # the mediator applies on the applicant's behalf (and must name them); the respondent may not apply
    status, bad, _ = await api.call("POST", f"/api/v1/cases/{cid}/relief", c["mediator"], json=_apply(fund_id))
    assert status == 422, bad
    status, resp, _ = await api.call("POST", f"/api/v1/cases/{cid}/relief", c["respondent"], json=_apply(fund_id))
    assert status == 403, resp
    status, app, _ = await api.call(
        "POST",
        f"/api/v1/cases/{cid}/relief",
        c["mediator"],
        json=_apply(fund_id, participant_id=c["applicant_id"], ground="uninsured", advance_kind="funeral"),
    )
    assert status == 201 and app["participant_id"] == c["applicant_id"], app
    status, refused, _ = await api.call(
        "POST", f"/api/v1/relief/applications/{app['id']}/decision", officer, json={"decision": "refuse"}
    )
    assert status == 422, refused  # reasons needed
    status, refused, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{app['id']}/decision",
        officer,
        json={"decision": "refuse", "note": "肇事车辆已投保交强险"},
    )
    assert status == 200 and refused["state"] == "refused", refused
    status, late, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{app['id']}/decision",
        officer,
        json={"decision": "approve", "amount": "1"},
    )
    assert status == 409 and late["code"] == "illegal_transition", late
    status, mine, _ = await api.call("GET", f"/api/v1/cases/{cid}/relief", c["applicant"])
    assert mine["applications"][0]["state"] == "refused" and mine["applications"][0]["note"] == "肇事车辆已投保交强险"
    # a refused application is not open: the party may apply again on that ground
    status, second, _ = await api.call(
        "POST", f"/api/v1/cases/{cid}/relief", c["applicant"], json=_apply(fund_id, ground="uninsured")
    )
    assert status == 201, second
    await api.call(
        "POST",
        f"/api/v1/relief/applications/{second['id']}/decision",
        officer,
        json={"decision": "approve", "amount": "500"},
    )
    await api.call(
        "POST",
        f"/api/v1/relief/applications/{second['id']}/payment",
        officer,
        json={"reference": "PAY-2", "paid_on": "2026-11-20"},
    )
    status, off, _ = await api.call(
        "POST",
        f"/api/v1/relief/applications/{second['id']}/write-off",
        officer,
        json={"reason": "责任人无财产可供执行"},
    )
    assert status == 200 and off["recovery"]["status"] == "written_off" and off["recovery"]["outstanding"] == "0.00"
    status, desk, _ = await api.call("GET", "/api/v1/relief/applications", officer)
    assert desk["figures"] == {"advanced": "500.00", "recovered": "0.00", "outstanding": "0.00"}


@pytest.mark.parametrize(
    "over",
    [
        {"amount": "1" * 17},
        {"amount": "1e5"},
        {"amount": "1000000000.01"},
        {"amount": "0"},
        {"amount": "-5"},
        {"amount": "12.345"},
        {"amount": 100},
        {"payee": "医院\x00"},
        {"description": "\x1b[31m"},
        {"payee": "   "},
        {"ground": "drunk"},
        {"extra": 1},
        {"documents": [str(uuid.uuid4())]},
        {"fund_id": str(uuid.uuid4())},
    ],
)
async def test_bad_applications_are_refused_and_nothing_is_stored(api: Api, over: dict[str, Any]) -> None:
    c = await case_with_parties(api)
    _, fund_id = await _fund(api, f"救助基金-{uuid.uuid4().hex[:6]}")
    status, body, _ = await api.call(
        "POST", f"/api/v1/cases/{c['case_id']}/relief", c["applicant"], json=_apply(fund_id, **over)
    )
    assert status == 422 and body["code"] in ("validation_failed", "invalid_command"), body
    assert "Traceback" not in str(body)
    status, listed, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}/relief", c["applicant"])
    assert listed["applications"] == []


async def test_outsiders_get_404(api: Api) -> None:
    c = await case_with_parties(api)
    other = await case_with_parties(api)
    officer, fund_id = await _fund(api, f"救助基金-{uuid.uuid4().hex[:6]}")
    stranger, _ = await _fund(api, f"另一救助基金-{uuid.uuid4().hex[:6]}")
    status, app, _ = await api.call(
        "POST", f"/api/v1/cases/{c['case_id']}/relief", c["applicant"], json=_apply(fund_id)
    )
    assert status == 201, app
    aid = app["id"]
    # another fund's officer: nothing of it
    for method, path, body in (
        ("GET", f"/api/v1/relief/applications/{aid}", None),
        ("POST", f"/api/v1/relief/applications/{aid}/decision", {"decision": "approve", "amount": "1"}),
        ("GET", f"/api/v1/relief/applications/{aid}/evidence/{uuid.uuid4()}", None),
    ):
        status, _, _ = await api.call(method, path, stranger, json=body)
        assert status == 404, (method, path)
    status, desk, _ = await api.call("GET", "/api/v1/relief/applications", stranger)
    assert desk["applications"] == []
    # a party of another case: 404 on this case's relief
    status, _, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}/relief", other["applicant"])
    assert status == 404
    status, _, _ = await api.call(
        "POST", f"/api/v1/cases/{c['case_id']}/relief/{aid}/resubmit", other["applicant"], json={}
    )
    assert status == 404
    # the other case's mediator, the fund officer on the case's routes, a party on the fund's: 404
    status, _, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}/relief", other["mediator"])
    assert status == 404
    status, _, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}/relief", officer)
    assert status == 404
    status, _, _ = await api.call("GET", f"/api/v1/relief/applications/{aid}", c["applicant"])
    assert status == 404
    # the respondent of the same case does not read the applicant's application
    status, theirs, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}/relief", c["respondent"])
    assert status == 200 and theirs["applications"] == []


async def test_two_applications_at_once_file_one(api: Api) -> None:
    """One open application per party and ground, even for two sent in the same instant (the case's lock)."""
    c = await case_with_parties(api)
    _, fund_id = await _fund(api, f"救助基金-{uuid.uuid4().hex[:6]}")
    answers = await asyncio.gather(
        *(
            api.call("POST", f"/api/v1/cases/{c['case_id']}/relief", c["applicant"], json=_apply(fund_id))
            for _ in range(2)
        )
    )
    assert sorted(status for status, _, _ in answers) == [201, 409], answers
    status, listed, _ = await api.call("GET", f"/api/v1/cases/{c['case_id']}/relief", c["applicant"])
    assert len(listed["applications"]) == 1


async def test_evidence_uploads_are_for_the_applicant_side_and_capped(api: Api) -> None:
    c = await case_with_parties(api)
    path = f"/api/v1/cases/{c['case_id']}/relief/evidence?kind=photo&title=现场"
    png = {"Content-Type": "image/png"}
    status, body, _ = await api.call("POST", path, c["respondent"], data=PNG, headers=png)
    assert status == 403, body
    status, body, _ = await api.call("POST", path, c["applicant"], data=PNG, headers={"Content-Type": "image/gif"})
    assert status == 415, body
    for _ in range(30):
        status, body, _ = await api.call("POST", path, c["applicant"], data=PNG, headers=png)
        assert status == 201, body
    status, body, _ = await api.call("POST", path, c["applicant"], data=PNG, headers=png)
    assert status == 429 and body["code"] == "too_many_attempts", body
