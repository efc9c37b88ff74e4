"""The statistics over the real server on SQLite and PostgreSQL: cases seeded with known index columns (written
straight into the tables), the figures computed again here from the seed, each caller's scope, the filters,
their validation, and the CSV beside the JSON."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from server.domain.participants import Participant
from server.domain.roles import AccountKind, Role
from server.http.kit import AUTH
from server.statistics.figures import STATE_NAMES
from server.store import schema as t
from tests.builders import staff_account
from tests.conftest import Api
from tests.statistics_seed import Seed, World, expected, figures_of, seed

pytestmark = pytest.mark.asyncio


def check(body: dict[str, Any], cases: list[Seed], world: World) -> None:
    """Every grouping of ``body`` matches the figures computed here from ``cases``."""
    assert figures_of(body["totals"]) == expected(cases)
    orgs = {g["key"]: g for g in body["by_organisation"]}
    assert set(orgs) == {c.org for c in cases}
    for key, g in orgs.items():
        assert figures_of(g) == expected([c for c in cases if c.org == key]), key
    mediators = {g["key"]: g for g in body["by_mediator"]}
    assert set(mediators) == {c.holder for c in cases if c.holder}
    for key, g in mediators.items():
        assert figures_of(g) == expected([c for c in cases if c.holder == key]), key
    months = [g["key"] for g in body["by_month"]]
    assert months == sorted({c.month for c in cases})
    for g in body["by_month"]:
        assert figures_of(g) == expected([c for c in cases if c.month == g["key"]]), g["key"]


async def party_link(api: Api, w: World) -> str:
    """A party's own join link to one of the seeded cases (a real token the server checks)."""
    async with api.repo.engine.connect() as conn:
        row = (await conn.execute(select(t.participants).where(t.participants.c.case_id == w.cases[0].id))).first()
    assert row is not None
    person = Participant(row.id, row.case_id, Role(row.role), row.display_name, row.added_at)
    return (await api.app[AUTH].issue_join_link(person, api.clock())).token


async def stats(api: Api, token: str | None, query: str = "", ext: str = "") -> tuple[int, Any, Any]:
    return await api.call("GET", f"/api/v1/statistics{ext}{query}", token)


async def test_each_caller_sees_the_figures_of_their_cases_computed_by_the_database(api: Api) -> None:
    w = await seed(api)
    A, B, C1 = w.ids["A"], w.ids["B"], w.ids["C1"]  # noqa: N806

    # an organisation's administrator: its cases, every grouping, names
    status, body, _ = await stats(api, w.tokens["admin_a"])
    assert status == 200, body
    mine = w.where(lambda c: c.org == A)
    check(body, mine, w)
    assert body["totals"]["success_rate"] == 0.6 and body["totals"]["overdue"] == 1  # 3 of 5 decided
    assert body["totals"]["median_days_to_agreement"] == 6.5 and body["totals"]["satisfaction"] == 3.67
    assert [g["key"] for g in body["by_month"]] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert {g["name"] for g in body["by_mediator"]} == {"甲调解员", "乙调解员"}
    assert body["by_organisation"][0]["name"].startswith("东城人民调解委员会")
    assert body["scope"]["kind"] == "organisation" and body["judges"] == []
    assert {c["id"] for c in body["choices"]["courts"]} == {C1, w.ids["C2"]}
    assert [c["id"] for c in body["choices"]["organisations"]] == [A]

    # the period (Beijing dates): the case referred at 00:30 on 1 April is April's, not March's
    status, body, _ = await stats(api, w.tokens["admin_a"], "?from=2026-02-01&to=2026-03-31")
    assert status == 200, body
    check(body, w.where(lambda c: c.org == A and "2026-02" <= c.month <= "2026-03"), w)
    assert body["filters"] == {"court": None, "organisation": None, "from": "2026-02-01", "to": "2026-03-31"}
    status, body, _ = await stats(api, w.tokens["admin_a"], "?from=2026-04-01&to=2026-04-01")
    assert body["totals"]["cases"] == 1 and body["totals"]["by_state"] == {"withdrawn": 1}

    # a court among its cases' referring courts narrows them; another organisation is not found
    status, body, _ = await stats(api, w.tokens["admin_a"], f"?court={C1}")
    assert status == 200, body
    check(body, w.where(lambda c: c.org == A and c.court == C1), w)
    for q in (f"?organisation={B}", f"?organisation={C1}", f"?court={uuid.uuid4()}", f"?organisation={uuid.uuid4()}"):
        status, problem, resp = await stats(api, w.tokens["admin_a"], q)
        assert (status, problem["code"]) == (404, "not_found"), q
        assert resp.headers["Content-Type"].startswith("application/problem+json")
    status, problem, _ = await stats(api, w.tokens["admin_b"], f"?organisation={A}")
    assert status == 404

    # court staff: what their court referred (to anyone) and what it holds itself, and its judges' workload
    court_cases = w.where(lambda c: c.court == C1 or c.org == C1)
    for who in ("judge1", "clerk"):
        status, body, _ = await stats(api, w.tokens[who])
        assert status == 200, body
        check(body, court_cases, w)
        assert body["scope"]["kind"] == "court"
        assert {c["id"] for c in body["choices"]["organisations"]} == {A, B, C1}
        assert sorted((j["name"], j["rulings"], j["pending"]) for j in body["judges"]) == [
            ("赵法官", 3, 0),
            ("钱法官", 1, 1),
        ]
    status, body, _ = await stats(api, w.tokens["judge1"], f"?organisation={A}&from=2026-01-01&to=2026-02-28")
    assert status == 200, body
    check(body, w.where(lambda c: c.court == C1 and c.org == A and c.month <= "2026-02"), w)
    assert sorted((j["name"], j["rulings"], j["pending"]) for j in body["judges"]) == [
        ("赵法官", 1, 0),
        ("钱法官", 0, 1),
    ]
    assert (await stats(api, w.tokens["judge1"], f"?court={w.ids['C2']}"))[0] == 404
    status, body, _ = await stats(api, w.tokens["judge_c2"])
    check(body, w.where(lambda c: c.court == w.ids["C2"]), w)
    assert [(j["name"], j["rulings"]) for j in body["judges"]] == [("周法官", 1)]

    # a mediator: their own cases only
    status, body, _ = await stats(api, w.tokens["m1"])
    assert status == 200, body
    check(body, w.where(lambda c: c.holder == w.ids["m1"]), w)
    assert body["scope"]["kind"] == "mediator" and [g["key"] for g in body["by_mediator"]] == [w.ids["m1"]]
    assert (await stats(api, w.tokens["m1"], f"?organisation={B}"))[0] == 404

    # no token, a party's link
    assert (await stats(api, None))[0] == 401
    party = await party_link(api, w)
    status, problem, _ = await stats(api, party)
    assert (status, problem["code"]) == (403, "forbidden")
    assert (await stats(api, party, ext=".csv"))[0] == 403


async def test_the_csv_says_what_the_json_says(api: Api) -> None:
    w = await seed(api)
    query = f"?from=2026-01-01&to=2026-12-31&court={w.ids['C1']}"
    _, body, _ = await stats(api, w.tokens["admin_a"], query)
    status, raw, resp = await stats(api, w.tokens["admin_a"], query, ext=".csv")
    assert status == 200 and resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0])[:4] == ["分组", "编号", "名称", "案件数"]
    groups = [("合计", [body["totals"]])] + [
        (name, body[key])
        for name, key in (("调解组织", "by_organisation"), ("调解员", "by_mediator"), ("月份", "by_month"))
    ]
    expected_rows = [(name, g) for name, gs in groups for g in gs]
    assert len(rows) == len(expected_rows)
    for row, (name, g) in zip(rows, expected_rows, strict=True):
        assert (row["分组"], row["编号"], row["名称"]) == (name, g["key"], g["name"])
        assert int(row["案件数"]) == g["cases"] and int(row["调解成功"]) == g["successes"]
        assert row["调解成功率"] == ("" if g["success_rate"] is None else str(g["success_rate"]))
        assert row["委派至达成协议中位天数"] == (
            "" if g["median_days_to_agreement"] is None else str(g["median_days_to_agreement"])
        )
        assert row["平均满意度"] == ("" if g["satisfaction"] is None else str(g["satisfaction"]))
        for state, n in g["by_state"].items():
            assert int(row[STATE_NAMES[state]]) == n
    assert rows[0]["案件数"] == str(len(w.where(lambda c: c.org == w.ids["A"] and c.court == w.ids["C1"])))

    # the court's export carries its judges' workload after the groups
    _, raw, _ = await stats(api, w.tokens["judge1"], ext=".csv")
    text = raw.decode("utf-8-sig")
    assert "法官工作量" in text and "赵法官" in text


@pytest.mark.parametrize(
    "query",
    [
        "?from=2026-13-01",
        "?to=2026-02-30",
        "?from=2026/01/01",
        "?from=20260101",
        "?from=2026-03-01&to=2026-02-01",
        "?from=2016-01-01&to=2026-01-01",
        "?court=" + "x" * 37,
        "?organisation=a%20b",
        "?extra=1",
    ],
)
async def test_bad_filters_are_refused_with_a_problem(api: Api, query: str) -> None:
    _, token, _ = await staff_account(api, AccountKind.ORG_ADMIN, f"某调解委员会{uuid.uuid4().hex[:6]}")
    for ext in ("", ".csv"):
        status, problem, resp = await stats(api, token, query, ext)
        assert status == 422, (query, problem)
        assert resp.headers["Content-Type"].startswith("application/problem+json")
    # ten years to the day is allowed; one more day is not
    assert (await stats(api, token, "?from=2016-01-02&to=2026-01-01"))[0] == 200


async def test_an_insurer_administrator_sees_no_statistics(api: Api) -> None:
    from server.domain.organisations import Organisation, OrganisationKind
    from server.organisations.store import OrganisationStore

    name = f"某保险公司{uuid.uuid4().hex[:6]}"
    await OrganisationStore(api.repo.engine).create(
        Organisation(str(uuid.uuid4()), OrganisationKind.INSURER, name, api.clock())
    )
    _, token, _ = await staff_account(api, AccountKind.ORG_ADMIN, name)
    status, problem, _ = await stats(api, token)
    assert (status, problem["code"]) == (403, "forbidden")
