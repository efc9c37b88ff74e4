"""Cases from the police's systems over the real server (SQLite and PostgreSQL): a document signed with an
agency's intake key files one case per police case number, referred to the mediation organisation's queue with
its parties, insurers, documents and liability finding, which a mediator then takes and hosts without typing
anything in; unsigned, forged, revoked, stale and replayed requests are 401 with their codes; a wrong field is
422 naming its path; nothing is stored for a refusal."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from server.app import build_app
from server.domain.organisations import Organisation, OrganisationKind
from server.domain.roles import AccountKind
from server.intake.client import PATH, IntakeClient, encode, signed_headers
from server.intake.endpoints import INTAKE
from server.intake.keys import key_secret
from server.intake.store import IntakeStore
from server.intake.usecases import AgencyKeys
from server.organisations.store import OrganisationStore
from server.store import schema as t
from tests.builders import intake_document, staff_account
from tests.conftest import Api

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True),
]


def number() -> str:
    """A fresh police case number (the PostgreSQL database is shared by the run's tests)."""
    return f"公交认字[2026]第{uuid.uuid4().int % 10**8:08d}号"


async def world(api: Api) -> dict[str, Any]:
    """Two police agencies with a key each, an open and a closed mediation organisation, the open one's mediator."""
    tag = uuid.uuid4().hex[:6]
    orgs = OrganisationStore(api.repo.engine)
    w: dict[str, Any] = {}
    for key, kind, name, disabled in (
        ("police", OrganisationKind.POLICE, f"杭州市公安局交通警察支队西湖大队{tag}", False),
        ("other_police", OrganisationKind.POLICE, f"宁波市公安局交通警察支队{tag}", False),
        ("mediation", OrganisationKind.PEOPLES_MEDIATION, f"西湖区道路交通事故人民调解委员会{tag}", False),
        ("closed", OrganisationKind.PEOPLES_MEDIATION, f"已撤销人民调解委员会{tag}", True),
    ):
        organisation = Organisation(str(uuid.uuid4()), kind, name, api.clock(), disabled=disabled)
        await orgs.create(organisation)
        w[key] = organisation
    keys = AgencyKeys(orgs, IntakeStore(api.repo.engine), api.app[INTAKE].intake_key)
    for agency in ("police", "other_police"):
        key_id, secret = await keys.create_key(w[agency].id, api.clock())
        w[f"{agency}_client"] = IntakeClient(api.base, key_id, bytes.fromhex(secret), api.http)
    w["keys"] = keys
    _, w["mediator"], _ = await staff_account(api, AccountKind.MEDIATOR, w["mediation"].name, "陈调解员")
    _, w["admin"], _ = await staff_account(api, AccountKind.ORG_ADMIN, w["mediation"].name, "周主任")
    return w


def stamp(api: Api) -> int:
    return int(api.clock().timestamp())


async def send(api: Api, client: IntakeClient, doc: dict[str, Any]) -> tuple[int, Any]:
    return await client.file(doc, timestamp=stamp(api))


async def raw(api: Api, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    status, answer, _ = await api.call("POST", PATH, data=body, headers=headers)
    return status, answer


async def stored(api: Api, w: dict[str, Any], police_case_number: str) -> tuple[int, int]:
    """How many intake rows the number has, and how many cases the world's mediation organisation holds."""
    async with api.repo.engine.connect() as conn:
        intakes = await conn.scalar(
            select(func.count())
            .select_from(t.police_intakes)
            .where(t.police_intakes.c.police_case_number == police_case_number)
        )
        cases = await conn.scalar(
            select(func.count()).select_from(t.cases).where(t.cases.c.organisation_id == w["mediation"].id)
        )
    return int(intakes or 0), int(cases or 0)


async def test_a_signed_document_files_a_case_that_a_mediator_hosts_without_typing(api: Api) -> None:
    w = await world(api)
    n = number()
    doc = intake_document(w["mediation"].id, n)
    status, answer = await send(api, w["police_client"], doc)
    assert status == 201, answer
    assert answer["created"] is True and answer["case"]["state"] == "referred"
    assert answer["case"]["organisation"] == {"id": w["mediation"].id, "name": w["mediation"].name}
    assert "No links were sent" in answer["invitations"]
    case_id = answer["case"]["id"]
    # the organisation's queue shows it as the police's, with the police case number
    status, desk, _ = await api.call("GET", f"/api/v1/organisations/{w['mediation'].id}/cases", w["admin"])
    assert status == 200, desk
    [listed] = [c for c in desk["cases"] if c["id"] == case_id]
    assert listed["referral_kind"] == "police" and listed["court_case_number"] == n
    assert listed["title"] == "张三与李四道路交通事故损害赔偿纠纷" and listed["kind"] == "traffic_accident"
    # a mediator takes it and finds the parties, their contacts, the insurers and the documents
    base = f"/api/v1/cases/{case_id}"
    status, taken, _ = await api.call("POST", f"{base}/take", w["mediator"])
    assert status == 200, taken
    status, view, _ = await api.call("GET", base, w["mediator"])
    assert status == 200, view
    people = {(p["role"], p["display_name"]): p for p in view["participants"]}
    applicant, respondent = people["applicant", "张三"], people["respondent", "李四"]
    assert applicant["phone"] == "13911112222" and applicant["email"] == "zhang.intake@example.org"
    assert applicant["id_number"] == doc["parties"][0]["id_number"]
    assert respondent["phone"] == "13833334444"
    assert {name for role, name in people if role == "insurer"} == {
        "甲财产保险股份有限公司（交强险）",
        "甲财产保险股份有限公司（商业险）",
    }
    kinds = {d["kind"]: d for d in view["documents"]}
    assert set(kinds) == {"liability_finding", "photo", "police_intake"}
    status, pdf, _ = await api.call("GET", f"{base}/documents/{kinds['liability_finding']['id']}", w["mediator"])
    assert status == 200 and pdf == base64.b64decode(doc["attachments"][0]["content"])
    # the finding as data, for the calculator
    status, finding, _ = await api.call("GET", f"{base}/intake", w["mediator"])
    assert status == 200, finding
    assert finding["police_case_number"] == n
    assert {s["party"]: s["share_percent"] for s in finding["liability"]["shares"]} == {"P1": 30, "P2": 70}
    assert [p["plate"] for p in finding["parties"]] == ["浙B67890", "浙A12345"]
    assert "mobile" not in json.dumps(finding) and "id_number" not in json.dumps(finding)
    status, timeline, _ = await api.call("GET", f"{base}/timeline", w["mediator"])
    assert status == 200, timeline
    first, referred = timeline["steps"][:2]
    assert (first["label"], first["who"]) == ("收案", "公安交管部门系统")
    assert "公安交管部门委托调解" in referred["label"] and referred["who"] == "公安交管部门系统"
    # the mediator invites the parties from the console as for any referred case
    applicant_id = applicant["id"]
    status, link, _ = await api.call("POST", f"{base}/participants/{applicant_id}/link", w["mediator"])
    assert status == 201, link
    # a party reads the case; the intake data is the staff's
    party = link["token"]
    assert (await api.call("GET", base, party))[0] == 200
    assert (await api.call("GET", f"{base}/intake", party))[0] == 403


async def test_the_same_number_twice_files_one_case(api: Api) -> None:
    w = await world(api)
    n = number()
    doc = intake_document(w["mediation"].id, n)
    first = await send(api, w["police_client"], doc)
    again = await send(api, w["police_client"], copy.deepcopy(doc))
    assert (first[0], again[0]) == (201, 200), (first, again)
    assert again[1]["case"]["id"] == first[1]["case"]["id"] and again[1]["created"] is False
    assert await stored(api, w, n) == (1, 1)
    # the same number with another document is a conflict and changes nothing
    changed = copy.deepcopy(doc)
    changed["liability"]["shares"][0]["share_percent"] = 60
    changed["liability"]["shares"][1]["share_percent"] = 40
    status, problem = await send(api, w["police_client"], changed)
    assert status == 409 and problem["code"] == "intake_conflict", problem
    assert await stored(api, w, n) == (1, 1)


async def test_two_identical_requests_at_once_file_one_case(api: Api) -> None:
    w = await world(api)
    n = number()
    doc = intake_document(w["mediation"].id, n)
    answers = await asyncio.gather(*(send(api, w["police_client"], doc) for _ in range(4)))
    assert sorted(s for s, _ in answers) == [200, 200, 200, 201], answers
    assert len({a["case"]["id"] for _, a in answers}) == 1
    assert await stored(api, w, n) == (1, 1)


async def test_unsigned_forged_revoked_stale_and_replayed_requests_are_refused(api: Api) -> None:
    w = await world(api)
    client = w["police_client"]
    n = number()
    body = encode(intake_document(w["mediation"].id, n))

    def headers(**kw: Any) -> dict[str, str]:
        return signed_headers(client.key_id, client.secret, body, timestamp=kw.pop("timestamp", stamp(api)), **kw)

    mediator_token = w["mediator"]
    cases: list[tuple[str, dict[str, str]]] = [
        ("intake_unsigned", {"Content-Type": "application/json"}),
        ("intake_unsigned", {"Content-Type": "application/json", "Authorization": f"Bearer {mediator_token}"}),
        ("intake_unsigned", {**headers(), "X-Intake-Nonce": "short"}),
        ("intake_bad_signature", {**headers(), "X-Intake-Signature": "0" * 64}),
        (
            "intake_bad_signature",  # signed for another path
            signed_headers(client.key_id, client.secret, body, timestamp=stamp(api), path="/api/v1/intake/other"),
        ),
        (
            "intake_bad_signature",  # another agency's secret under this key id
            signed_headers(client.key_id, w["other_police_client"].secret, body, timestamp=stamp(api)),
        ),
        ("intake_unknown_key", {**headers(), "X-Intake-Key": "ik_" + "0" * 32}),
        ("stale_request", headers(timestamp=stamp(api) - 301)),
        ("stale_request", headers(timestamp=stamp(api) + 301)),
    ]
    for code, h in cases:
        status, problem = await raw(api, body, h)
        assert (status, problem.get("code")) == (401, code), (code, problem)
    assert await stored(api, w, n) == (0, 0)
    # a replay: the very same request again
    once = headers()
    assert (await raw(api, body, once))[0] == 201
    status, problem = await raw(api, body, once)
    assert (status, problem["code"]) == (401, "replayed_request")
    # a tampered body under the first signature
    status, problem = await raw(
        api, body.replace(b"P1", b"P3"), headers() | {"X-Intake-Signature": once["X-Intake-Signature"]}
    )
    assert (status, problem["code"]) == (401, "intake_bad_signature")
    assert await stored(api, w, n) == (1, 1)
    # the nonce is remembered in the database: a second node refuses the replay too
    second = TestServer(build_app(api.settings, clock=api.clock), host="127.0.0.1")
    await second.start_server()
    try:
        url = str(second.make_url(PATH))
        async with api.http.post(url, data=body, headers=once) as resp:
            assert (resp.status, (await resp.json())["code"]) == (401, "replayed_request")
        fresh = signed_headers(
            w["other_police_client"].key_id, w["other_police_client"].secret, body, timestamp=stamp(api)
        )
        async with api.http.post(url, data=body, headers=fresh) as resp:
            assert resp.status == 201  # the other agency's own case, through the second node
        async with api.http.post(url, data=body, headers=fresh) as resp:
            assert (resp.status, (await resp.json())["code"]) == (401, "replayed_request")
    finally:
        await second.close()
    # a revoked key signs nothing
    await w["keys"].revoke_key(client.key_id, api.clock())
    other = number()
    status, problem = await send(api, client, intake_document(w["mediation"].id, other))
    assert (status, problem["code"]) == (401, "intake_unknown_key")
    assert await stored(api, w, other) == (0, 2)  # the organisation holds only the two cases filed above
    # nonces older than ten minutes are pruned as requests arrive (a replay of them is stale by then)
    api.clock.advance(timedelta(minutes=10, seconds=1))
    assert (await send(api, w["other_police_client"], intake_document(w["mediation"].id, number())))[0] == 201
    async with api.repo.engine.connect() as conn:
        kept = await conn.scalar(
            select(func.count())
            .select_from(t.intake_nonces)
            .where(t.intake_nonces.c.nonce.in_([once["X-Intake-Nonce"], fresh["X-Intake-Nonce"]]))
        )
    assert kept == 0
    status, problem = await raw(api, body, fresh)  # its nonce forgotten, its time is past
    assert (status, problem["code"]) == (401, "stale_request")


async def test_a_wrong_field_is_refused_with_its_path_and_nothing_is_stored(api: Api) -> None:
    w = await world(api)
    n = number()

    def wrong(change: Any) -> dict[str, Any]:
        doc = intake_document(w["mediation"].id, n)
        change(doc)
        return doc

    def bad_id(d: dict[str, Any]) -> None:
        good = d["parties"][1]["id_number"]
        d["parties"][1]["id_number"] = good[:17] + ("1" if good[17] == "0" else "0")

    def shares(d: dict[str, Any]) -> None:
        d["liability"]["shares"][0]["share_percent"] = 80

    def unknown(d: dict[str, Any]) -> None:
        d["parties"][0]["nickname"] = "三儿"

    def not_a_photo(d: dict[str, Any]) -> None:
        d["attachments"][1]["content"] = base64.b64encode(b"MZ\x90\x00 this is no JPEG").decode()

    def unknown_party(d: dict[str, Any]) -> None:
        d["vehicles"][0]["party"] = "P9"

    for change, path in (
        (bad_id, "parties.1.id_number"),
        (shares, "liability.shares"),
        (unknown, "parties.0.nickname"),
        (not_a_photo, "attachments.1.content"),
        (unknown_party, "vehicles.0.party"),
    ):
        status, problem = await send(api, w["police_client"], wrong(change))
        assert status == 422 and problem["code"] == "validation_failed", problem
        assert [e["field"] for e in problem["errors"]] == [path]
        assert "13911112222" not in json.dumps(problem, ensure_ascii=False)  # no input values echoed
    # a closed (or unknown) mediation organisation
    for organisation in (w["closed"].id, str(uuid.uuid4()), w["police"].id):
        status, problem = await send(api, w["police_client"], intake_document(organisation, n))
        assert status == 422 and problem["code"] == "validation_failed", problem
        assert [e["field"] for e in problem["errors"]] == ["mediation_organisation_id"]
    assert await stored(api, w, n) == (0, 0)


async def test_an_agencys_key_files_only_for_its_agency(api: Api) -> None:
    w = await world(api)
    n = number()
    doc = intake_document(w["mediation"].id, n)
    ours = await send(api, w["police_client"], doc)
    assert ours[0] == 201
    # the agency comes from the key, never from the document
    status, problem = await send(api, w["other_police_client"], {**doc, "agency_id": w["police"].id})
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["agency_id"]
    # the other agency's same number is its own case: it neither reaches nor conflicts with the first
    theirs = await send(api, w["other_police_client"], doc)
    assert theirs[0] == 201 and theirs[1]["case"]["id"] != ours[1]["case"]["id"]
    async with api.repo.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t.police_intakes.c.organisation_id, t.police_intakes.c.case_id).where(
                    t.police_intakes.c.police_case_number == n
                )
            )
        ).all()
    assert {(r.organisation_id, r.case_id) for r in rows} == {
        (w["police"].id, ours[1]["case"]["id"]),
        (w["other_police"].id, theirs[1]["case"]["id"]),
    }


async def test_keys_only_for_open_police_agencies_and_two_at_most(api: Api) -> None:
    from server.errors import InvalidCommand, NotFound

    w = await world(api)
    keys: AgencyKeys = w["keys"]
    with pytest.raises(InvalidCommand):
        await keys.create_key(w["mediation"].id, api.clock())
    second, secret = await keys.create_key(w["police"].id, api.clock())
    assert bytes.fromhex(secret) == key_secret(api.app[INTAKE].intake_key, second)
    with pytest.raises(InvalidCommand):
        await keys.create_key(w["police"].id, api.clock())  # the third active key
    await keys.revoke_key(w["police_client"].key_id, api.clock())
    with pytest.raises(NotFound):
        await keys.revoke_key(w["police_client"].key_id, api.clock())
    third, _ = await keys.create_key(w["police"].id, api.clock())  # room again after a revocation
    async with api.repo.engine.connect() as conn:
        secrets_kept = (await conn.execute(select(t.intake_keys).where(t.intake_keys.c.id == third))).one()
    assert secret not in str(tuple(secrets_kept))  # the database holds no secret
