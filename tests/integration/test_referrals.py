"""Referral, assignment, the mediation period and the timeline over the real server (SQLite and
PostgreSQL): a court's clerk refers a case to an organisation on its roster; its administrator assigns a
mediator who declines with a reason; another takes it from the queue; the court sees who holds it; the
parties consent to an extension; the period passes and the case is flagged overdue; each desk sees only
its own cases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from server.app import DEADLINES
from server.domain.roles import AccountKind
from server.domain.rosters import RosterEntry, RosterStatus, Specialty
from server.notify import OutboxNotifier
from server.referrals.reminders import PeriodReminders
from server.rosters.store import RosterStore
from server.store.accounts import AccountStore
from tests.builders import staff_account
from tests.conftest import Api

pytestmark = pytest.mark.asyncio


async def _roster(api: Api, court_id: str, organisation_id: str, *, status: RosterStatus = RosterStatus.ACTIVE) -> None:
    now = api.clock()
    await RosterStore(api.repo.engine).add(
        RosterEntry(
            id=str(uuid.uuid4()),
            court_id=court_id,
            organisation_id=organisation_id,
            account_id=None,
            specialties=(Specialty.TRAFFIC,),
            term_start=now - timedelta(days=1),
            term_end=now + timedelta(days=365),
            status=status,
            added_at=now,
            added_by="test",
            updated_at=now,
        )
    )


async def _world(api: Api) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    court, east, west = f"示范区人民法院{tag}", f"城东人民调解委员会{tag}", f"城西人民调解委员会{tag}"
    w: dict[str, Any] = {"court": court}
    _, w["clerk"], clerk = await staff_account(api, AccountKind.CLERK, court, "李书记员")
    _, w["judge"], _ = await staff_account(api, AccountKind.JUDGE, court, "王法官")
    _, w["other_clerk"], _ = await staff_account(api, AccountKind.CLERK, f"城北人民法院{tag}", "赵书记员")
    _, w["admin"], admin = await staff_account(api, AccountKind.ORG_ADMIN, east, "周主任")
    _, w["m1"], m1 = await staff_account(api, AccountKind.MEDIATOR, east, "陈调解员")
    _, w["m2"], m2 = await staff_account(api, AccountKind.MEDIATOR, east, "刘调解员")
    _, w["west_admin"], west_admin = await staff_account(api, AccountKind.ORG_ADMIN, west, "吴主任")
    _, w["west_mediator"], _ = await staff_account(api, AccountKind.MEDIATOR, west, "郑调解员")
    w["court_id"], w["east_id"], w["west_id"] = clerk.organisation_id, admin.organisation_id, west_admin.organisation_id
    w["m1_id"], w["m2_id"] = m1.id, m2.id
    await _roster(api, w["court_id"], w["east_id"])
    return w


REFERRAL = {
    "referral_kind": "pre_litigation",
    "kind": "traffic_accident",
    "title": "张三诉李四机动车交通事故责任纠纷",
    "parties": [
        {"role": "applicant", "display_name": "张三", "phone": "13912345678"},
        {"role": "respondent", "display_name": "李四", "phone": "13812345678"},
        {"role": "insurer", "display_name": "某财产保险公司", "email": "claims@insurer.test"},
    ],
}


async def _refer(api: Api, w: dict[str, Any]) -> dict[str, Any]:
    status, body, _ = await api.call(
        "POST", "/api/v1/referrals", w["clerk"], json={**REFERRAL, "organisation_id": w["east_id"]}
    )
    assert status == 201, body
    return body


async def test_a_referred_case_is_assigned_declined_taken_and_followed_by_the_court(api: Api) -> None:
    w = await _world(api)
    referred = await _refer(api, w)
    cid = referred["id"]
    assert (referred["state"], referred["referral_kind"], referred["holder"]) == ("referred", "pre_litigation", None)
    assert referred["court"]["id"] == w["court_id"] and referred["organisation"]["id"] == w["east_id"]

    # the organisation's desk: the administrator sees it, a mediator sees it in the queue, outsiders nothing
    org_cases = f"/api/v1/organisations/{w['east_id']}/cases"
    for who in ("admin", "m1"):
        status, body, _ = await api.call("GET", org_cases, w[who])
        assert status == 200 and [c["id"] for c in body["cases"]] == [cid], (who, body)
    assert (await api.call("GET", org_cases, w["west_admin"]))[0] == 404
    assert cid not in str((await api.call("GET", "/api/v1/referrals", w["other_clerk"]))[1])

    # assignment: only the administrator, only to one of its own mediators
    assign = f"/api/v1/cases/{cid}/assignment"
    assert (await api.call("POST", assign, w["m1"], json={"mediator_account_id": w["m1_id"]}))[0] == 403
    assert (await api.call("POST", assign, w["west_admin"], json={"mediator_account_id": w["m1_id"]}))[0] == 404
    foreign = (await staff_account(api, AccountKind.MEDIATOR, "外省调解中心" + uuid.uuid4().hex[:4]))[2]
    status, body, _ = await api.call("POST", assign, w["admin"], json={"mediator_account_id": foreign.id})
    assert (status, body["code"]) == (422, "invalid_command"), body
    status, body, _ = await api.call("POST", assign, w["admin"], json={"mediator_account_id": w["m1_id"]})
    assert (status, body["state"], body["holder"]["id"]) == (200, "assigned", w["m1_id"]), body

    # the named mediator may see it but not yet the case itself; another may not accept it
    assert (await api.call("GET", f"/api/v1/cases/{cid}", w["m1"]))[0] == 404
    status, body, _ = await api.call("POST", f"{assign}/accept", w["m2"])
    assert (status, body["code"]) == (422, "invalid_command"), body
    assert (await api.call("POST", f"{assign}/accept", w["west_mediator"]))[0] == 404
    status, body, _ = await api.call("POST", f"{assign}/decline", w["m1"], json={"reason": " "})
    assert status == 422, body
    status, body, _ = await api.call(
        "POST", f"{assign}/decline", w["m1"], json={"reason": "与被申请人系亲属，申请回避"}
    )
    assert (status, body["state"], body["holder"]) == (200, "referred", None), body

    # another mediator takes it from the queue: they hold it, are its mediator, the period runs 30 days
    api.clock.advance(timedelta(hours=2))
    status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/take", w["m2"])
    assert (status, body["state"], body["holder"]["name"]) == (200, "filed", "刘调解员"), body
    assert body["accepted_at"] == api.clock().isoformat()
    assert body["period_deadline"] == (api.clock() + timedelta(days=30)).isoformat()
    status, case, _ = await api.call("GET", f"/api/v1/cases/{cid}", w["m2"])
    assert status == 200, case
    assert sorted(p["display_name"] for p in case["participants"]) == ["刘调解员", "张三", "李四", "某财产保险公司"]
    assert case["period"]["deadline"] == body["period_deadline"] and case["referral"]["kind"] == "pre_litigation"
    assert (await api.call("POST", f"/api/v1/cases/{cid}/take", w["m1"]))[1]["code"] == "illegal_transition"

    # the court follows it: who holds it, and its timeline
    status, court, _ = await api.call("GET", "/api/v1/referrals", w["clerk"])
    (mine,) = [c for c in court["cases"] if c["id"] == cid]
    assert (mine["holder"]["name"], mine["state"], mine["overdue"]) == ("刘调解员", "filed", False)
    for who in ("clerk", "judge", "admin", "m2"):
        status, timeline, _ = await api.call("GET", f"/api/v1/cases/{cid}/timeline", w[who])
        assert status == 200, (who, timeline)
        actions = [s["action"] for s in timeline["steps"]]
        assert actions == [
            "case.filed",
            "case.referred",
            "case.assigned",
            "assignment.declined",
            "case.assigned",
            "assignment.accepted",
            "period.started",
        ], actions
    labels = [s["label"] for s in timeline["steps"]]
    assert labels[1] == "委派至调解组织（诉前委派）"
    assert labels[2].startswith("分派调解员：陈调解员") and labels[3] == "调解员退回：与被申请人系亲属，申请回避"
    assert timeline["steps"][0]["who"].startswith("李书记员") and timeline["steps"][4]["who"].startswith("刘调解员")
    for who in ("other_clerk", "west_admin", "west_mediator", "m1"):
        assert (await api.call("GET", f"/api/v1/cases/{cid}/timeline", w[who]))[0] == 404, who


async def test_a_referral_goes_only_to_an_open_organisation_on_the_courts_roster(api: Api) -> None:
    w = await _world(api)
    refer = lambda token, **kw: api.call("POST", "/api/v1/referrals", token, json={**REFERRAL, **kw})  # noqa: E731
    status, body, _ = await refer(w["clerk"], organisation_id=w["west_id"])
    assert (status, body["code"]) == (422, "invalid_command") and "roster" in body["detail"], body
    status, body, _ = await refer(w["clerk"], organisation_id=w["east_id"], referral_kind="in_litigation")
    assert status == 422 and "case number" in body["detail"], body
    status, body, _ = await refer(
        w["clerk"], organisation_id=w["east_id"], referral_kind="in_litigation", court_case_number="(2026)示民初123号"
    )
    assert (status, body["referral_kind"], body["court_case_number"]) == (201, "in_litigation", "(2026)示民初123号")
    assert (await refer(w["m1"], organisation_id=w["east_id"]))[0] == 403  # mediators do not refer
    assert (await refer(w["admin"], organisation_id=w["east_id"]))[0] == 403
    assert (await refer(w["other_clerk"], organisation_id=w["east_id"]))[0] == 422  # not on that court's roster
    bad_party = {**REFERRAL, "organisation_id": w["east_id"], "parties": [{"role": "agent", "display_name": "x"}]}
    assert (await api.call("POST", "/api/v1/referrals", w["clerk"], json=bad_party))[0] == 422
    status, body, _ = await refer(w["clerk"], organisation_id=w["east_id"], title="\x00" * 3)
    assert status == 422, body
    status, body, _ = await refer(w["clerk"], organisation_id=w["east_id"], parties=[])
    assert status == 422, body
    # a suspended member gets no more cases
    court_store = RosterStore(api.repo.engine)
    assert await court_store.is_active_member(w["court_id"], w["east_id"], api.clock())
    _, _, other_org_admin = await staff_account(api, AccountKind.ORG_ADMIN, "城南人民调解委员会" + uuid.uuid4().hex[:4])
    await _roster(api, w["court_id"], other_org_admin.organisation_id, status=RosterStatus.SUSPENDED)
    assert (await refer(w["clerk"], organisation_id=other_org_admin.organisation_id))[0] == 422


async def test_a_partys_direct_application_joins_the_organisations_queue(api: Api) -> None:
    w = await _world(api)
    path = f"/api/v1/organisations/{w['east_id']}/applications"
    body = {k: REFERRAL[k] for k in ("kind", "title", "parties")}
    assert (await api.call("POST", path, w["m1"], json=body))[0] == 403
    assert (await api.call("POST", path, w["west_admin"], json=body))[0] == 404
    status, out, _ = await api.call("POST", path, w["admin"], json=body)
    assert (status, out["state"], out["referral_kind"], out["court"]) == (201, "referred", "application", None), out
    status, out, _ = await api.call("POST", f"/api/v1/cases/{out['id']}/take", w["m1"])
    assert (status, out["holder"]["id"]) == (200, w["m1_id"]), out


async def _links(api: Api, cid: str, mediator: str) -> dict[str, str]:
    _, case, _ = await api.call("GET", f"/api/v1/cases/{cid}", mediator)
    out = {}
    for p in case["participants"]:
        if p["role"] != "mediator":
            status, link, _ = await api.call("POST", f"/api/v1/cases/{cid}/participants/{p['id']}/link", mediator)
            assert status == 201, link
            out[p["display_name"]] = link["token"]
    return out


async def test_the_period_is_extended_only_with_every_partys_consent_and_an_overdue_case_is_flagged(api: Api) -> None:
    w = await _world(api)
    cid = (await _refer(api, w))["id"]
    await api.call("POST", f"/api/v1/cases/{cid}/take", w["m1"])
    _, case, _ = await api.call("GET", f"/api/v1/cases/{cid}", w["m1"])
    deadline = case["period"]["deadline"]
    links = await _links(api, cid, w["m1"])
    ext = f"/api/v1/cases/{cid}/period/extension"
    assert (await api.call("POST", ext, links["张三"], json={"days": 10, "reason": "等待鉴定"}))[0] == 403
    assert (await api.call("POST", ext, w["m1"], json={"days": 31, "reason": "等待鉴定"}))[0] == 422
    assert (await api.call("POST", ext, w["m1"], json={"days": 1e300, "reason": "x"}))[0] == 422
    status, case, _ = await api.call("POST", ext, w["m1"], json={"days": 10, "reason": "等待伤残等级鉴定意见"})
    assert status == 200 and case["period"]["extension"]["days"] == 10, case
    assert (await api.call("POST", f"{ext}/consent", w["m1"]))[0] == 403
    for name in ("张三", "李四"):
        status, case, _ = await api.call("POST", f"{ext}/consent", links[name])
        assert status == 200 and case["period"]["deadline"] == deadline, case
    status, body, _ = await api.call("POST", f"{ext}/consent", links["张三"])
    assert (status, body["code"]) == (422, "invalid_command"), body  # a consent counts once
    status, case, _ = await api.call("POST", f"{ext}/consent", links["某财产保险公司"])
    extended = case["period"]["deadline"]
    assert extended == (api.clock() + timedelta(days=40)).isoformat(), case  # accepted at the same instant
    assert case["period"]["extension"] is None and case["period"]["extensions"] == 1

    # the period passes: the scheduler reminds, then flags the case overdue; the court sees the flag and the
    # mediator gets both messages at their account's contact
    outbox = OutboxNotifier()
    (reminders,) = [x for x in api.app[DEADLINES].listeners if isinstance(x, PeriodReminders)]
    reminders.notifier = outbox
    await AccountStore(api.repo.engine).set_contacts(w["m1_id"], "13700001111", None)
    api.clock.advance(timedelta(days=41))
    api.app[DEADLINES].poke()
    w["clerk"] = (await staff_account(api, AccountKind.CLERK, w["court"], "新书记员"))[1]  # logins last 12 hours
    for _ in range(200):
        _, court, _ = await api.call("GET", "/api/v1/referrals", w["clerk"])
        (mine,) = [c for c in court["cases"] if c["id"] == cid]
        if mine["overdue"]:
            break
        await asyncio.sleep(0.05)
    assert mine["overdue"] is True, mine
    _, timeline, _ = await api.call("GET", f"/api/v1/cases/{cid}/timeline", w["clerk"])
    actions = [s["action"] for s in timeline["steps"]]
    period = [a for a in actions if a.startswith("period.")]
    assert period == [
        "period.started",
        "period.extension_requested",
        "period.extension_consented",
        "period.extension_consented",
        "period.extension_consented",
        "period.extended",
        "period.reminder",
        "period.overdue",
    ], actions
    assert next(s for s in timeline["steps"] if s["action"] == "period.overdue")["who"] == "系统"
    ours = [m for m in outbox.sent if case["number"] in m.text]  # the shared database holds other cases' periods
    sent = [(m.channel, m.to, m.kind) for m in ours]
    assert sorted(sent) == [("sms", "13700001111", "period_overdue"), ("sms", "13700001111", "period_reminder")], sent
    assert all("张三" not in m.text for m in ours)
    assert "将于" in next(m.text for m in ours if m.kind == "period_reminder")


async def test_two_administrators_adding_one_member_at_once_put_it_on_the_roster_once(api: Api) -> None:
    w = await _world(api)
    _, _, member = await staff_account(api, AccountKind.ORG_ADMIN, "城南人民调解委员会" + uuid.uuid4().hex[:4])
    results = await asyncio.gather(
        *(_roster(api, w["court_id"], member.organisation_id) for _ in range(4)), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["Duplicate", "Duplicate", "Duplicate", "NoneType"], results
    entries = await RosterStore(api.repo.engine).active_organisations(w["court_id"], api.clock())
    assert [e.organisation_id for e in entries].count(member.organisation_id) == 1
