"""A court's roster (特邀调解名册) and mediators' profiles over the real API, on SQLite and PostgreSQL: a court's
administrator adds, changes, suspends, restores and removes members; the referral's reads answer at the term's
edges; who may see what (404 outside, 403 inside); bad input is a problem; a profile's figures are counted
exactly from the cases its mediator holds."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from server.domain.organisations import Organisation, OrganisationKind
from server.domain.roles import AccountKind
from server.organisations.store import OrganisationStore
from server.rosters.endpoints import ROSTERS
from server.store import schema as t
from server.store.accounts import Account
from tests.builders import staff_account
from tests.conftest import Api

pytestmark = pytest.mark.asyncio


def named(base: str) -> str:
    """A name of its own: the PostgreSQL database is shared by the session's tests."""
    return f"{base}{uuid.uuid4().hex[:6]}"


async def organisation(api: Api, kind: OrganisationKind, base: str) -> str:
    """A new organisation of ``kind``; returns its name (accounts made with it join it)."""
    name = named(base)
    await OrganisationStore(api.repo.engine).create(Organisation(str(uuid.uuid4()), kind, name, api.clock(), "330106"))
    return name


class Court:
    """A court with an administrator, a judge, a clerk and a mediator of its own."""

    admin: str
    admin_account: Account
    judge: str
    clerk: str
    own_mediator: str
    id: str
    name: str

    @classmethod
    async def make(cls, api: Api) -> Court:
        court = cls()
        court.name = name = named("示范区人民法院")
        _, court.admin, court.admin_account = await staff_account(api, AccountKind.ORG_ADMIN, name, "周管理员")
        _, court.judge, _ = await staff_account(api, AccountKind.JUDGE, name, "吴法官")
        _, court.clerk, _ = await staff_account(api, AccountKind.CLERK, name, "郑书记员")
        _, court.own_mediator, _ = await staff_account(api, AccountKind.MEDIATOR, name, "院内调解员")
        court.id = court.admin_account.organisation_id
        return court

    @property
    def roster(self) -> str:
        return f"/api/v1/organisations/{self.id}/roster"


def term(api: Api, days: int = 365, starts_in: timedelta = timedelta(0)) -> dict[str, str]:
    start = api.clock() + starts_in
    return {"term_start": start.isoformat(), "term_end": (start + timedelta(days=days)).isoformat()}


async def events(api: Api, organisation_id: str) -> list[tuple[str, str | None]]:
    """The organisation's events, oldest first: (action, account)."""
    e = t.organisation_events
    async with api.repo.engine.connect() as conn:
        rows = (
            await conn.execute(select(e.c.action, e.c.account_id).where(e.c.organisation_id == organisation_id))
        ).all()
    return [(r.action, r.account_id) for r in rows]


async def test_a_court_administrator_adds_changes_suspends_restores_and_removes_members(api: Api) -> None:
    court = await Court.make(api)
    east_name = await organisation(api, OrganisationKind.PEOPLES_MEDIATION, "城东人民调解委员会")
    _, _, east_admin = await staff_account(api, AccountKind.ORG_ADMIN, east_name)
    _, _, zhang = await staff_account(api, AccountKind.MEDIATOR, east_name, "张调解员")
    fin_name = await organisation(api, OrganisationKind.INDUSTRY_MEDIATION, "金融纠纷调解中心")
    _, _, fin_admin = await staff_account(api, AccountKind.ORG_ADMIN, fin_name)
    east, fin = east_admin.organisation_id, fin_admin.organisation_id

    # the chooser offers the mediation organisations (name, kind, region only), and one's mediators
    status, offered, _ = await api.call("GET", f"/api/v1/organisations/{court.id}/roster-candidates", court.admin)
    assert status == 200, offered
    by_id = {o["id"]: o for o in offered["organisations"]}
    assert by_id[east] == {
        "id": east,
        "name": east_name,
        "kind": "peoples_mediation",
        "kind_name": "人民调解委员会",
        "region": "330106",
    }
    assert by_id[fin]["kind"] == "industry_mediation" and court.id not in by_id
    assert all(o["kind"] in ("peoples_mediation", "industry_mediation") for o in offered["organisations"])
    status, offered, _ = await api.call(
        "GET", f"/api/v1/organisations/{court.id}/roster-candidates?organisation_id={east}", court.admin
    )
    assert offered["mediators"] == [{"id": zhang.id, "display_name": "张调解员"}]  # not the administrator

    status, added, _ = await api.call(
        "POST", court.roster, court.admin, json={"organisation_id": east, "specialties": ["traffic"], **term(api)}
    )
    assert status == 201, added
    assert (added["member"], added["organisation_name"], added["status"], added["status_name"]) == (
        "organisation",
        east_name,
        "active",
        "在册",
    )
    assert added["specialties"] == [{"value": "traffic", "name": "道路交通"}] and added["active"] is True
    status, fin_entry, _ = await api.call(
        "POST",
        court.roster,
        court.admin,
        json={"organisation_id": fin, "specialties": ["insurance", "finance"], **term(api, 30)},
    )
    assert status == 201 and [s["value"] for s in fin_entry["specialties"]] == ["finance", "insurance"]
    status, person, _ = await api.call(
        "POST", court.roster, court.admin, json={"account_id": zhang.id, "specialties": ["family"], **term(api)}
    )
    assert status == 201, person
    assert (person["member"], person["mediator_name"], person["organisation_id"]) == ("mediator", "张调解员", east)
    # once on a roster is once
    again = {"organisation_id": east, "specialties": ["finance"], **term(api)}
    assert (await api.call("POST", court.roster, court.admin, json=again))[0] == 409
    again = {"account_id": zhang.id, "specialties": ["finance"], **term(api)}
    assert (await api.call("POST", court.roster, court.admin, json=again))[0] == 409

    status, roster, _ = await api.call("GET", court.roster, court.admin)
    assert status == 200 and roster["may_manage"] is True
    assert [e["id"] for e in roster["entries"]][-1] == person["id"]  # organisations first, then mediators
    assert {e["id"] for e in roster["entries"]} == {added["id"], fin_entry["id"], person["id"]}
    assert {s["value"]: s["name"] for s in roster["specialties"]}["labour"] == "劳动争议"
    # the judge reads it, filtered by specialty
    status, traffic, _ = await api.call("GET", f"{court.roster}?specialty=traffic", court.judge)
    assert status == 200 and traffic["may_manage"] is False
    assert [e["id"] for e in traffic["entries"]] == [added["id"]]
    assert [
        e["id"] for e in (await api.call("GET", f"{court.roster}?specialty=finance", court.clerk))[1]["entries"]
    ] == [fin_entry["id"]]

    # the referral's reads
    store = api.app[ROSTERS].store
    now = api.clock()
    assert await store.is_active_member(court.id, east, now)
    assert [e.organisation_id for e in await store.active_organisations(court.id, now)] == sorted(
        [east, fin], key=lambda i: {east: east_name, fin: fin_name}[i]
    )
    assert [e.organisation_id for e in await store.active_organisations(court.id, now, "traffic")] == [east]
    assert [e.organisation_name for e in await store.active_organisations(court.id, now, "finance")] == [fin_name]
    assert (await store.active_organisations(court.id, now, "finance"))[0].organisation_kind is (
        OrganisationKind.INDUSTRY_MEDIATION
    )
    assert await store.active_organisations(court.id, now, "medical") == []
    assert await store.active_organisations(court.id, now, "traf") == []  # a whole item, not a part of one

    entry = f"{court.roster}/{added['id']}"
    status, changed, _ = await api.call(
        "PATCH", entry, court.admin, json={"specialties": ["traffic", "insurance"], **term(api, 700)}
    )
    assert status == 200 and [s["value"] for s in changed["specialties"]] == ["traffic", "insurance"]
    assert {e.id for e in await store.active_organisations(court.id, now, "insurance")} == {
        added["id"],
        fin_entry["id"],
    }

    status, suspended, _ = await api.call("PATCH", entry, court.admin, json={"status": "suspended"})
    assert status == 200 and (suspended["status_name"], suspended["active"]) == ("暂停", False)
    assert not await store.is_active_member(court.id, east, now)
    assert [e.id for e in await store.active_organisations(court.id, now, "traffic")] == []
    status, listed, _ = await api.call("GET", f"{court.roster}?status=suspended", court.judge)
    assert [e["id"] for e in listed["entries"]] == [added["id"]]
    assert (await api.call("PATCH", entry, court.admin, json={"status": "suspended"}))[0] == 200  # no change
    status, restored, _ = await api.call("PATCH", entry, court.admin, json={"status": "active"})
    assert status == 200 and restored["active"] is True
    assert await store.is_active_member(court.id, east, now)
    status, removed, _ = await api.call("PATCH", entry, court.admin, json={"status": "removed"})
    assert status == 200 and removed["status_name"] == "已除名"
    assert not await store.is_active_member(court.id, east, now)
    status, problem, _ = await api.call("PATCH", entry, court.admin, json={"status": "suspended"})
    assert (status, problem["code"]) == (409, "illegal_transition"), problem

    # each change is in the court's events and in the member organisation's
    court_events = await events(api, court.id)
    assert court_events == [
        ("roster.added", None),
        ("roster.added", None),
        ("roster.added", zhang.id),
        ("roster.updated", None),
        ("roster.suspended", None),
        ("roster.restored", None),
        ("roster.removed", None),
    ]
    assert await events(api, east) == [
        ("roster.added", None),
        ("roster.added", zhang.id),
        ("roster.updated", None),
        ("roster.suspended", None),
        ("roster.restored", None),
        ("roster.removed", None),
    ]

    # the mediation organisation's administrator sees on which rosters it and its mediators are
    east_token = (
        await api.call(
            "POST",
            "/api/v1/auth/login",
            json={"username": east_admin.username, "password": "correct horse battery staple"},
        )
    )[1]["token"]
    status, mine, _ = await api.call("GET", f"/api/v1/organisations/{east}/memberships", east_token)
    assert status == 200, mine
    assert [(e["court_name"], e["member"], e["status"]) for e in mine["entries"]] == [
        (roster["court"]["name"], "organisation", "removed"),
        (roster["court"]["name"], "mediator", "active"),
    ]
    assert mine["mediators"] == [{"id": zhang.id, "display_name": "张调解员", "disabled": False}]


async def test_the_referral_reads_answer_at_the_terms_edges(api: Api) -> None:
    court = await Court.make(api)
    east_name = await organisation(api, OrganisationKind.PEOPLES_MEDIATION, "城东人民调解委员会")
    _, _, east_admin = await staff_account(api, AccountKind.ORG_ADMIN, east_name)
    east = east_admin.organisation_id
    start = api.clock() + timedelta(days=10)
    end = start + timedelta(days=365)
    body = {"organisation_id": east, "specialties": ["traffic"], "term_start": start.isoformat()}
    status, added, _ = await api.call("POST", court.roster, court.admin, json={**body, "term_end": end.isoformat()})
    assert status == 201 and added["in_term"] is False and added["active"] is False
    store = api.app[ROSTERS].store
    tick = timedelta(microseconds=1)
    assert not await store.is_active_member(court.id, east, start - tick)
    assert await store.is_active_member(court.id, east, start)
    assert await store.is_active_member(court.id, east, end - tick)
    assert not await store.is_active_member(court.id, east, end)
    assert [e.id for e in await store.active_organisations(court.id, end - tick)] == [added["id"]]
    assert await store.active_organisations(court.id, end) == []
    assert not await store.is_active_member(str(uuid.uuid4()), east, start)  # another court
    # the in-term filter answers as of the request's clock
    assert (await api.call("GET", f"{court.roster}?in_term=true", court.judge))[1]["entries"] == []
    api.clock.advance(timedelta(days=10))
    _, court.judge, _ = await staff_account(api, AccountKind.JUDGE, court.name)  # the first login has expired
    _, court.admin, _ = await staff_account(api, AccountKind.ORG_ADMIN, court.name)
    status, listed, _ = await api.call("GET", f"{court.roster}?in_term=true", court.judge)
    assert [e["id"] for e in listed["entries"]] == [added["id"]] and listed["entries"][0]["active"] is True
    # a term moved into the past ends the membership; exactly five years is the longest
    five = start.replace(year=start.year + 5)
    assert (await api.call("PATCH", f"{court.roster}/{added['id']}", court.admin, json={"term_end": five.isoformat()}))[
        0
    ] == 200
    over = (five + timedelta(seconds=1)).isoformat()
    status, problem, _ = await api.call("PATCH", f"{court.roster}/{added['id']}", court.admin, json={"term_end": over})
    assert status == 422 and "5 years" in problem["detail"]
    # a disabled organisation is no active member
    async with api.repo.engine.begin() as conn:
        await conn.execute(t.organisations.update().where(t.organisations.c.id == east).values(disabled=True))
    assert not await store.is_active_member(court.id, east, api.clock())
    assert await store.active_organisations(court.id, api.clock()) == []


async def test_outside_the_court_nothing_is_seen_inside_it_only_administrators_act(api: Api) -> None:
    court, other = await Court.make(api), await Court.make(api)
    east_name = await organisation(api, OrganisationKind.PEOPLES_MEDIATION, "城东人民调解委员会")
    _, east_admin, east_admin_account = await staff_account(api, AccountKind.ORG_ADMIN, east_name)
    _, east_mediator, _ = await staff_account(api, AccountKind.MEDIATOR, east_name)
    east = east_admin_account.organisation_id
    body = {"organisation_id": east, "specialties": ["traffic"], **term(api)}
    status, added, _ = await api.call("POST", court.roster, court.admin, json=body)
    assert status == 201
    entry = f"{court.roster}/{added['id']}"
    candidates = f"/api/v1/organisations/{court.id}/roster-candidates"
    for token in (other.admin, other.judge, east_admin, east_mediator):  # outsiders: it does not exist
        assert (await api.call("GET", court.roster, token))[0] == 404
        assert (await api.call("POST", court.roster, token, json=body))[0] == 404
        assert (await api.call("PATCH", entry, token, json={"status": "suspended"}))[0] == 404
        assert (await api.call("GET", candidates, token))[0] == 404
    # the court's judges and clerks read, and may not change; its own mediators do not even read
    for token in (court.judge, court.clerk):
        assert (await api.call("GET", court.roster, token))[0] == 200
        assert (await api.call("POST", court.roster, token, json=body))[0] == 403
        assert (await api.call("PATCH", entry, token, json={"status": "suspended"}))[0] == 403
        assert (await api.call("GET", candidates, token))[0] == 403
    assert (await api.call("GET", court.roster, court.own_mediator))[0] == 403
    # an entry is reached only through its own court's path, and a mediation organisation has no roster
    assert (await api.call("PATCH", f"{other.roster}/{added['id']}", other.admin, json={"status": "removed"}))[0] == 404
    assert (await api.call("PATCH", f"{court.roster}/{uuid.uuid4()}", court.admin, json={"status": "removed"}))[
        0
    ] == 404
    assert (await api.call("GET", f"/api/v1/organisations/{east}/roster", east_admin))[0] == 404
    assert (await api.call("GET", court.roster, None))[0] == 401
    # the memberships: the organisation's administrators only
    memberships = f"/api/v1/organisations/{east}/memberships"
    assert (await api.call("GET", memberships, east_mediator))[0] == 403
    for token in (court.admin, other.admin):
        assert (await api.call("GET", memberships, token))[0] == 404
    assert (await api.call("GET", f"/api/v1/organisations/{court.id}/memberships", court.admin))[0] == 404
    # nothing was changed by any of it
    status, roster, _ = await api.call("GET", court.roster, court.admin)
    assert [(e["id"], e["status"]) for e in roster["entries"]] == [(added["id"], "active")]
    assert (await api.call("GET", other.roster, other.admin))[1]["entries"] == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"specialties": ["astrology"]}, "invalid_command"),
        ({"specialties": []}, "validation_failed"),
        ({"specialties": ["traffic\u0000"]}, "validation_failed"),
        ({"specialties": ["traffic"] * 10}, "validation_failed"),
        ({"term_end": "2031-11-23T09:00:01+00:00"}, "invalid_command"),  # five years and a second
        ({"term_end": "2026-11-23T09:00:00+00:00"}, "invalid_command"),  # ends as it starts
        ({"term_start": "2026-11-23T09:00:00"}, "validation_failed"),  # no time zone
        ({"organisation_id": "not-an-id"}, "validation_failed"),
        ({"organisation_id": None}, "invalid_command"),  # neither
        ({"account_id": "__court_admin__"}, "invalid_command"),  # both
        ({"organisation_id": "__random__"}, "invalid_command"),  # forged
        ({"organisation_id": "__court__"}, "invalid_command"),
        ({"organisation_id": "__insurer__"}, "invalid_command"),
        ({"organisation_id": "__appraisal__"}, "invalid_command"),
        ({"organisation_id": None, "account_id": "__court_admin__"}, "invalid_command"),  # no mediator
        ({"organisation_id": None, "account_id": "__court_mediator__"}, "invalid_command"),  # a court's own
        ({"organisation_id": None, "account_id": "__random__"}, "invalid_command"),
        ({"status": "removed"}, "validation_failed"),  # not part of adding
    ],
)
async def test_bad_roster_input_is_refused_with_a_problem(api: Api, change: dict[str, Any], code: str) -> None:
    court = await Court.make(api)
    east_name = await organisation(api, OrganisationKind.PEOPLES_MEDIATION, "城东人民调解委员会")
    _, _, east_admin = await staff_account(api, AccountKind.ORG_ADMIN, east_name)
    _, _, court_mediator = await staff_account(
        api, AccountKind.MEDIATOR, (await OrganisationStore(api.repo.engine).get(court.id)).name
    )
    insurer_name = await organisation(api, OrganisationKind.INSURER, "甲保险公司")
    _, _, insurer_admin = await staff_account(api, AccountKind.ORG_ADMIN, insurer_name)
    appraisal_name = await organisation(api, OrganisationKind.APPRAISAL, "司法鉴定所")
    _, _, appraisal_admin = await staff_account(api, AccountKind.ORG_ADMIN, appraisal_name)
    stand_ins = {
        "__court_admin__": court.admin_account.id,
        "__court_mediator__": court_mediator.id,
        "__random__": str(uuid.uuid4()),
        "__court__": court.id,
        "__insurer__": insurer_admin.organisation_id,
        "__appraisal__": appraisal_admin.organisation_id,
    }
    body: dict[str, Any] = {
        "organisation_id": east_admin.organisation_id,
        "specialties": ["traffic"],
        "term_start": "2026-11-23T09:00:00+00:00",
        "term_end": "2027-11-23T09:00:00+00:00",
    }
    body |= {k: stand_ins.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    status, problem, resp = await api.call("POST", court.roster, court.admin, json=body)
    assert status == 422 and resp.headers["Content-Type"].startswith("application/problem+json"), problem
    assert problem["code"] == code, problem
    assert (await api.call("GET", court.roster, court.admin))[1]["entries"] == []  # nothing was added
    # the same refusals on a change
    if set(change) <= {"specialties", "term_end", "term_start"}:
        good = {**body, "organisation_id": east_admin.organisation_id, "specialties": ["traffic"]}
        good["term_start"], good["term_end"] = "2026-11-23T09:00:00+00:00", "2027-11-23T09:00:00+00:00"
        status, added, _ = await api.call("POST", court.roster, court.admin, json=good)
        assert status == 201, added
        status, problem, _ = await api.call("PATCH", f"{court.roster}/{added['id']}", court.admin, json=change)
        assert (status, problem["code"]) == (422, code), problem
        status, roster, _ = await api.call("GET", court.roster, court.admin)
        assert [(e["term_end"], [s["value"] for s in e["specialties"]]) for e in roster["entries"]] == [
            ("2027-11-23T09:00:00+00:00", ["traffic"])
        ]


# ---------------------------------------------------------------- profiles


async def seed_cases(api: Api, holder: Account, rows: list[tuple[str, bool, bool]]) -> None:
    """Cases the mediator holds: (state, agreement took effect, ended)."""
    at = api.clock()
    async with api.repo.engine.begin() as conn:
        for state, agreed, ended in rows:
            await conn.execute(
                insert(t.cases).values(
                    id=str(uuid.uuid4()),
                    number=f"(2026)调{uuid.uuid4().hex[:10]}号",
                    kind="traffic_accident",
                    title="追尾",
                    state=state,
                    version=1,
                    filed_at=at,
                    updated_at=at,
                    created_by=holder.id,
                    organisation_id=holder.organisation_id,
                    lifecycle="{}",
                    holder_account_id=holder.id,
                    agreement_at=at if agreed else None,
                    ended_at=at + timedelta(days=3) if ended else None,
                    audit_seq=0,
                    audit_head="",
                )
            )


async def test_a_mediators_profile_and_its_figures_counted_from_the_cases_they_hold(api: Api) -> None:
    court, other = await Court.make(api), await Court.make(api)
    east_name = await organisation(api, OrganisationKind.PEOPLES_MEDIATION, "城东人民调解委员会")
    _, east_admin, _ = await staff_account(api, AccountKind.ORG_ADMIN, east_name)
    _, zhang, zhang_account = await staff_account(api, AccountKind.MEDIATOR, east_name, "张调解员")
    _, li, li_account = await staff_account(api, AccountKind.MEDIATOR, east_name, "李调解员")
    profile = f"/api/v1/accounts/{zhang_account.id}/profile"

    status, empty, _ = await api.call("GET", profile, zhang)
    assert status == 200, empty
    assert (empty["qualification"], empty["specialties"], empty["updated_at"], empty["may_edit"]) == (
        "",
        [],
        None,
        True,
    )
    assert empty["figures"] == {
        "handled": 0,
        "open": 0,
        "ended": 0,
        "agreements": 0,
        "ended_without_agreement": 0,
        "success_rate": None,
    }
    await seed_cases(
        api,
        zhang_account,
        [
            ("in_mediation", False, False),  # open
            ("filed", False, False),  # open
            ("agreement_effective", True, False),  # open, with an agreement
            ("closed", True, True),
            ("closed", True, True),
            ("closed", True, True),
            ("failed", False, True),
            ("withdrawn", False, True),
        ],
    )
    await seed_cases(api, li_account, [("closed", True, True)])  # another mediator's: not counted

    written = {
        "qualification": "律师",
        "specialties": ["family", "traffic"],
        "introduction": "十年调解经验。\n擅长交通事故。",
    }
    status, mine, _ = await api.call("PUT", profile, zhang, json=written)
    assert status == 200, mine
    assert mine["qualification"] == "律师" and mine["introduction"] == written["introduction"]
    assert mine["specialties"] == [{"value": "traffic", "name": "道路交通"}, {"value": "family", "name": "婚姻家庭"}]
    assert mine["organisation"]["name"] == east_name and mine["display_name"] == "张调解员"
    assert mine["figures"] == {
        "handled": 8,
        "open": 3,
        "ended": 5,
        "agreements": 4,
        "ended_without_agreement": 2,
        "success_rate": pytest.approx(4 / 6),
    }
    # the organisation's administrator edits it too; each write is in the organisation's events, not its texts
    status, by_admin, _ = await api.call("PUT", profile, east_admin, json={**written, "qualification": "退休法官"})
    assert status == 200 and by_admin["qualification"] == "退休法官" and by_admin["may_edit"] is True
    assert (await api.call("GET", profile, zhang))[1]["qualification"] == "退休法官"
    assert [a for a in await events(api, zhang_account.organisation_id) if a[0] == "profile.updated"] == [
        ("profile.updated", zhang_account.id)
    ] * 2

    # a court reads it once its roster names the mediator or their organisation (not removed), never writes it
    for token in (court.admin, court.judge, court.clerk, other.admin, li, court.own_mediator):
        assert (await api.call("GET", profile, token))[0] == 404
        assert (await api.call("PUT", profile, token, json=written))[0] == 404
    body = {"organisation_id": zhang_account.organisation_id, "specialties": ["traffic"], **term(api)}
    status, entry, _ = await api.call("POST", court.roster, court.admin, json=body)
    assert status == 201
    for token in (court.admin, court.judge, court.clerk):
        status, seen, _ = await api.call("GET", profile, token)
        assert status == 200 and seen["may_edit"] is False and seen["figures"]["handled"] == 8
        assert (await api.call("PUT", profile, token, json=written))[0] == 403
    assert (await api.call("GET", profile, court.own_mediator))[0] == 404
    assert (await api.call("GET", profile, other.judge))[0] == 404
    await api.call("PATCH", f"{court.roster}/{entry['id']}", court.admin, json={"status": "removed"})
    assert (await api.call("GET", profile, court.judge))[0] == 404
    # a mediator named alone is enough
    body = {"account_id": li_account.id, "specialties": ["family"], **term(api)}
    assert (await api.call("POST", other.roster, other.admin, json=body))[0] == 201
    assert (await api.call("GET", f"/api/v1/accounts/{li_account.id}/profile", other.judge))[0] == 200
    assert (await api.call("GET", profile, other.judge))[0] == 404
    # only mediators have profiles; no such account, no profile
    assert (await api.call("GET", f"/api/v1/accounts/{court.admin_account.id}/profile", court.admin))[0] == 404
    assert (await api.call("GET", f"/api/v1/accounts/{uuid.uuid4()}/profile", east_admin))[0] == 404
    assert (await api.call("GET", profile, None))[0] == 401


@pytest.mark.parametrize(
    "body",
    [
        {"qualification": "q" * 201},
        {"introduction": "i" * 2001},
        {"qualification": "律\n师"},
        {"qualification": "律\u0000师"},
        {"introduction": "介绍\u001b[31m"},
        {"introduction": "介绍\r\n"},
        {"specialties": ["astrology"]},
        {"specialties": "traffic"},
        {"qualification": 5},
        {"nickname": "x"},
    ],
)
async def test_bad_profile_input_is_refused_with_a_problem(api: Api, body: dict[str, Any]) -> None:
    east_name = await organisation(api, OrganisationKind.PEOPLES_MEDIATION, "城东人民调解委员会")
    _, zhang, zhang_account = await staff_account(api, AccountKind.MEDIATOR, east_name)
    profile = f"/api/v1/accounts/{zhang_account.id}/profile"
    status, problem, resp = await api.call("PUT", profile, zhang, json=body)
    assert status == 422 and resp.headers["Content-Type"].startswith("application/problem+json"), problem
    assert (await api.call("GET", profile, zhang))[1]["updated_at"] is None  # nothing was written
