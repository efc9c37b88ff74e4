"""Online appraisal over the real HTTP API, on SQLite and PostgreSQL: consent to evaluated opinion, an objection
that blocks the appointment, the recorded draw, what the institution sees, the unsigned opinion, re-appraisal and
the justice bureau's view."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pytest

from server.documents.pdf import DocumentBuilder
from server.domain import appraisal as ap
from server.domain.roles import AccountKind
from server.signing.endpoints import SIGNING
from tests.builders import appraisal_institution, by_hand, case_with_parties, signed_opinion, staff_of
from tests.conftest import Api
from tests.pdfs import pdf_text, require_pdf_tools

require_pdf_tools()
pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)]

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def unique(name: str) -> str:
    """Organisation names are unique across the shared PostgreSQL: each test makes its own."""
    return f"{name}{uuid.uuid4().hex[:6]}"


async def started(api: Api, subject: str = "disability") -> dict[str, Any]:
    c = await case_with_parties(api)
    c["base"] = f"/api/v1/cases/{c['case_id']}"
    body = {"subject": subject, "description": "申请人左腿损伤的伤残等级", "requested_by": c["applicant_id"]}
    status, a, _ = await api.call("POST", f"{c['base']}/appraisals", c["mediator"], json=body)
    assert status == 201, a
    assert a["state"] == "consenting" and a["round"] == 1
    c["appraisal"] = a["id"]
    c["one"] = f"{c['base']}/appraisals/{a['id']}"
    return c


async def consent_all(api: Api, c: dict[str, Any]) -> None:
    for who in ("applicant", "respondent"):
        status, body, _ = await api.call("POST", f"{c['one']}/consent", c[who], json={"agree": True})
        assert status == 201, body


async def test_the_whole_run_from_consent_to_evaluated_opinion(api: Api) -> None:
    worker = await by_hand(api)
    appraiser, inst = await appraisal_institution(api, unique("甲司法鉴定所"), ["injury", "disability"])
    c = await started(api)
    base, med = c["base"], c["mediator"]
    # the applicant consents to electronic service: the notice reaches them in their inbox
    assert (await api.call("POST", f"{base}/service/consent", c["applicant"], json={"channels": ["inbox"]}))[0] == 201
    await consent_all(api, c)
    status, a, _ = await api.call("POST", f"{c['one']}/institution", med, json={"organisation_id": inst})
    assert status == 200, a
    assert a["state"] == "chosen" and a["choice"] == "agreed" and a["institution"]["id"] == inst

    status, a, _ = await api.call("POST", f"{c['one']}/appointment", med, json={"fee": "3000", "payer": "insurer"})
    assert status == 200, a
    assert a["state"] == "appointed" and a["fee"] == "3000.00" and a["fee_payer"] == "insurer"
    assert a["notice"]["kind"] == "appraisal_notice" and a["notice"]["visibility"] == "parties"
    assert a["service"]["service_id"] and a["service"]["not_served_electronically"] == ["李四"]
    await worker.tick()
    inbox = (await api.call("GET", f"{base}/service/inbox", c["applicant"]))[1]["services"]
    assert [s["document_id"] for s in inbox] == [a["notice"]["id"]]
    status, notice, _ = await api.call("GET", f"{base}/documents/{a['notice']['id']}", c["respondent"])
    assert status == 200 and notice.startswith(b"%PDF-")
    text = pdf_text(notice).replace(" ", "").replace("\n", "")
    for words in (
        "鉴定委托通知书",
        "甲司法鉴定所",
        "3000.00",
        "保险公司",
        "伤残等级",
        "当事人协商选定",
        "张三",
        "李四",
    ):
        assert words in text, words

    # materials: the mediator sends one of two documents
    sent = await add_document(api, c, "病历")
    kept = await add_document(api, c, "内部材料")
    status, a, _ = await api.call("PUT", f"{c['one']}/materials", med, json={"document_ids": [sent]})
    assert status == 200 and [d["id"] for d in a["materials"]] == [sent]
    status, desk, _ = await api.call("GET", "/api/v1/appraisal/desk", appraiser)
    assert status == 200 and [d["id"] for d in desk["appraisals"]] == [c["appraisal"]]
    assert "张三" not in str(desk) and "13912345678" not in str(desk)
    status, item, _ = await api.call("GET", f"/api/v1/appraisal/desk/{c['appraisal']}", appraiser)
    assert status == 200 and [d["id"] for d in item["materials"]] == [sent]
    material = f"/api/v1/appraisal/desk/{c['appraisal']}/materials"
    status, data, _ = await api.call("GET", f"{material}/{sent}", appraiser)
    assert status == 200 and data == "病历".encode()
    assert (await api.call("GET", f"{material}/{kept}", appraiser))[0] == 404
    assert (await api.call("GET", f"{material}/{a['notice']['id']}", appraiser))[0] == 404

    number = (await api.call("GET", base, med))[1]["number"]
    pdf = await signed_opinion(api.app[SIGNING], number, "甲司法鉴定所", api.clock())
    status, item, _ = await api.call(
        "POST",
        f"/api/v1/appraisal/desk/{c['appraisal']}/opinion",
        appraiser,
        data=pdf,
        headers={"Content-Type": "application/pdf"},
    )
    assert status == 201, item
    assert item["state"] == "opinion" and item["opinion_check"]["valid_signatures"] == 1
    assert item["opinion_check"]["signatures"][0]["signer"] == "甲司法鉴定所"
    opinion = item["opinion"]
    assert opinion["kind"] == "appraisal_opinion" and opinion["sha256"] == hashlib.sha256(pdf).hexdigest()
    for who in ("applicant", "respondent", "mediator"):
        status, data, _ = await api.call("GET", f"{base}/documents/{opinion['id']}", c[who])
        assert status == 200 and data == pdf

    status, a, _ = await api.call("POST", f"{c['one']}/evaluations", med, json={"score": 4, "comment": "论证充分"})
    assert status == 201 and a["evaluated"], a
    status, a, _ = await api.call("POST", f"{c['one']}/evaluations", c["respondent"], json={"score": 2})
    assert status == 201 and a["evaluated"]
    assert [e["score"] for e in a["evaluations"]] == [2]  # a party sees their own
    again = await api.call("POST", f"{c['one']}/evaluations", med, json={"score": 5})
    assert again[0] == 409 and again[1]["code"] == "duplicate"

    bureau = await staff_of(api, AccountKind.BUREAU_OFFICER, unique("示范区司法局"), "蒋科员")
    status, view, _ = await api.call("GET", "/api/v1/appraisal/evaluations", bureau)
    assert status == 200
    mine = next(i for i in view["institutions"] if i["institution_id"] == inst)
    assert mine["count"] == 2 and mine["average"] == 3.0
    assert sorted(e["evaluator_role"] for e in mine["evaluations"]) == ["mediator", "respondent"]
    assert "张三" not in str(view) and "李四" not in str(view) and "evaluator'" not in str(view)
    assert (await api.call("GET", "/api/v1/appraisal/evaluations", appraiser))[0] == 403

    status, trail, _ = await api.call("GET", f"{base}/audit", med)
    actions = [e["action"] for e in trail["entries"]]
    for action in (
        "appraisal.started",
        "appraisal.consent",
        "appraisal.agreed",
        "appraisal.appointed",
        "appraisal.materials_sent",
        "appraisal.opinion",
        "appraisal.evaluated",
    ):
        assert action in actions, action


async def add_document(api: Api, c: dict[str, Any], text: str) -> str:
    status, doc, _ = await api.call(
        "POST",
        f"{c['base']}/documents?kind=medical_record&title={text}",
        c["mediator"],
        data=text.encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert status == 201, doc
    return str(doc["id"])


async def test_an_objection_blocks_the_appointment(api: Api) -> None:
    _, inst = await appraisal_institution(api, unique("乙司法鉴定所"), ["disability"])
    c = await started(api)
    no_reason = await api.call("POST", f"{c['one']}/consent", c["respondent"], json={"agree": False})
    assert no_reason[0] == 422
    objection = {"agree": False, "reason": "鉴定时间过早"}
    assert (await api.call("POST", f"{c['one']}/consent", c["respondent"], json=objection))[0] == 201
    assert (await api.call("POST", f"{c['one']}/consent", c["applicant"], json={"agree": True}))[0] == 201
    for path, body in (("institution", {"organisation_id": inst}), ("draw", None)):
        status, problem, _ = await api.call("POST", f"{c['one']}/{path}", c["mediator"], json=body)
        assert status == 422 and "objected" in problem["detail"], problem
    status, view, _ = await api.call("GET", f"{c['base']}/appraisals", c["applicant"])
    a = view["appraisals"][0]
    assert a["state"] == "consenting" and a["institution"] is None
    assert [x["answer"] for x in a["consents"]] == ["agree", "object"]
    assert [x["reason"] for x in a["consents"]] == ["", ""]  # the applicant does not read the other's reason
    staff = (await api.call("GET", f"{c['base']}/appraisals", c["mediator"]))[1]["appraisals"][0]
    assert staff["consents"][1]["reason"] == "鉴定时间过早"
    # the respondent changes their mind: the appointment may go ahead
    assert (await api.call("POST", f"{c['one']}/consent", c["respondent"], json={"agree": True}))[0] == 201
    status, a, _ = await api.call("POST", f"{c['one']}/institution", c["mediator"], json={"organisation_id": inst})
    assert status == 200 and a["state"] == "chosen"
    # a party is not the mediator; consent is over
    assert (await api.call("POST", f"{c['one']}/draw", c["applicant"]))[0] == 403
    assert (await api.call("POST", f"{c['one']}/consent", c["applicant"], json={"agree": True}))[0] == 409


async def test_the_draw_picks_only_matching_open_institutions_and_is_recorded(api: Api) -> None:
    match_a = (await appraisal_institution(api, unique("丙鉴定所"), ["vehicle_damage"]))[1]
    match_b = (await appraisal_institution(api, unique("丁鉴定所"), ["vehicle_damage", "injury"]))[1]
    other = (await appraisal_institution(api, unique("戊鉴定所"), ["injury"]))[1]
    closed = (await appraisal_institution(api, unique("己鉴定所"), ["vehicle_damage"]))[1]
    async with api.repo.engine.begin() as conn:
        from sqlalchemy import update

        from server.store import schema as t

        await conn.execute(update(t.organisations).where(t.organisations.c.id == closed).values(disabled=True))
    c = await started(api, "vehicle_damage")
    await consent_all(api, c)
    status, a, _ = await api.call("POST", f"{c['one']}/draw", c["mediator"])
    assert status == 200, a
    draw = a["draw"]
    candidates = set(draw["candidates"])
    assert {match_a, match_b} <= candidates and other not in candidates and closed not in candidates
    assert draw["result"] in candidates and a["institution"]["id"] == draw["result"] and a["choice"] == "drawn"
    assert len(draw["seed"]) == 32 and draw["by"].startswith("account:")
    assert ap.draw(draw["candidates"], draw["seed"]).result == draw["result"]  # anyone can redo it
    trail = (await api.call("GET", f"{c['base']}/audit", c["mediator"]))[1]["entries"]
    drawn = [e for e in trail if e["action"] == "appraisal.drawn"]
    assert len(drawn) == 1 and drawn[0]["details"]["draw"]["seed"] == draw["seed"]
    roster = (await api.call("GET", "/api/v1/appraisal/institutions?specialty=vehicle_damage", c["mediator"]))[1]
    assert {match_a, match_b} <= {i["id"] for i in roster["institutions"]}
    assert not {other, closed} & {i["id"] for i in roster["institutions"]}
    assert (await api.call("POST", f"{c['one']}/draw", c["mediator"]))[0] == 409  # drawn once


async def test_unsigned_opinion_refused_and_other_institutions_see_nothing(api: Api) -> None:
    appraiser, inst = await appraisal_institution(api, unique("庚鉴定所"), ["disability"])
    stranger, _ = await appraisal_institution(api, unique("辛鉴定所"), ["disability"])
    c = await started(api)
    await consent_all(api, c)
    await api.call("POST", f"{c['one']}/institution", c["mediator"], json={"organisation_id": inst})
    desk = f"/api/v1/appraisal/desk/{c['appraisal']}"
    assert (await api.call("GET", desk, appraiser))[0] == 404  # not appointed yet
    assert (await api.call("POST", f"{c['one']}/appointment", c["mediator"], json={"fee": "0", "payer": "shared"}))[
        0
    ] == 200
    assert (await api.call("GET", desk, appraiser))[0] == 200
    assert (await api.call("GET", desk, stranger))[0] == 404
    assert (await api.call("GET", "/api/v1/appraisal/desk", stranger))[1]["appraisals"] == []
    assert (await api.call("GET", desk, c["mediator"]))[0] == 404
    headers = {"Content-Type": "application/pdf"}
    status, problem, _ = await api.call("POST", f"{desk}/opinion", appraiser, data=PDF, headers=headers)
    assert status == 422 and problem["code"] == "unsigned_opinion", problem
    assert "not a readable PDF" in problem["detail"]
    builder = DocumentBuilder("司法鉴定意见书", created_at=api.clock())
    builder.paragraph("鉴定意见：构成十级伤残。")
    unsigned = builder.render()
    status, problem, _ = await api.call("POST", f"{desk}/opinion", appraiser, data=unsigned, headers=headers)
    assert status == 422 and problem["code"] == "unsigned_opinion", problem
    assert "the document has no signature" in problem["detail"]
    status, problem, _ = await api.call("POST", f"{desk}/opinion", appraiser, data=b"not a pdf", headers=headers)
    assert status == 422
    number = (await api.call("GET", c["base"], c["mediator"]))[1]["number"]
    pdf = await signed_opinion(api.app[SIGNING], number, "庚鉴定所", api.clock())
    status, problem, _ = await api.call("POST", f"{desk}/opinion", stranger, data=pdf, headers=headers)
    assert status == 404
    view = (await api.call("GET", f"{c['base']}/appraisals", c["mediator"]))[1]["appraisals"][0]
    assert view["state"] == "appointed" and view["opinion"] is None
    docs = (await api.call("GET", c["base"], c["mediator"]))[1]["documents"]
    assert not [d for d in docs if d["kind"] == "appraisal_opinion"]  # nothing stored


async def test_reappraisal_granted_starts_a_new_round_and_refusal_gives_reasons(api: Api) -> None:
    appraiser, inst = await appraisal_institution(api, unique("壬鉴定所"), ["disability"])
    c = await started(api)
    await consent_all(api, c)
    await api.call("POST", f"{c['one']}/institution", c["mediator"], json={"organisation_id": inst})
    await api.call("POST", f"{c['one']}/appointment", c["mediator"], json={"fee": "2500.5", "payer": "applicant"})
    number = (await api.call("GET", c["base"], c["mediator"]))[1]["number"]
    pdf = await signed_opinion(api.app[SIGNING], number, "壬鉴定所", api.clock())
    desk = f"/api/v1/appraisal/desk/{c['appraisal']}"
    status, _, _ = await api.call(
        "POST", f"{desk}/opinion", appraiser, data=pdf, headers={"Content-Type": "application/pdf"}
    )
    assert status == 201
    med = c["mediator"]
    # nothing waits: nothing to decide
    assert (await api.call("POST", f"{c['one']}/reappraisal/decision", med, json={"grant": True}))[0] == 422
    reasons = {"reasons": "鉴定人未检查伤者本人"}
    assert (await api.call("POST", f"{c['one']}/reappraisal", med, json=reasons))[0] == 403
    assert (await api.call("POST", f"{c['one']}/reappraisal", c["respondent"], json=reasons))[0] == 201
    assert (await api.call("POST", f"{c['one']}/reappraisal", c["applicant"], json=reasons))[0] == 409
    refused = await api.call("POST", f"{c['one']}/reappraisal/decision", med, json={"grant": False})
    assert refused[0] == 422  # a refusal gives reasons
    body = {"grant": False, "reasons": "鉴定程序合法"}
    status, view, _ = await api.call("POST", f"{c['one']}/reappraisal/decision", med, json=body)
    assert status == 200
    first = view["appraisals"][0]
    assert first["state"] == "opinion" and first["reappraisals"][0]["decision"] == "refused"
    assert first["reappraisals"][0]["decision_reasons"] == "鉴定程序合法"
    # a second application, granted: a new round, consenting again
    api.clock.advance(timedelta(minutes=1))  # the applications are listed in the order they came
    assert (await api.call("POST", f"{c['one']}/reappraisal", c["respondent"], json=reasons))[0] == 201
    status, view, _ = await api.call("POST", f"{c['one']}/reappraisal/decision", med, json={"grant": True})
    assert status == 200
    first, second = view["appraisals"]
    assert first["state"] == "superseded" and second["state"] == "consenting" and second["round"] == 2
    assert second["requested_by"] == c["respondent_id"] and second["subject"] == "disability"
    assert first["reappraisals"][-1]["next_appraisal_id"] == second["id"]
    # the superseded opinion may still be evaluated; the institution still sees its work
    assert (await api.call("POST", f"{c['one']}/evaluations", c["applicant"], json={"score": 3}))[0] == 201
    assert (await api.call("GET", desk, appraiser))[1]["state"] == "superseded"


async def test_bad_input_is_refused_and_nothing_is_stored(api: Api) -> None:
    c = await started(api)
    base, med = c["base"], c["mediator"]
    for body in (
        {"subject": "palmistry"},
        {"subject": "injury", "description": "x" * 501},
        {"subject": "injury", "description": "a\x00b"},
        {"subject": "injury", "extra": 1},
        {"subject": "injury", "requested_by": str(uuid.uuid4())},
    ):
        assert (await api.call("POST", f"{base}/appraisals", med, json=body))[0] == 422, body
    assert (await api.call("POST", f"{base}/appraisals", c["applicant"], json={"subject": "injury"}))[0] == 403
    assert len((await api.call("GET", f"{base}/appraisals", med))[1]["appraisals"]) == 1
    await consent_all(api, c)
    _, inst = await appraisal_institution(api, unique("癸鉴定所"), ["injury"])  # not disability
    assert (await api.call("POST", f"{c['one']}/institution", med, json={"organisation_id": inst}))[0] == 422
    for fee in ({"fee": "-1", "payer": "insurer"}, {"fee": "1.234", "payer": "insurer"}, {"fee": "1", "payer": "x"}):
        assert (await api.call("POST", f"{c['one']}/appointment", med, json=fee))[0] in (409, 422)
    for score in (0, 6, "5"):
        assert (await api.call("POST", f"{c['one']}/evaluations", med, json={"score": score}))[0] == 422
    assert (await api.call("POST", f"{c['one']}/evaluations", med, json={"score": 5}))[0] == 409  # no opinion yet
    other = f"{base}/appraisals/{uuid.uuid4()}"
    assert (await api.call("POST", f"{other}/consent", c["applicant"], json={"agree": True}))[0] == 404


async def test_an_agent_answers_for_the_party_they_act_for(api: Api) -> None:
    c = await started(api)
    agent = {"role": "agent", "display_name": "赵律师", "represents": c["respondent_id"]}
    status, added, _ = await api.call("POST", f"{c['base']}/participants", c["mediator"], json=agent)
    assert status == 201, added
    token = added["link"]["token"]
    status, a, _ = await api.call("POST", f"{c['one']}/consent", token, json={"agree": False, "reason": "费用过高"})
    assert status == 201 and a["answers_for"] == c["respondent_id"]
    assert [x["participant_id"] for x in a["consents"]] == [c["applicant_id"], c["respondent_id"]]  # no line of its own
    assert a["consents"][1]["answer"] == "object" and a["consents"][1]["reason"] == "费用过高"
    assert (await api.call("POST", f"{c['one']}/consent", c["applicant"], json={"agree": True}))[0] == 201
    assert (await api.call("POST", f"{c['one']}/draw", c["mediator"]))[0] == 422  # the agent's objection blocks
    assert (await api.call("POST", f"{c['one']}/consent", token, json={"agree": True}))[0] == 201
    _, inst = await appraisal_institution(api, unique("子鉴定所"), ["disability"])
    status, a, _ = await api.call("POST", f"{c['one']}/institution", c["mediator"], json={"organisation_id": inst})
    assert status == 200 and a["state"] == "chosen", a


async def test_two_draws_at_once_draw_once(api: Api) -> None:
    for name in ("丑鉴定所", "寅鉴定所"):
        await appraisal_institution(api, unique(name), ["disability"])
    c = await started(api)
    await consent_all(api, c)
    answers = await asyncio.gather(*(api.call("POST", f"{c['one']}/draw", c["mediator"]) for _ in range(2)))
    assert sorted(a[0] for a in answers) == [200, 409], [a[1] for a in answers]
    trail = (await api.call("GET", f"{c['base']}/audit", c["mediator"]))[1]["entries"]
    drawn = [e for e in trail if e["action"] == "appraisal.drawn"]
    view = (await api.call("GET", f"{c['base']}/appraisals", c["mediator"]))[1]["appraisals"][0]
    assert len(drawn) == 1 and drawn[0]["details"]["draw"]["seed"] == view["draw"]["seed"]
