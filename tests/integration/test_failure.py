"""When mediation fails, the case goes back to the court with the record of undisputed facts (调解不成转诉讼):
the mediator drafts the record in versions, the parties confirm or object online, the mediator ends the
mediation as failed and the server seals the record into the case's documents together with the state
change (once, even for two requests at the same moment); the referring court's staff read it (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from server.domain.roles import AccountKind
from server.domain.rosters import RosterEntry, RosterStatus, Specialty
from server.rosters.store import RosterStore
from server.store import schema as t
from tests.builders import COURT, between_sessions, case_with_parties, staff_account, staff_of
from tests.conftest import Api
from tests.pdfs import pdf_text, require_pdf_tools

require_pdf_tools()  # skips the module without poppler-utils, OpenSSL or the CJK fonts (fails in CI)
pytestmark = pytest.mark.asyncio

FACTS = [
    {"kind": "fact", "text": "2026年10月3日8时许，李四驾驶小型轿车在环城路与张三驾驶的电动自行车相撞。"},
    {"kind": "fact", "text": "交警部门认定李四负事故全部责任。"},
    {"kind": "fact", "text": "李四已垫付医疗费 12000 元。"},
    {"kind": "dispute", "text": "误工费的计算标准。"},
]
REDRAFT = [*FACTS[:3], {"kind": "dispute", "text": "误工费按实际收入还是按行业平均工资计算。"}]


async def _court_of(api: Api, case_id: str, organisation_id: str | None) -> None:
    """The referral work sets ``cases.court_id``; here it is set directly (after the case's last write)."""
    async with api.repo.engine.begin() as conn:
        await conn.execute(update(t.cases).where(t.cases.c.id == case_id).values(court_id=organisation_id))


async def _agent(api: Api, c: dict[str, Any]) -> str:
    body = {"role": "agent", "display_name": "赵律师", "represents": c["applicant_id"]}
    status, added, _ = await api.call("POST", f"/api/v1/cases/{c['case_id']}/participants", c["mediator"], json=body)
    assert status == 201, added
    c["agent_id"] = added["participant"]["id"]
    return str(added["link"]["token"])


async def test_drafted_answered_failed_and_read_by_the_referring_court(api: Api) -> None:
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    med = c["mediator"]
    agent = await _agent(api, c)

    status, view, _ = await api.call("PUT", f"{base}/facts", med, json={"items": FACTS})
    assert status == 200, view
    assert view["record"]["version"] == 1 and view["record"]["items"] == FACTS
    assert {a["participant_id"]: a["answer"] for a in view["answers"]} == {
        c["applicant_id"]: None,
        c["respondent_id"]: None,
        c["agent_id"]: None,
    }
    assert next(a for a in view["answers"] if a["participant_id"] == c["agent_id"])["role_name"] == "代理人（代理张三）"
    status, given, _ = await api.call("POST", f"{base}/facts/1/answers", c["applicant"], json={"answer": "confirm"})
    assert status == 201 and given["answer"] == "confirm", given

    # a redraft is a new version: the answers to the old one no longer count, and the old one cannot be answered
    status, view, _ = await api.call("PUT", f"{base}/facts", med, json={"items": REDRAFT})
    assert status == 200 and view["record"]["version"] == 2
    assert [a["answer"] for a in view["answers"]] == [None, None, None]
    status, problem, _ = await api.call("POST", f"{base}/facts/1/answers", c["respondent"], json={"answer": "confirm"})
    assert (status, problem["code"]) == (409, "stale_record"), problem
    assert "version 2" in problem["detail"]

    assert (await api.call("POST", f"{base}/facts/2/answers", c["applicant"], json={"answer": "confirm"}))[0] == 201
    note = "医疗费实际为 15000 元，不是 12000 元。"
    status, problem, _ = await api.call("POST", f"{base}/facts/2/answers", c["respondent"], json={"answer": "object"})
    assert (status, problem["code"]) == (422, "invalid_command")  # an objection says what is wrong
    body = {"answer": "object", "note": note}
    assert (await api.call("POST", f"{base}/facts/2/answers", c["respondent"], json=body))[0] == 201

    # a party sees the record and their own answer only; the mediator sees everyone's
    _, mine, _ = await api.call("GET", f"{base}/facts", c["applicant"])
    assert mine["record"]["items"] == REDRAFT and [a["participant_id"] for a in mine["answers"]] == [c["applicant_id"]]
    assert note not in json.dumps(mine, ensure_ascii=False) and mine["document"] is None
    _, everyone, _ = await api.call("GET", f"{base}/facts", med)
    answers = {a["participant_id"]: (a["answer"], a["note"]) for a in everyone["answers"]}
    assert answers == {
        c["applicant_id"]: ("confirm", ""),
        c["respondent_id"]: ("object", note),
        c["agent_id"]: (None, ""),
    }

    # the answers are in the audit trail (by hash: the texts are personal data)
    _, trail, _ = await api.call("GET", f"{base}/audit", med)
    actions = [e["action"] for e in trail["entries"]]
    assert actions.count("facts.drafted") == 2 and actions.count("facts.answered") == 3, actions
    assert trail["verification"]["ok"] is True
    assert note not in json.dumps(trail, ensure_ascii=False) and "误工费" not in json.dumps(trail, ensure_ascii=False)

    # the mediator fails the mediation; the same request sent twice at once makes one document
    reason = "双方对误工费差距过大，调解不成。"
    first, second = await asyncio.gather(
        api.call("POST", f"{base}/failure", med, json={"reason": reason}),
        api.call("POST", f"{base}/failure", med, json={"reason": reason}),
    )
    assert (first[0], second[0]) == (200, 200), (first[1], second[1])
    assert first[1]["document"]["id"] == second[1]["document"]["id"]
    assert first[1]["state"] == "mediation_failed" and first[1]["reason"] == reason
    again = await api.call("POST", f"{base}/failure", med, json={"reason": reason})
    assert again[0] == 200 and again[1]["document"]["id"] == first[1]["document"]["id"]  # a retry later: the same
    _, case, _ = await api.call("GET", base, med)
    assert case["state"] == "mediation_failed"
    documents = [d for d in case["documents"] if d["kind"] == "undisputed_facts"]
    assert [d["id"] for d in documents] == [first[1]["document"]["id"]]
    _, trail, _ = await api.call("GET", f"{base}/audit", med)
    assert [e["action"] for e in trail["entries"]].count("facts.referred") == 1 and trail["verification"]["ok"] is True

    status, pdf, resp = await api.call("GET", f"{base}/documents/{documents[0]['id']}", med)
    assert status == 200 and resp.content_type == "application/pdf" and pdf.startswith(b"%PDF")
    text = "".join(pdf_text(pdf).split())  # pdftotext breaks lines where the page does
    for expected in (
        case["number"],
        "无争议事实记载",
        "交警部门认定李四负事故全部责任",
        "李四已垫付医疗费12000元",
        "误工费按实际收入还是按行业平均工资计算",
        "张三",
        "李四",
        "赵律师",
        "确认",
        "有异议",
        "医疗费实际为15000元，不是12000元",
        "未答复",
        "赵律师未对本记载作出答复",
        "王调解员",
        "双方对误工费差距过大",
        "第2稿",
    ):
        assert expected in text, expected
    assert "误工费的计算标准" not in text  # the first version's wording is gone

    # the case is over: the record can no longer change; parties do not read the court's copy
    status, problem, _ = await api.call("POST", f"{base}/facts/2/answers", agent, json={"answer": "confirm"})
    assert (status, problem["code"]) == (409, "illegal_transition")
    assert (await api.call("PUT", f"{base}/facts", med, json={"items": FACTS}))[0] == 409
    assert (await api.call("GET", f"{base}/documents/{documents[0]['id']}", c["applicant"]))[0] == 404

    # the court that referred the case: its judges, clerks and administrators read the record and the PDF
    court_url = f"/api/v1/court/cases/{c['case_id']}/facts"
    _, judge, judge_account = await staff_account(api, AccountKind.JUDGE, COURT, "赵法官")
    assert (await api.call("GET", court_url, judge))[0] == 404  # a case the mediator filed: no court referred it
    await _court_of(api, c["case_id"], judge_account.organisation_id)
    for kind in (AccountKind.JUDGE, AccountKind.CLERK, AccountKind.ORG_ADMIN):
        token = judge if kind is AccountKind.JUDGE else await staff_of(api, kind, COURT, "")
        status, seen, _ = await api.call("GET", court_url, token)
        assert status == 200, (kind, seen)
        assert seen["number"] == case["number"] and seen["reason"] == reason and seen["record"]["version"] == 2
        assert {a["participant_id"]: a["answer"] for a in seen["answers"]}[c["respondent_id"]] == "object"
        status, court_pdf, resp = await api.call("GET", f"{court_url}/document", token)
        assert status == 200 and court_pdf == pdf and resp.content_type == "application/pdf"
    # but not a mediator of that court who is not on the case, another court's judge, nor a party
    others = [
        await staff_of(api, AccountKind.MEDIATOR, COURT, "钱调解员"),
        await staff_of(api, AccountKind.JUDGE, "另一法院", "孙法官"),
        await staff_of(api, AccountKind.ORG_ADMIN, "另一法院", ""),
        c["applicant"],
    ]
    for token in others:
        for url in (court_url, f"{court_url}/document"):
            assert (await api.call("GET", url, token))[0] == 404
    assert (await api.call("GET", court_url))[0] == 401
    assert (await api.call("GET", "/api/v1/court/cases/no-such-case/facts", judge))[0] == 404


async def test_failing_with_no_answer_names_who_did_not_answer(api: Api) -> None:
    c = await case_with_parties(api)  # no session held yet: a case may fail straight from filing
    base = f"/api/v1/cases/{c['case_id']}"
    assert (await api.call("PUT", f"{base}/facts", c["mediator"], json={"items": FACTS[:2]}))[0] == 200
    status, failed, _ = await api.call("POST", f"{base}/failure", c["mediator"], json={"reason": "被申请人拒不到场"})
    assert status == 200, failed
    _, pdf, _ = await api.call("GET", f"{base}/documents/{failed['document']['id']}", c["mediator"])
    text = "".join(pdf_text(pdf).split())
    assert "张三、李四未对本记载作出答复" in text and "交警部门认定李四负事故全部责任" in text and "第1稿" in text

    # and a case failed with no record at all still carries the document that says so
    d = await case_with_parties(api)
    status, failed, _ = await api.call(
        "POST", f"/api/v1/cases/{d['case_id']}/failure", d["mediator"], json={"reason": "申请人撤回调解意愿"}
    )
    assert status == 200, failed
    _, pdf, _ = await api.call(
        "GET", f"/api/v1/cases/{d['case_id']}/documents/{failed['document']['id']}", d["mediator"]
    )
    text = "".join(pdf_text(pdf).split())
    assert "未拟定" in text and "（无）" in text and "未答复" in text


async def test_two_drafts_at_once_are_two_versions(api: Api) -> None:
    c = await between_sessions(api)
    url = f"/api/v1/cases/{c['case_id']}/facts"
    results = await asyncio.gather(*(api.call("PUT", url, c["mediator"], json={"items": FACTS}) for _ in range(2)))
    assert [r[0] for r in results] == [200, 200], [r[1] for r in results]
    assert sorted(r[1]["record"]["version"] for r in results) == [1, 2]


async def test_who_may_draft_answer_read_and_fail(api: Api) -> None:
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    other = await case_with_parties(api)  # another mediator's case, with its own parties
    body = {"items": FACTS}
    assert (await api.call("PUT", f"{base}/facts", c["mediator"], json=body))[0] == 200
    # parties and a judge of the court may not draft or fail: a party is on the case (403)
    assert (await api.call("PUT", f"{base}/facts", c["applicant"], json=body))[0] == 403
    assert (await api.call("POST", f"{base}/failure", c["respondent"], json={"reason": "不同意"}))[0] == 403
    # the mediator does not answer for the parties
    assert (await api.call("POST", f"{base}/facts/1/answers", c["mediator"], json={"answer": "confirm"}))[0] == 403
    # outsiders learn nothing: another mediator, a party of another case, a judge not on the case
    judge = await staff_of(api, AccountKind.JUDGE, COURT, "周法官")
    for token in (other["mediator"], other["applicant"], judge):
        assert (await api.call("GET", f"{base}/facts", token))[0] == 404
        assert (await api.call("PUT", f"{base}/facts", token, json=body))[0] == 404
        assert (await api.call("POST", f"{base}/facts/1/answers", token, json={"answer": "confirm"}))[0] == 404
        assert (await api.call("POST", f"{base}/failure", token, json={"reason": "x"}))[0] == 404
    assert (await api.call("GET", f"{base}/facts"))[0] == 401
    # a version never drafted, or not a number
    for version in ("7", "abc", "1234567"):
        assert (await api.call("POST", f"{base}/facts/{version}/answers", c["applicant"], json={"answer": "confirm"}))[
            0
        ] == 404
    _, view, _ = await api.call("GET", base, c["mediator"])
    assert view["state"] == "between_sessions"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("facts", {"items": []}),
        ("facts", {"items": [{"kind": "fact", "text": "某事实"}] * 51}),
        ("facts", {"items": [{"kind": "fact", "text": "长" * 501}]}),
        ("facts", {"items": [{"kind": "fact", "text": "   "}]}),
        ("facts", {"items": [{"kind": "fact", "text": "坏\u0000字符"}]}),
        ("facts", {"items": [{"kind": "fact", "text": "响铃\u0007"}]}),
        ("facts", {"items": [{"kind": "opinion", "text": "某事实"}]}),
        ("facts", {"items": [{"kind": "fact", "text": "某事实", "extra": 1}]}),
        ("facts", {"items": "某事实"}),
        ("facts", {}),
        ("facts/1/answers", {"answer": "maybe"}),
        ("facts/1/answers", {"answer": "object", "note": "长" * 501}),
        ("facts/1/answers", {"answer": "object", "note": "坏\u0000字符"}),
        ("facts/1/answers", {"answer": "confirm", "extra": True}),
        ("failure", {"reason": ""}),
        ("failure", {"reason": "  "}),
        ("failure", {"reason": "长" * 2001}),
        ("failure", {}),
    ],
)
async def test_bad_input_is_refused_with_a_problem(api: Api, path: str, body: dict[str, Any]) -> None:
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    assert (await api.call("PUT", f"{base}/facts", c["mediator"], json={"items": FACTS}))[0] == 200
    method, token = ("PUT", c["mediator"]) if path == "facts" else ("POST", c["mediator"])
    if path.endswith("answers"):
        token = c["applicant"]
    status, problem, resp = await api.call(method, f"{base}/{path}", token, json=body)
    assert status == 422 and resp.headers["Content-Type"].startswith("application/problem+json"), problem
    assert problem["code"] == "validation_failed"
    _, view, _ = await api.call("GET", f"{base}/facts", c["mediator"])
    assert view["record"]["version"] == 1 and view["state"] == "between_sessions"  # nothing changed
    assert [a["answer"] for a in view["answers"]] == [None, None]


async def test_the_largest_record_the_limits_allow_is_drafted_and_sealed(api: Api) -> None:
    # 50 items of 500 Chinese characters: 75 KB of UTF-8, 150 KB as the client's JSON escapes them (over the
    # 64 KiB of an ordinary body)
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    items = [{"kind": "fact" if n % 5 else "dispute", "text": f"第{n:02d}项" + "事" * 496} for n in range(50)]
    assert max(len(i["text"]) for i in items) == 500
    status, view, _ = await api.call("PUT", f"{base}/facts", c["mediator"], json={"items": items})
    assert status == 200 and len(view["record"]["items"]) == 50, view
    status, failed, _ = await api.call("POST", f"{base}/failure", c["mediator"], json={"reason": "差距过大"})
    assert status == 200, failed
    _, pdf, _ = await api.call("GET", f"{base}/documents/{failed['document']['id']}", c["mediator"])
    text = pdf_text(pdf)
    assert text.count("\f") > 20 and "第49项" in text and "第00项" in text  # every item, over many pages


async def test_a_case_the_court_referred_fails_and_goes_back_with_the_facts_the_parties_confirmed(api: Api) -> None:
    # the referral as the court makes it (no direct SQL): its clerk refers the case to an organisation on its
    # roster, a mediator there takes it, the parties confirm the record, the mediation fails, the court reads it
    tag = uuid.uuid4().hex[:6]
    court, organisation = f"示范区人民法院{tag}", f"城东人民调解委员会{tag}"
    _, clerk, clerk_account = await staff_account(api, AccountKind.CLERK, court, "李书记员")
    judge = await staff_of(api, AccountKind.JUDGE, court, "王法官")
    _, _, admin = await staff_account(api, AccountKind.ORG_ADMIN, organisation, "周主任")
    mediator = await staff_of(api, AccountKind.MEDIATOR, organisation, "陈调解员")
    now = api.clock()
    entry = RosterEntry(
        id=str(uuid.uuid4()),
        court_id=clerk_account.organisation_id,
        organisation_id=admin.organisation_id,
        account_id=None,
        specialties=(Specialty.TRAFFIC,),
        term_start=now - timedelta(days=1),
        term_end=now + timedelta(days=365),
        status=RosterStatus.ACTIVE,
        added_at=now,
        added_by="test",
        updated_at=now,
    )
    await RosterStore(api.repo.engine).add(entry)
    referral = {
        "referral_kind": "pre_litigation",
        "kind": "traffic_accident",
        "title": "张三诉李四机动车交通事故责任纠纷",
        "organisation_id": admin.organisation_id,
        "parties": [
            {"role": "applicant", "display_name": "张三", "phone": "13912345678"},
            {"role": "respondent", "display_name": "李四", "phone": "13812345678"},
        ],
    }
    status, referred, _ = await api.call("POST", "/api/v1/referrals", clerk, json=referral)
    assert status == 201, referred
    cid = referred["id"]
    base = f"/api/v1/cases/{cid}"
    court_url = f"/api/v1/court/cases/{cid}/facts"
    assert (await api.call("POST", f"{base}/take", mediator))[0] == 200
    _, case, _ = await api.call("GET", base, mediator)
    links = {}
    for p in case["participants"]:
        if p["role"] != "mediator":
            status, link, _ = await api.call("POST", f"{base}/participants/{p['id']}/link", mediator)
            assert status == 201, link
            links[p["display_name"]] = link["token"]

    assert (await api.call("PUT", f"{base}/facts", mediator, json={"items": FACTS}))[0] == 200
    status, seen, _ = await api.call("GET", court_url, clerk)  # the court follows the record while it is drafted
    assert status == 200 and seen["record"]["version"] == 1 and seen["document"] is None, seen
    assert (await api.call("GET", f"{court_url}/document", clerk))[0] == 404  # nothing sealed yet
    for name in ("张三", "李四"):
        body = {"answer": "confirm"}
        assert (await api.call("POST", f"{base}/facts/1/answers", links[name], json=body))[0] == 201
    status, failed, _ = await api.call("POST", f"{base}/failure", mediator, json={"reason": "误工费差距过大"})
    assert status == 200 and failed["state"] == "mediation_failed", failed

    for token in (clerk, judge):
        status, seen, _ = await api.call("GET", court_url, token)
        assert status == 200 and seen["state"] == "mediation_failed", seen
        assert [(a["name"], a["answer"]) for a in seen["answers"]] == [("张三", "confirm"), ("李四", "confirm")]
        assert seen["document"]["id"] == failed["document"]["id"]
    status, pdf, _ = await api.call("GET", f"{court_url}/document", judge)
    assert status == 200
    text = "".join(pdf_text(pdf).split())
    assert "交警部门认定李四负事故全部责任" in text and "陈调解员" in text and "未答复" not in text
    assert text.count("确认") >= 2
    other_clerk = await staff_of(api, AccountKind.CLERK, f"城北人民法院{tag}", "赵书记员")
    assert (await api.call("GET", court_url, other_clerk))[0] == 404
