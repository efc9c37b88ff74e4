"""Organisations and their accounts: the migration that moves existing accounts and cases into them, and an
administrator managing the organisation's accounts over the API (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.domain.roles import AccountKind
from server.store import db
from server.store.accounts import AccountStore
from tests.builders import staff_account
from tests.conftest import PG_ADMIN_URL, Api, _pg_admin

pytestmark = pytest.mark.asyncio

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


# ---------------------------------------------------------------- the migration


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def at_0014(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database migrated to revision 0014, the last before organisations (a sync fixture: it runs its
    own event loops, as the session's PostgreSQL fixture does)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        db.upgrade_sync(url, "0014")
        yield url
        return
    request.getfixturevalue("pg_url")  # fails in CI, skips elsewhere, when PostgreSQL is away
    name = f"mediation_mig_{secrets.token_hex(4)}"
    asyncio.run(_pg_admin(f"CREATE DATABASE {name}"))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        db.upgrade_sync(url, "0014")
        yield url
    finally:
        asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


OLD_ACCOUNTS = [  # (username, kind, organization, days after T0)
    ("judge-a", "judge", "示范区人民法院", 3),
    ("court-mediator", "mediator", "示范区人民法院", 1),
    ("east-1", "mediator", "城东人民调解委员会", 5),
    ("east-2", "mediator", " 城东人民调解委员会 ", 2),
    ("nobody", "mediator", "", 4),
]


async def _old_rows(url: str) -> dict[str, str]:
    """Accounts and cases as the server kept them before organisations; returns username -> id."""
    engine = db.create_engine(url)
    ids = {}
    try:
        async with engine.begin() as conn:
            for username, kind, org, days in OLD_ACCOUNTS:
                ids[username] = str(uuid.uuid4())
                await conn.execute(
                    text(
                        "INSERT INTO accounts (id, username, display_name, kind, organization, password_hash,"
                        " created_at, disabled, phone, email) VALUES (:id, :u, :u, :k, :o, 'x', :at, false, NULL, NULL)"
                    ),
                    {"id": ids[username], "u": username, "k": kind, "o": org, "at": T0 + timedelta(days=days)},
                )
            for number, creator in (("(2026)调1号", ids["east-1"]), ("(2026)调2号", None)):
                ids[number] = str(uuid.uuid4())
                await conn.execute(
                    text(
                        "INSERT INTO cases (id, number, kind, title, state, version, filed_at, updated_at,"
                        " created_by, lifecycle, audit_seq, audit_head)"
                        " VALUES (:id, :n, 'traffic_accident', '追尾', 'filed', 1, :at, :at, :by, '{}', 0, '')"
                    ),
                    {"id": ids[number], "n": number, "at": T0, "by": creator},
                )
    finally:
        await engine.dispose()
    return ids


async def _rows(url: str, sql: str) -> list[Any]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def test_the_migration_moves_every_account_and_case_into_an_organisation(at_0014: str) -> None:
    ids = await _old_rows(at_0014)
    await db.upgrade(at_0014)
    orgs = {r.name: r for r in await _rows(at_0014, "SELECT id, kind, name, created_at FROM organisations")}
    assert {name: r.kind for name, r in orgs.items()} == {
        "示范区人民法院": "court",  # a judge holds it (and it names a court)
        "城东人民调解委员会": "peoples_mediation",  # the same name with stray spaces is the same organisation
        "未指定机构": "peoples_mediation",  # accounts recorded without one
    }
    court, east = orgs["示范区人民法院"], orgs["城东人民调解委员会"]
    since = court.created_at if isinstance(court.created_at, datetime) else datetime.fromisoformat(court.created_at)
    assert since.replace(tzinfo=since.tzinfo or UTC) == T0 + timedelta(days=1)  # its earliest account
    accounts = {
        r.username: r for r in await _rows(at_0014, "SELECT username, organisation_id, organization FROM accounts")
    }
    assert len(accounts) == len(OLD_ACCOUNTS)
    assert {u: orgs_name for u, orgs_name in ((u, r.organization) for u, r in accounts.items())} == {
        "judge-a": "示范区人民法院",
        "court-mediator": "示范区人民法院",
        "east-1": "城东人民调解委员会",
        "east-2": "城东人民调解委员会",
        "nobody": "未指定机构",
    }
    by_name = {name: r.id for name, r in orgs.items()}
    assert all(r.organisation_id == by_name[r.organization] for r in accounts.values())
    cases = {r.number: r.organisation_id for r in await _rows(at_0014, "SELECT number, organisation_id FROM cases")}
    assert cases == {"(2026)调1号": east.id, "(2026)调2号": None}  # its creator's; no creator, none
    # 0017: an old case was filed by its mediator, who holds it from filing; it has no court and no period
    tracked = {
        r.number: r
        for r in await _rows(
            at_0014,
            "SELECT number, referral_kind, court_id, holder_account_id, referred_at, accepted_at, period_deadline,"
            " overdue, agreement_at, ended_at FROM cases",
        )
    }
    one, two = tracked["(2026)调1号"], tracked["(2026)调2号"]
    assert (one.referral_kind, one.court_id, one.holder_account_id) == ("own", None, ids["east-1"])
    assert (two.referral_kind, two.holder_account_id) == ("own", None)
    for row in (one, two):
        for moment in (row.referred_at, row.accepted_at):
            when = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
            assert when.replace(tzinfo=when.tzinfo or UTC) == T0
        assert (row.period_deadline, bool(row.overdue), row.agreement_at, row.ended_at) == (None, False, None, None)
    # the store reads a migrated account with its organisation
    engine = db.create_engine(at_0014)
    try:
        migrated = await AccountStore(engine).account(ids["east-2"])
    finally:
        await engine.dispose()
    assert migrated.organisation_id == east.id and migrated.organization == "城东人民调解委员会"

    # and back: nothing the old schema held is lost
    from alembic import command

    await asyncio.to_thread(command.downgrade, db.alembic_config(at_0014), "0014")
    back = await _rows(at_0014, "SELECT username, kind FROM accounts ORDER BY username")
    assert [(r.username, r.kind) for r in back] == sorted((u, k) for u, k, _, _ in OLD_ACCOUNTS)
    assert len(await _rows(at_0014, "SELECT id FROM cases")) == 2
    await db.upgrade(at_0014)  # and forward again
    assert len(await _rows(at_0014, "SELECT id FROM organisations")) == 3


# ---------------------------------------------------------------- an administrator's work


def named(base: str) -> str:
    """A name of its own: the PostgreSQL database is shared by the session's tests."""
    return f"{base}{uuid.uuid4().hex[:6]}"


async def login(api: Api, username: str, password: str) -> tuple[int, Any]:
    status, body, _ = await api.call("POST", "/api/v1/auth/login", json={"username": username, "password": password})
    return status, body


async def test_an_administrator_creates_resets_and_disables_the_organisations_accounts(api: Api) -> None:
    east = named("城东人民调解委员会")
    _, admin, admin_account = await staff_account(api, AccountKind.ORG_ADMIN, east, "陈管理员")
    status, mine, _ = await api.call("GET", "/api/v1/organisations/mine", admin)
    assert status == 200, mine
    assert mine["organisation"]["kind"] == "peoples_mediation" and mine["may_manage_accounts"] is True
    assert mine["organisation"]["staff_kinds"] == ["mediator", "org_admin"]
    org = mine["organisation"]["id"]
    base = f"/api/v1/organisations/{org}/accounts"

    zhang = f"zhang.{uuid.uuid4().hex[:6]}"
    new = {"username": zhang, "display_name": "张调解员", "kind": "mediator", "phone": "13900001111"}
    status, created, _ = await api.call("POST", base, admin, json=new)
    assert status == 201, created
    password = created["password"]
    assert len(password) == 14 and created["account"]["kind_name"] == "调解员"
    status, body = await login(api, zhang, password)
    assert status == 200 and body["account"]["organization"] == east
    mediator = body["token"]
    # the mediator's cases are held by the organisation
    status, case, _ = await api.call(
        "POST", "/api/v1/cases", mediator, json={"kind": "traffic_accident", "title": "剐蹭"}
    )
    assert status == 201, case
    [row] = await _rows(
        api.settings.resolved_database_url, f"SELECT organisation_id FROM cases WHERE id = '{case['id']}'"
    )
    assert row.organisation_id == org

    # a court's kinds do not fit a mediation committee; a taken name is taken
    status, problem, _ = await api.call(
        "POST", base, admin, json={**new, "username": f"li.{uuid.uuid4().hex[:6]}", "kind": "judge"}
    )
    assert (status, problem["code"]) == (422, "invalid_command"), problem
    status, problem, _ = await api.call("POST", base, admin, json=new)
    assert status == 409, problem

    account_url = f"{base}/{created['account']['id']}"
    status, changed, _ = await api.call("PUT", f"{account_url}/contacts", admin, json={"email": "zhang@example.org"})
    assert status == 200 and changed["email"] == "zhang@example.org" and changed["phone"] is None

    status, reset, _ = await api.call("POST", f"{account_url}/password", admin)
    assert status == 200 and reset["password"] != password
    assert (await api.call("GET", "/api/v1/me", mediator))[0] == 401  # the old login ended
    assert (await login(api, zhang, password))[0] == 401
    status, body = await login(api, zhang, reset["password"])
    assert status == 200
    mediator = body["token"]

    status, disabled, _ = await api.call("POST", f"{account_url}/disable", admin)
    assert status == 200 and disabled["disabled"] is True
    assert (await api.call("GET", "/api/v1/me", mediator))[0] == 401
    assert (await login(api, zhang, reset["password"]))[0] == 401
    status, problem, _ = await api.call("POST", f"{base}/{admin_account.id}/disable", admin)
    assert status == 422 and "own account" in problem["detail"]

    status, listing, _ = await api.call("GET", base, admin)
    assert status == 200
    assert {a["username"]: a["disabled"] for a in listing["accounts"]} == {
        admin_account.username: False,
        zhang: True,
    }
    actions = [e["action"] for e in reversed(listing["events"])]
    assert actions == ["account.created", "account.contacts_set", "account.password_reset", "account.disabled"]
    assert all(e["actor"] == f"account:{admin_account.id}" for e in listing["events"])
    events = json.dumps(listing["events"])
    assert "13900001111" not in events and "example.org" not in events and reset["password"] not in events


async def test_outside_the_organisation_nothing_is_seen_inside_it_only_administrators_act(api: Api) -> None:
    east_name, west_name = named("城东人民调解委员会"), named("城西人民调解委员会")
    _, east_admin, _ = await staff_account(api, AccountKind.ORG_ADMIN, east_name)
    _, west_admin, west_admin_account = await staff_account(api, AccountKind.ORG_ADMIN, west_name)
    _, east_mediator, east_mediator_account = await staff_account(api, AccountKind.MEDIATOR, east_name)
    _, judge, _ = await staff_account(api, AccountKind.JUDGE, named("示范区人民法院"))
    east = east_mediator_account.organisation_id
    base = f"/api/v1/organisations/{east}/accounts"
    one = f"{base}/{east_mediator_account.id}"
    new = {"username": f"x{uuid.uuid4().hex[:8]}", "display_name": "某人", "kind": "mediator"}
    for token in (west_admin, judge):  # other organisations: it does not exist for them
        assert (await api.call("GET", base, token))[0] == 404
        assert (await api.call("POST", base, token, json=new))[0] == 404
        assert (await api.call("POST", f"{one}/disable", token))[0] == 404
        assert (await api.call("POST", f"{one}/password", token))[0] == 404
        assert (await api.call("PUT", f"{one}/contacts", token, json={}))[0] == 404
    # its own staff who are not administrators: refused
    assert (await api.call("GET", base, east_mediator))[0] == 403
    assert (await api.call("POST", base, east_mediator, json=new))[0] == 403
    # an administrator cannot reach another organisation's account through their own organisation's path
    other = f"{base}/{west_admin_account.id}"
    assert (await api.call("POST", f"{other}/disable", east_admin))[0] == 404
    assert (await api.call("POST", f"/api/v1/organisations/{uuid.uuid4()}/accounts", east_admin, json=new))[0] == 404
    assert (await api.call("GET", base, None))[0] == 401
    assert (await api.call("GET", "/api/v1/organisations/mine", None))[0] == 401
    # nothing was changed by any of it
    assert (await api.call("GET", "/api/v1/me", east_mediator))[0] == 200
    status, listing, _ = await api.call("GET", base, east_admin)
    assert status == 200 and listing["events"] == [] and len(listing["accounts"]) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "display_name": "短", "kind": "mediator"},
        {"username": "has space", "display_name": "空格", "kind": "mediator"},
        {"username": "张三", "display_name": "中文名", "kind": "mediator"},
        {"username": "ctl\u0007name", "display_name": "控制", "kind": "mediator"},
        {"username": "x" * 65, "display_name": "长", "kind": "mediator"},
        {"username": "root.user", "display_name": "超级", "kind": "superuser"},
        {"username": "blank.name", "display_name": "   ", "kind": "mediator"},
        {"username": "ctl.name", "display_name": "名\u0000字", "kind": "mediator"},
        {"username": "extra.field", "display_name": "多", "kind": "mediator", "organisation_id": "x"},
        {"username": "bad.phone", "display_name": "号", "kind": "mediator", "phone": "1e9"},
    ],
)
async def test_bad_account_input_is_refused_with_a_problem(api: Api, body: dict[str, Any]) -> None:
    _, admin, account = await staff_account(api, AccountKind.ORG_ADMIN, named("城东人民调解委员会"))
    base = f"/api/v1/organisations/{account.organisation_id}/accounts"
    status, problem, resp = await api.call("POST", base, admin, json=body)
    assert status == 422 and resp.headers["Content-Type"].startswith("application/problem+json"), problem
    assert len((await api.call("GET", base, admin))[1]["accounts"]) == 1  # nothing was created
