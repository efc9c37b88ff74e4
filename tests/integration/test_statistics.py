"""The statistics over the real server on SQLite and PostgreSQL: cases seeded with known index columns (written
straight into the tables), the figures computed again here from the seed, each caller's scope, the filters,
their validation, and the CSV beside the JSON."""

from __future__ import annotations

import csv
import io
import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from server.domain.participants import Participant
from server.domain.roles import AccountKind, Role
from server.domain.time import BEIJING
from server.http.kit import AUTH
from server.statistics.figures import STATE_NAMES
from server.store import schema as t
from tests.builders import staff_account
from tests.conftest import Api

pytestmark = pytest.mark.asyncio

END = {"confirmed", "rejected", "mediation_failed", "withdrawn", "closed"}


@dataclass
class Seed:
    """One case as seeded."""

    org: str
    court: str | None
    holder: str | None
    state: str
    referred: datetime  # Beijing wall time
    agreement_days: float | None = None
    confirmation_days: float | None = None
    overdue: bool = False
    scores: list[int] = field(default_factory=list)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def referred_utc(self) -> datetime:
        return self.referred.replace(tzinfo=BEIJING).astimezone(UTC)

    @property
    def ended(self) -> bool:
        return self.state in END

    @property
    def month(self) -> str:
        return self.referred.strftime("%Y-%m")


def bj(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi)


def expected(cases: list[Seed]) -> dict[str, Any]:
    """The figures of these cases, computed here without SQL."""
    decided = [c for c in cases if c.agreement_days is not None or c.ended]
    successes = [c for c in cases if c.agreement_days is not None]
    agree = [c.agreement_days for c in cases if c.agreement_days is not None]
    confirm = [c.confirmation_days for c in cases if c.confirmation_days is not None]
    scores = [s for c in cases for s in c.scores]
    by_state: dict[str, int] = {}
    for c in cases:
        by_state[c.state] = by_state.get(c.state, 0) + 1
    return {
        "cases": len(cases),
        "decided": len(decided),
        "successes": len(successes),
        "success_rate": round(len(successes) / len(decided), 4) if decided else None,
        "median_days_to_agreement": round(statistics.median(agree), 1) if agree else None,
        "median_days_to_confirmation": round(statistics.median(confirm), 1) if confirm else None,
        "overdue": sum(1 for c in cases if c.overdue and not c.ended),
        "ratings": len(scores),
        "satisfaction": round(sum(scores) / len(scores), 2) if scores else None,
        "by_state": dict(sorted(by_state.items())),
    }


def figures_of(group: dict[str, Any]) -> dict[str, Any]:
    return {k: group[k] for k in expected([])}


@dataclass
class World:
    ids: dict[str, str]
    tokens: dict[str, str]
    cases: list[Seed]

    def where(self, pred: Callable[[Seed], bool]) -> list[Seed]:
        return [c for c in self.cases if pred(c)]


async def seed(api: Api) -> World:
    ids: dict[str, str] = {}
    tokens: dict[str, str] = {}
    tag = uuid.uuid4().hex[:6]
    people = [
        ("admin_a", AccountKind.ORG_ADMIN, f"东城人民调解委员会{tag}", "东城管理员"),
        ("m1", AccountKind.MEDIATOR, f"东城人民调解委员会{tag}", "甲调解员"),
        ("m2", AccountKind.MEDIATOR, f"东城人民调解委员会{tag}", "乙调解员"),
        ("admin_b", AccountKind.ORG_ADMIN, f"西城人民调解委员会{tag}", "西城管理员"),
        ("m3", AccountKind.MEDIATOR, f"西城人民调解委员会{tag}", "丙调解员"),
        ("judge1", AccountKind.JUDGE, f"示范区人民法院{tag}", "赵法官"),
        ("judge2", AccountKind.JUDGE, f"示范区人民法院{tag}", "钱法官"),
        ("clerk", AccountKind.CLERK, f"示范区人民法院{tag}", "孙书记员"),
        ("cm", AccountKind.MEDIATOR, f"示范区人民法院{tag}", "李特邀调解员"),
        ("judge_c2", AccountKind.JUDGE, f"邻区人民法院{tag}", "周法官"),
    ]
    for key, kind, org, name in people:
        _, token, account = await staff_account(api, kind, org, name)
        ids[key], tokens[key] = account.id, token
        ids[{"admin_a": "A", "admin_b": "B", "judge1": "C1", "judge_c2": "C2"}.get(key, "_")] = account.organisation_id
    A, B, C1, C2 = ids["A"], ids["B"], ids["C1"], ids["C2"]  # noqa: N806 - organisations
    cases = [
        Seed(A, C1, ids["m1"], "confirmed", bj(2026, 1, 5), 10, 20, overdue=True, scores=[5, 4]),
        Seed(A, C1, ids["m1"], "signed", bj(2026, 1, 20, 10), 4),
        Seed(A, None, ids["m1"], "mediation_failed", bj(2026, 2, 3)),
        Seed(A, C2, ids["m2"], "between_sessions", bj(2026, 2, 10), overdue=True, scores=[2]),
        Seed(A, None, ids["m2"], "confirmed", bj(2026, 3, 31, 23, 30), 6.5, 15),
        Seed(A, C1, ids["m2"], "withdrawn", bj(2026, 4, 1, 0, 30)),  # 31 March in UTC, April in Beijing
        Seed(A, C1, None, "referred", bj(2026, 4, 15)),
        Seed(B, C1, ids["m3"], "signed", bj(2026, 1, 10), 3, scores=[3]),
        Seed(B, None, ids["m3"], "filed", bj(2026, 2, 20), overdue=True),
        Seed(C1, None, ids["cm"], "confirmed", bj(2026, 3, 1), 2, 12, scores=[5]),
        Seed(B, C2, ids["m3"], "mediation_failed", bj(2026, 3, 5)),
    ]
    now = datetime(2026, 5, 1, tzinfo=UTC)
    async with api.repo.engine.begin() as conn:
        for n, c in enumerate(cases):
            at = c.referred_utc
            agreement = None if c.agreement_days is None else at + timedelta(days=c.agreement_days)
            confirmed = None if c.confirmation_days is None else at + timedelta(days=c.confirmation_days)
            await conn.execute(
                insert(t.cases).values(
                    id=c.id, number=f"统计-{tag}-{n}", kind="traffic_accident", title="统计样本", state=c.state,
                    version=1, filed_at=at, updated_at=now, created_by=None, organisation_id=c.org,
                    lifecycle="{}", court_id=c.court, referral_kind="pre_litigation" if c.court else "own",
                    holder_account_id=c.holder, referred_at=at, accepted_at=at if c.holder else None,
                    agreement_at=agreement, confirmed_at=confirmed,
                    ended_at=(confirmed or at + timedelta(days=9)) if c.ended else None,
                    period_deadline=at + timedelta(days=30), overdue=c.overdue, audit_seq=0, audit_head="",
                )
            )  # fmt: skip
            for score in c.scores:
                session, person = str(uuid.uuid4()), str(uuid.uuid4())
                await conn.execute(
                    insert(t.sessions).values(
                        id=session, case_id=c.id, scheduled_start=at, duration_s=3600, status="ended"
                    )
                )
                await conn.execute(
                    insert(t.participants).values(
                        id=person, case_id=c.id, role="applicant", display_name="当事人", added_at=at
                    )
                )
                await conn.execute(
                    insert(t.session_ratings).values(
                        case_id=c.id, session_id=session, participant_id=person, score=score, comment="", at=at
                    )
                )
        # the judges' confirmations: (case, judge, ruled, submitted in Beijing)
        for case, judge, ruled, submitted in (
            (cases[0], "judge1", True, bj(2026, 2, 1)),
            (cases[4], "judge1", True, bj(2026, 4, 10)),
            (cases[1], "judge2", False, bj(2026, 2, 1)),
            (cases[7], "judge2", True, bj(2026, 2, 1)),
            (cases[9], "judge1", True, bj(2026, 3, 10)),
            (cases[10], "judge_c2", True, bj(2026, 3, 10)),
        ):
            when = submitted.replace(tzinfo=BEIJING).astimezone(UTC)
            await conn.execute(
                insert(t.confirmation_applications).values(
                    case_id=case.id, court="示范区人民法院", prepared_at=when, prepared_by="account:x",
                    submitted_at=when, judge_account_id=ids[judge],
                    ruling_document_id=str(uuid.uuid4()) if ruled else None,
                )
            )  # fmt: skip
    return World(ids, tokens, cases)


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
