"""A party applies to a mediation organisation from the public page's operations, over the real server (SQLite
and PostgreSQL): the public listing shows open mediation organisations only, and nothing of their people; a
code by SMS proves the applicant's mobile (a keyed hash kept, expiring, voided by five wrong guesses, limited
per number and per address); the application files one case, once, in the organisation's queue; the
applicant's link opens it; bad input is refused with problem+json."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from server.domain.organisations import Organisation, OrganisationKind
from server.domain.roles import AccountKind
from server.errors import DeliveryFailed
from server.notify import Delivery, Message, OutboxNotifier
from server.organisations.store import OrganisationStore
from server.referrals.application_endpoints import APPLICATIONS
from server.store import schema as t
from tests.builders import code_for, staff_account
from tests.conftest import Api

pytestmark = pytest.mark.asyncio

ORGS = "/api/v1/public/mediation-organisations"
CODE = "/api/v1/public/applications/code"
APPLY = "/api/v1/public/applications"
PROBLEM = "application/problem+json"


def mobile() -> str:
    """A fresh mainland mobile number (the PostgreSQL database is shared by the session's tests)."""
    return f"139{secrets.randbelow(10**8):08d}"


async def _world(api: Api) -> dict[str, Any]:
    lim = t.application_limits
    async with api.repo.engine.begin() as conn:  # every test calls from 127.0.0.1 at the same clock
        await conn.execute(delete(lim).where(lim.c.bucket.like("client-hour:%")))
    tag = uuid.uuid4().hex[:6]
    region = f"浙江省杭州市西湖区{tag}"
    store = OrganisationStore(api.repo.engine)
    w: dict[str, Any] = {"region": region, "outbox": OutboxNotifier()}
    api.app[APPLICATIONS].notifier = w["outbox"]
    for key, kind, name, disabled in (
        ("east", OrganisationKind.PEOPLES_MEDIATION, f"西湖区城东人民调解委员会{tag}", False),
        ("industry", OrganisationKind.INDUSTRY_MEDIATION, f"杭州市保险行业纠纷调解中心{tag}", False),
        ("closed", OrganisationKind.PEOPLES_MEDIATION, f"已撤销人民调解委员会{tag}", True),
        ("court", OrganisationKind.COURT, f"西湖区人民法院{tag}", False),
        ("appraisal", OrganisationKind.APPRAISAL, f"某司法鉴定所{tag}", False),
    ):
        organisation = Organisation(str(uuid.uuid4()), kind, name, api.clock(), region=region, disabled=disabled)
        await store.create(organisation)
        w[key], w[f"{key}_id"] = name, organisation.id
    _, w["admin"], _ = await staff_account(api, AccountKind.ORG_ADMIN, w["east"], "周主任", phone="13700001111")
    _, w["mediator"], mediator = await staff_account(api, AccountKind.MEDIATOR, w["east"], "陈调解员")
    assert mediator.organisation_id == w["east_id"]
    return w


def application(w: dict[str, Any], phone: str, code: str, **changes: Any) -> dict[str, Any]:
    body = {
        "organisation_id": w["east_id"],
        "kind": "traffic_accident",
        "description": "2026年11月20日在文三路被电动车撞伤，住院 5 天，对方不愿赔偿医疗费。",
        "applicant": {"display_name": "张三", "phone": phone},
        "respondent": {"display_name": "李四", "phone": "13812345678"},
        "code": code,
    }
    body.update(changes)
    return body


async def send(api: Api, w: dict[str, Any], phone: str, organisation: str = "east_id") -> tuple[int, Any, Any]:
    return await api.call("POST", CODE, json={"organisation_id": w[organisation], "phone": phone})


async def sent_code(api: Api, w: dict[str, Any], phone: str) -> str:
    status, body, _ = await send(api, w, phone)
    assert status == 201, body
    return code_for(w["outbox"], phone)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def test_the_listing_shows_open_mediation_organisations_and_nothing_of_their_people(api: Api) -> None:
    w = await _world(api)
    status, body, resp = await api.call("GET", f"{ORGS}?region={w['region']}")
    assert status == 200, body
    assert resp.headers["Cache-Control"] == "no-store"
    listed = body["organisations"]
    assert [o["name"] for o in listed] == sorted([w["east"], w["industry"]])
    assert all(set(o) == {"id", "name", "kind", "kind_name", "region"} for o in listed)
    east = next(o for o in listed if o["id"] == w["east_id"])
    assert (east["kind"], east["kind_name"], east["region"]) == ("peoples_mediation", "人民调解委员会", w["region"])
    text = str(body)
    assert "周主任" not in text and "13700001111" not in text and "陈调解员" not in text
    # the region filter: part of the region text matches, other text does not
    status, body, _ = await api.call("GET", f"{ORGS}?region={w['region'][-6:]}")
    assert {o["id"] for o in body["organisations"]} == {w["east_id"], w["industry_id"]}
    assert (await api.call("GET", f"{ORGS}?region=不存在的地区{uuid.uuid4().hex}"))[1] == {"organisations": []}
    # the same answer to a signed-in caller; a control character in the filter is refused
    assert (await api.call("GET", f"{ORGS}?region={w['region']}", w["admin"]))[1]["organisations"] == listed
    status, body, resp = await api.call("GET", f"{ORGS}?region=%00")
    assert (status, body["code"], resp.content_type) == (422, "validation_failed", PROBLEM)


async def test_a_code_files_one_case_in_the_queue_and_the_applicants_link_opens_it(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    w = await _world(api)
    phone = mobile()
    status, sent, _ = await send(api, w, phone)
    assert status == 201, sent
    assert sent["to"] == f"{phone[:3]}****{phone[-4:]}" and sent["resend_after_seconds"] == 60
    assert sent["expires_at"] == (api.clock() + timedelta(minutes=10)).isoformat()
    (message,) = w["outbox"].sent
    assert (message.channel, message.to, message.kind) == ("sms", phone, "application_code")
    code = code_for(w["outbox"], phone)
    assert w["east"] in message.text
    # only keyed hashes are kept: neither the code nor the number is in the codes' or the limits' rows
    async with api.repo.engine.connect() as conn:
        rows = [*(await conn.execute(select(t.application_codes))).all()]
        rows += (await conn.execute(select(t.application_limits))).all()
    assert rows and not any(code in str(r) or phone in str(r) for r in rows)

    status, filed, _ = await api.call("POST", APPLY, json=application(w, phone, code))
    assert status == 201, filed
    case = filed["case"]
    assert case["state"] == "referred" and case["organisation"] == {"id": w["east_id"], "name": w["east"]}
    assert filed["join_url"].startswith("https://mediation.test/join#token=")

    # a replay files nothing: the same code answers 409, and the organisation has one case
    status, again, resp = await api.call("POST", APPLY, json=application(w, phone, code))
    assert (status, again["code"], resp.content_type) == (409, "application_submitted", PROBLEM), again
    status, queue, _ = await api.call("GET", f"/api/v1/organisations/{w['east_id']}/cases", w["admin"])
    assert status == 200 and [c["id"] for c in queue["cases"]] == [case["id"]]
    (listed,) = queue["cases"]
    assert (listed["state"], listed["referral_kind"], listed["holder"]) == ("referred", "application", None)
    assert listed["title"] == "张三与李四道路交通事故损害赔偿纠纷" and listed["kind"] == "traffic_accident"
    status, mine, _ = await api.call("GET", f"/api/v1/organisations/{w['east_id']}/cases", w["mediator"])
    assert [c["id"] for c in mine["cases"]] == [case["id"]]  # in the mediators' queue

    # the applicant's link opens their case: their own phone, the other party named
    token = filed["join_url"].split("#token=")[1]
    status, me, _ = await api.call("GET", "/api/v1/me", token)
    assert status == 200 and me["case_id"] == case["id"] and me["display_name"] == "张三", me
    status, view, _ = await api.call("GET", f"/api/v1/cases/{case['id']}", token)
    assert status == 200, view
    assert (view["state"], view["your_role"], view["referral"]["kind"]) == ("referred", "applicant", "application")
    people = {p["display_name"]: p for p in view["participants"]}
    assert set(people) == {"张三", "李四"} and people["张三"]["phone"] == phone

    # a mediator takes it from the queue and finds the applicant holding that phone
    status, taken, _ = await api.call("POST", f"/api/v1/cases/{case['id']}/take", w["mediator"])
    assert (status, taken["state"]) == (200, "filed"), taken
    status, view, _ = await api.call("GET", f"/api/v1/cases/{case['id']}", w["mediator"])
    applicant = next(p for p in view["participants"] if p["role"] == "applicant")
    assert (applicant["display_name"], applicant["phone"]) == ("张三", phone)
    status, timeline, _ = await api.call("GET", f"/api/v1/cases/{case['id']}/timeline", w["mediator"])
    assert timeline["steps"][0]["who"] == "张三（申请人）", timeline["steps"]
    async with api.repo.engine.connect() as conn:
        (kept,) = (await conn.execute(select(t.applications).where(t.applications.c.case_id == case["id"]))).all()
    assert kept.description.startswith("2026年11月20日在文三路") and kept.organisation_id == w["east_id"]
    # the dispute in the applicant's words: for the applicant, the case's staff and its organisation's administrator
    read = f"/api/v1/cases/{case['id']}/application"
    for who in (token, w["mediator"], w["admin"]):
        status, body, _ = await api.call("GET", read, who)
        assert status == 200 and body["description"] == kept.description, body
        assert body["organisation"] == {"id": w["east_id"], "name": w["east"]}
    _, outsider, _ = await staff_account(api, AccountKind.ORG_ADMIN, f"城西人民调解委员会{uuid.uuid4().hex[:6]}")
    assert (await api.call("GET", read, outsider))[0] == 404
    assert (await api.call("GET", read))[0] == 401
    status, own, _ = await api.call("POST", "/api/v1/cases", w["mediator"], json={"kind": "other", "title": "自行受理"})
    assert status == 201, own
    assert (await api.call("GET", f"/api/v1/cases/{own['id']}/application", w["mediator"]))[0] == 404

    # nothing personal in the logs
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "application code" in logged and "application filed" in logged
    for secret in (phone, code, "张三", "李四", "13812345678", "文三路", token):
        assert secret not in logged and secret not in caplog.text


async def test_two_submissions_with_one_code_at_once_file_one_case(api: Api) -> None:
    w = await _world(api)
    phone = mobile()
    code = await sent_code(api, w, phone)
    body = application(w, phone, code)
    results = await asyncio.gather(*(api.call("POST", APPLY, json=body) for _ in range(4)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [201, 409, 409, 409], [r[1] for r in results]
    assert all(b["code"] == "application_submitted" for s, b, _ in results if s == 409)
    status, queue, _ = await api.call("GET", f"/api/v1/organisations/{w['east_id']}/cases", w["admin"])
    assert len(queue["cases"]) == 1


async def test_ten_code_requests_at_once_send_one_code(api: Api) -> None:
    w = await _world(api)
    phone = mobile()
    results = await asyncio.gather(*(send(api, w, phone) for _ in range(10)))
    assert sorted(status for status, _, _ in results) == [201] + [429] * 9, [r[1] for r in results]
    assert all(resp.headers["Retry-After"] for status, _, resp in results if status == 429)
    assert [m.to for m in w["outbox"].sent] == [phone]


async def test_five_wrong_guesses_void_the_code(api: Api) -> None:
    w = await _world(api)
    phone = mobile()
    code = await sent_code(api, w, phone)
    for left in (4, 3, 2, 1):
        status, body, resp = await api.call("POST", APPLY, json=application(w, phone, wrong(code)))
        assert (status, body["code"], resp.content_type) == (422, "wrong_code", PROBLEM), body
        assert f"{left} tries left" in body["detail"]
    status, body, _ = await api.call("POST", APPLY, json=application(w, phone, wrong(code)))
    assert (status, body["code"]) == (422, "code_void"), body
    status, body, _ = await api.call("POST", APPLY, json=application(w, phone, code))  # the right one, too late
    assert (status, body["code"]) == (422, "code_void"), body
    # a new code (after the minute's wait) works; the old one does not
    api.clock.advance(timedelta(seconds=61))
    fresh = await sent_code(api, w, phone)
    if fresh != code:
        status, body, _ = await api.call("POST", APPLY, json=application(w, phone, code))
        assert (status, body["code"]) == (422, "wrong_code"), body
    status, body, _ = await api.call("POST", APPLY, json=application(w, phone, fresh))
    assert status == 201, body


async def test_a_code_expires_after_ten_minutes_and_a_newer_code_replaces_it(api: Api) -> None:
    w = await _world(api)
    phone = mobile()
    code = await sent_code(api, w, phone)
    api.clock.advance(timedelta(minutes=10))
    status, body, _ = await api.call("POST", APPLY, json=application(w, phone, code))
    assert (status, body["code"]) == (422, "code_expired"), body
    code = await sent_code(api, w, phone)
    api.clock.advance(timedelta(minutes=9, seconds=59))
    newer = await sent_code(api, w, phone)
    if newer != code:  # (one time in a million they are the same)
        status, body, _ = await api.call("POST", APPLY, json=application(w, phone, code))
        assert (status, body["code"]) == (422, "wrong_code"), body
    assert (await api.call("POST", APPLY, json=application(w, phone, newer)))[0] == 201
    # a code for no number at all
    status, body, _ = await api.call("POST", APPLY, json=application(w, mobile(), "123456"))
    assert (status, body["code"]) == (422, "code_missing"), body


async def test_sending_is_limited_per_number_and_per_address(api: Api) -> None:
    w = await _world(api)
    phone = mobile()
    assert (await send(api, w, phone))[0] == 201
    status, body, resp = await send(api, w, phone)
    assert (status, body["code"], resp.content_type) == (429, "too_many_codes", PROBLEM), body
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert len(w["outbox"].sent) == 1  # refused: nothing sent
    for _ in range(4):
        api.clock.advance(timedelta(seconds=61))
        assert (await send(api, w, phone))[0] == 201
    api.clock.advance(timedelta(seconds=61))
    status, body, resp = await send(api, w, phone)  # the sixth in a day
    assert (status, body["code"]) == (429, "too_many_codes"), body
    assert 3600 < int(resp.headers["Retry-After"]) <= 24 * 3600
    # the address: twenty codes an hour, whatever the numbers (five went to the first)
    for _ in range(15):
        assert (await send(api, w, mobile()))[0] == 201
    status, body, resp = await send(api, w, mobile())
    assert (status, body["code"]) == (429, "too_many_codes"), body
    assert 1 <= int(resp.headers["Retry-After"]) <= 3600
    assert len(w["outbox"].sent) == 20
    api.clock.advance(timedelta(hours=1))
    assert (await send(api, w, mobile()))[0] == 201


@pytest.mark.parametrize(
    "change",
    [
        {"applicant": {"display_name": "张三", "phone": "12345678901"}},
        {"applicant": {"display_name": "张三", "phone": "+8613912345678"}},
        {"applicant": {"display_name": "张三", "phone": "1391234567"}},
        {"respondent": {"display_name": "李四", "phone": "010-1234567"}},
        {"applicant": {"display_name": "张\x00三", "phone": "13912345678"}},
        {"respondent": {"display_name": "李\x1b四"}},
        {"description": "撞伤\u2028住院"},
        {"description": "很" * 501},
        {"description": "   "},
        {"kind": "murder"},
        {"code": "12345"},
        {"code": "12345a"},
        {"organisation_id": "not-a-uuid"},
        {"role": "mediator"},
    ],
)
async def test_bad_applications_are_refused_with_problems(api: Api, change: dict[str, Any]) -> None:
    w = await _world(api)
    body = {**application(w, "13912345678", "123456"), **change}
    status, problem, resp = await api.call("POST", APPLY, json=body)
    assert (status, problem["code"], resp.content_type) == (422, "validation_failed", PROBLEM), problem
    assert "Traceback" not in str(problem)


async def test_unknown_closed_and_other_organisations_huge_bodies_and_bad_numbers_are_refused(api: Api) -> None:
    w = await _world(api)
    phone = mobile()
    for organisation in ("closed_id", "court_id", "appraisal_id"):
        status, body, resp = await send(api, w, phone, organisation)
        assert (status, body["code"], resp.content_type) == (422, "invalid_command", PROBLEM), (organisation, body)
    w["nowhere"] = str(uuid.uuid4())
    assert (await send(api, w, phone, "nowhere"))[1]["code"] == "invalid_command"
    assert w["outbox"].sent == []  # no code for any of them
    code = await sent_code(api, w, phone)
    for organisation in ("closed_id", "court_id", "appraisal_id", "nowhere"):
        body = application(w, phone, code, organisation_id=w[organisation])
        status, problem, _ = await api.call("POST", APPLY, json=body)
        assert (status, problem["code"]) == (422, "invalid_command"), (organisation, problem)
    # the bad organisations did not spend the code: it still files the application (to the industry's)
    longest = application(w, phone, code, organisation_id=w["industry_id"], description="很" * 500)  # the most
    status, filed, _ = await api.call("POST", APPLY, json=longest)
    assert status == 201 and filed["case"]["organisation"]["id"] == w["industry_id"], filed
    # bad numbers for a code; a huge body; not JSON
    for bad in ("12345678901", "139123456789", "", "１３９１２３４５６７８"):
        status, problem, _ = await api.call("POST", CODE, json={"organisation_id": w["east_id"], "phone": bad})
        assert (status, problem["code"]) == (422, "validation_failed"), (bad, problem)
    huge = application(w, phone, code, description="很" * 20000)
    status, problem, resp = await api.call("POST", APPLY, json=huge)
    assert (status, problem["code"], resp.content_type) == (413, "payload_too_large", PROBLEM)
    status, problem, _ = await api.call("POST", APPLY, data=b"{not json", headers={"Content-Type": "application/json"})
    assert (status, problem["code"]) == (400, "malformed_json")


class _Gateway:
    """An SMS gateway that fails (temporarily, then for good) before it works."""

    def __init__(self) -> None:
        self.failures = [DeliveryFailed("gateway 503", permanent=False), DeliveryFailed("gateway 400", permanent=True)]
        self.outbox = OutboxNotifier()

    async def send(self, message: Message) -> Delivery:
        if self.failures:
            raise self.failures.pop(0)
        return await self.outbox.send(message)


async def test_an_undelivered_code_is_void_and_not_counted(api: Api) -> None:
    w = await _world(api)
    gateway = _Gateway()
    api.app[APPLICATIONS].notifier = gateway
    phone = mobile()
    status, body, _ = await send(api, w, phone)
    assert (status, body["code"]) == (503, "service_unavailable"), body
    status, body, _ = await send(api, w, phone)  # at once: the failed one held no wait
    assert (status, body["code"]) == (422, "invalid_command"), body
    assert phone not in str(body)
    status, body, _ = await send(api, w, phone)
    assert status == 201, body
    code = code_for(gateway.outbox, phone)
    assert (await api.call("POST", APPLY, json=application(w, phone, code)))[0] == 201
