"""A signed scene report that both drivers want mediated becomes one case, on SQLite and PostgreSQL: filed
``referred`` to the organisation both chose (referral ``police``, the report's number kept), the drivers as
applicant and respondent by their liability shares, their insurers, the signed finding and the photos as
documents, the finding as data; each driver's join link from their phone (and by SMS); two final requests at once
file one case; asking before the finding is signed is 409, another report's driver 404; the public start is
limited per client address (429 with Retry-After)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.domain.organisations import Organisation, OrganisationKind
from server.domain.roles import AccountKind
from server.notify import OutboxNotifier
from server.organisations.store import OrganisationStore
from server.scene.endpoints import SCENE_MEDIATION
from server.scene.usecases import STARTS_PER_CLIENT
from server.store import schema as t
from tests.builders import SCENE_DRIVERS, forget_scene_starts, found_report, signed_report, staff_account
from tests.conftest import Api

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)]

SCENE = "/api/v1/scene-reports"
ORGS = "/api/v1/public/mediation-organisations"


async def world(api: Api) -> dict[str, Any]:
    """Two open mediation organisations (the first with an administrator and a mediator), a closed one."""
    tag = uuid.uuid4().hex[:6]
    store = OrganisationStore(api.repo.engine)
    w: dict[str, Any] = {"outbox": OutboxNotifier()}
    api.app[SCENE_MEDIATION].notifier = w["outbox"]
    for key, disabled in (("east", False), ("west", False), ("closed", True)):
        name = f"{key}区道路交通事故人民调解委员会{tag}"
        organisation = Organisation(str(uuid.uuid4()), OrganisationKind.PEOPLES_MEDIATION, name, api.clock())
        if disabled:
            organisation = Organisation(
                organisation.id, organisation.kind, name, organisation.created_at, disabled=True
            )
        await store.create(organisation)
        w[key] = organisation.id
    _, w["admin"], _ = await staff_account(
        api, AccountKind.ORG_ADMIN, f"east区道路交通事故人民调解委员会{tag}", "周主任"
    )
    _, w["mediator"], _ = await staff_account(
        api, AccountKind.MEDIATOR, f"east区道路交通事故人民调解委员会{tag}", "陈调解员"
    )
    return w


async def ask(api: Api, report: dict[str, Any], n: int, organisation_id: str) -> tuple[int, Any]:
    status, out, _ = await api.call(
        "POST", f"{SCENE}/{report['id']}/mediation", report["tokens"][n], json={"organisation_id": organisation_id}
    )
    return status, out


async def cases_of(api: Api, organisation_id: str) -> int:
    async with api.repo.engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(t.cases).where(t.cases.c.organisation_id == organisation_id)
        )
    return int(found or 0)


async def test_both_drivers_ask_and_the_report_becomes_one_case(api: Api) -> None:
    w = await world(api)
    report = await signed_report(api)
    rid, tokens = report["id"], report["tokens"]
    # the phone lists the open mediation organisations of the public /apply page
    status, listed, _ = await api.call("GET", ORGS)
    assert status == 200
    ids = {o["id"] for o in listed["organisations"]}
    assert w["east"] in ids and w["west"] in ids and w["closed"] not in ids
    assert (await ask(api, report, 1, w["closed"]))[0] == 422

    # driver 2 proposes west, driver 1 east: each is the newest proposal, nothing filed
    status, view = await ask(api, report, 2, w["west"])
    assert status == 200 and view["state"] == "signed", view
    status, view = await ask(api, report, 1, w["east"])
    assert status == 200 and view["state"] == "signed" and view["mediation"]["case"] is None
    status, other, _ = await api.call("GET", f"{SCENE}/{rid}", tokens[2])
    assert [(a["driver"], a["organisation"]["id"]) for a in other["mediation"]["asked"]] == [
        (1, w["east"]),
        (2, w["west"]),
    ]
    assert await cases_of(api, w["east"]) == 0 and await cases_of(api, w["west"]) == 0
    # driver 2 sees driver 1's choice and agrees: the report becomes a case
    status, view = await ask(api, report, 2, w["east"])
    assert status == 200, view
    assert view["state"] == "mediation" and view["state_name"] == "已转调解"
    case = view["mediation"]["case"]
    assert case is not None and case["title"] == "周二与孙一道路交通事故损害赔偿纠纷"
    assert await cases_of(api, w["east"]) == 1 and await cases_of(api, w["west"]) == 0
    # asking again changes nothing
    assert (await ask(api, report, 1, w["east"]))[1]["mediation"]["case"]["id"] == case["id"]
    assert await cases_of(api, w["east"]) == 1

    # the organisation's queue holds it as the police's, with the report's number
    status, desk, _ = await api.call("GET", f"/api/v1/organisations/{w['east']}/cases", w["mediator"])
    assert status == 200, desk
    [queued] = [c for c in desk["cases"] if c["id"] == case["id"]]
    assert queued["state"] == "referred" and queued["referral_kind"] == "police"
    assert queued["court_case_number"] == report["number"] and queued["kind"] == "traffic_accident"
    # the mediator takes it and finds the parties, insurers, documents and the finding without typing
    base = f"/api/v1/cases/{case['id']}"
    assert (await api.call("POST", f"{base}/take", w["mediator"]))[0] == 200
    status, full, _ = await api.call("GET", base, w["mediator"])
    assert status == 200, full
    people = {p["role"]: p for p in full["participants"] if p["role"] in ("applicant", "respondent")}
    first, second = SCENE_DRIVERS
    # driver 2 bears 30 %: the applicant; driver 1 (70 %) the respondent
    assert (people["applicant"]["display_name"], people["applicant"]["phone"]) == (second["name"], second["phone"])
    assert (people["respondent"]["display_name"], people["respondent"]["phone"]) == (first["name"], first["phone"])
    insurers = sorted(p["display_name"] for p in full["participants"] if p["role"] == "insurer")
    # by the insurer's own name: a claim finds the insurer's organisation by it
    assert insurers == sorted({first["insurer"], second["insurer"]})
    kinds: dict[str, list[dict[str, Any]]] = {}
    for d in full["documents"]:
        kinds.setdefault(d["kind"], []).append(d)
    assert sorted(kinds) == ["liability_finding", "photo", "police_intake"]
    assert len(kinds["photo"]) == 8 and len(kinds["liability_finding"]) == 1
    status, pdf, _ = await api.call("GET", f"{base}/documents/{kinds['liability_finding'][0]['id']}", w["mediator"])
    assert status == 200 and pdf.startswith(b"%PDF")
    status, signing, _ = await api.call("GET", f"/api/v1/police/scene-reports/{rid}/finding/signing", report["officer"])
    assert hashlib.sha256(pdf).hexdigest() == signing["document"]["sha256"]
    # the finding as data, for the calculator
    status, finding, _ = await api.call("GET", f"{base}/intake", w["mediator"])
    assert status == 200, finding
    assert finding["police_case_number"] == report["number"]
    shares = {s["party"]: s["share_percent"] for s in finding["liability"]["shares"]}
    assert shares == {"D1": 70, "D2": 30}
    assert {p["ref"]: p["role"] for p in finding["parties"]} == {"D1": "respondent", "D2": "applicant"}
    assert [v["plate"] for v in finding["vehicles"]] == ["浙A12345", "浙AD12345"]

    status, timeline, _ = await api.call("GET", f"{base}/timeline", w["mediator"])
    assert status == 200, timeline
    assert (timeline["steps"][0]["label"], timeline["steps"][0]["who"]) == ("收案", "快处快赔（双方驾驶人申请调解）")
    # each driver opens their join page from the phone: a join link of their own participant
    for n, role in ((1, "respondent"), (2, "applicant")):
        status, link, _ = await api.call("POST", f"{SCENE}/{rid}/case-link", tokens[n])
        assert status == 201, link
        assert link["case_id"] == case["id"] and link["url"].startswith("https://mediation.test/join#token=m1.")
        token = link["url"].split("#token=")[1]
        status, me, _ = await api.call("GET", "/api/v1/me", token)
        assert status == 200 and me["role"] == role and me["case_id"] == case["id"], me
    # and the link reached each driver's phone by SMS
    sent = {m.to: m.text for m in w["outbox"].sent}
    assert set(sent) == {first["phone"], second["phone"]}
    assert all("/join#token=m1." in text and case["number"] in text for text in sent.values())
    # the report's chain records the requests and the case
    status, desk_view, _ = await api.call("GET", f"/api/v1/police/scene-reports/{rid}", report["officer"])
    actions = [e["action"] for e in desk_view["chain"]["events"]]
    assert actions[-2:] == ["scene.mediation_agreed", "scene.case_filed"] and desk_view["chain"]["ok"] is True


async def test_two_final_requests_at_once_file_one_case(api: Api) -> None:
    w = await world(api)
    report = await signed_report(api)
    assert (await ask(api, report, 1, w["east"]))[0] == 200
    results = await asyncio.gather(*(ask(api, report, 2, w["east"]) for _ in range(3)), ask(api, report, 1, w["east"]))
    assert [r[0] for r in results] == [200, 200, 200, 200], results
    assert [r[1]["state"] for r in results[:3]] == ["mediation"] * 3  # driver 1's again may come first: signed
    assert await cases_of(api, w["east"]) == 1
    status, view, _ = await api.call("GET", f"{SCENE}/{report['id']}", report["tokens"][1])
    assert view["mediation"]["case"] is not None


async def test_both_asking_at_once_for_the_first_time_file_one_case(api: Api) -> None:
    w = await world(api)
    report = await signed_report(api)
    results = await asyncio.gather(ask(api, report, 1, w["east"]), ask(api, report, 2, w["east"]))
    assert [r[0] for r in results] == [200, 200], results
    assert await cases_of(api, w["east"]) == 1
    status, view, _ = await api.call("GET", f"{SCENE}/{report['id']}", report["tokens"][2])
    assert view["state"] == "mediation" and view["mediation"]["case"] is not None


@pytest.mark.parametrize("filed_before_the_crash", [False, True])
async def test_a_conversion_a_crash_left_half_done_is_finished_by_a_drivers_phone(
    api: Api, filed_before_the_crash: bool
) -> None:
    w = await world(api)
    report = await signed_report(api)
    mediation = api.app[SCENE_MEDIATION]
    real_convert = mediation._convert

    async def crash(stuck: Any, organisation_id: str, now: Any) -> Any:
        # the process dies after the report moved to mediation: before filing, or after filing but before recording
        if filed_before_the_crash:
            await mediation._file(stuck, organisation_id, now)
        return stuck

    mediation._convert = crash
    try:
        assert (await ask(api, report, 1, w["east"]))[0] == 200
        status, view = await ask(api, report, 2, w["east"])
    finally:
        mediation._convert = real_convert
    assert status == 200 and view["state"] == "mediation" and view["mediation"]["case"] is None
    assert await cases_of(api, w["east"]) == (1 if filed_before_the_crash else 0)
    # within two minutes a conversion may still be running: the phone's poll leaves it alone
    api.clock.advance(timedelta(seconds=60))
    status, view, _ = await api.call("GET", f"{SCENE}/{report['id']}", report["tokens"][1])
    assert status == 200 and view["mediation"]["case"] is None
    # after it, the next poll finishes the conversion: one case, recorded on the report, links sent
    api.clock.advance(timedelta(seconds=90))
    polls = await asyncio.gather(
        *(api.call("GET", f"{SCENE}/{report['id']}", report["tokens"][n]) for n in (1, 2, 1, 2))
    )
    assert all(p[0] == 200 for p in polls), polls
    status, view, _ = await api.call("GET", f"{SCENE}/{report['id']}", report["tokens"][2])
    assert view["mediation"]["case"] is not None, view
    assert await cases_of(api, w["east"]) == 1
    assert {m.to for m in w["outbox"].sent} == {d["phone"] for d in SCENE_DRIVERS}
    status, desk_view, _ = await api.call("GET", f"/api/v1/police/scene-reports/{report['id']}", report["officer"])
    actions = [e["action"] for e in desk_view["chain"]["events"]]
    assert actions[-3:] == ["scene.mediation_agreed", "scene.mediation_resumed", "scene.case_filed"], actions
    assert desk_view["chain"]["ok"] is True


async def test_asking_before_signed_is_409_and_another_reports_driver_404(api: Api) -> None:
    w = await world(api)
    found = await found_report(api)
    status, out = await ask(api, found, 1, w["east"])
    assert status == 409 and out["code"] == "illegal_transition", out
    status, out, _ = await api.call("POST", f"{SCENE}/{found['id']}/case-link", found["tokens"][1])
    assert status == 409, out
    signed = await signed_report(api)
    # a driver of the other report: 404 on this one; no token: 401
    status, out, _ = await api.call(
        "POST", f"{SCENE}/{signed['id']}/mediation", found["tokens"][1], json={"organisation_id": w["east"]}
    )
    assert status == 404, out
    status, out, _ = await api.call("POST", f"{SCENE}/{signed['id']}/mediation", json={"organisation_id": w["east"]})
    assert status == 401, out
    # a bad body: 422, nothing recorded
    status, out, _ = await api.call(
        "POST", f"{SCENE}/{signed['id']}/mediation", signed["tokens"][1], json={"organisation_id": "x", "more": 1}
    )
    assert status == 422 and out["code"] == "validation_failed", out
    status, view, _ = await api.call("GET", f"{SCENE}/{signed['id']}", signed["tokens"][1])
    assert view["mediation"]["asked"] == [] and view["mediation"]["may_ask"] is True


async def test_starts_are_limited_per_client_address(api: Api) -> None:
    officer_unit = "限流测试交警中队"
    await staff_account(api, AccountKind.POLICE_OFFICER, officer_unit, "冯警官")
    units = (await api.call("GET", "/api/v1/public/police-units"))[1]["units"]
    unit = next(u["id"] for u in units if u["name"] == officer_unit)
    await forget_scene_starts(api)
    d = SCENE_DRIVERS[0]
    body = {
        "police_unit_id": unit,
        "occurred_at": (api.clock() - timedelta(minutes=10)).isoformat(),
        "place": "文一路",
        "name": d["name"],
        "phone": d["phone"],
    }
    for _ in range(STARTS_PER_CLIENT):
        status, out, _ = await api.call("POST", "/api/v1/public/scene-reports", json=body)
        assert status == 201, out
    async with api.repo.engine.connect() as conn:
        before = await conn.scalar(select(func.count()).select_from(t.scene_reports))
    status, out, resp = await api.call("POST", "/api/v1/public/scene-reports", json=body)
    assert status == 429 and out["code"] == "too_many_attempts", out
    assert 0 < int(resp.headers["Retry-After"]) <= 3601
    async with api.repo.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(t.scene_reports)) == before
    # the window is fixed: an hour after the first start the address may start again
    api.clock.advance(timedelta(hours=1, seconds=1))
    body["occurred_at"] = (api.clock() - timedelta(minutes=10)).isoformat()
    status, out, _ = await api.call("POST", "/api/v1/public/scene-reports", json=body)
    assert status == 201, out
