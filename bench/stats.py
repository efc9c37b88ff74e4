"""Response time of the statistics dashboard with 100,000 cases, on SQLite and PostgreSQL.

Fills a fresh database of each backend (SQLite: a temporary file; PostgreSQL: a database created on
127.0.0.1:5432 beside ``test`` and dropped at the end) with cases spread over two courts, six mediation
organisations, thirty mediators and twenty-four months (states, agreements, confirmations, overdue
periods, session ratings and judges' confirmations as a real year would have them), migrated by the
real migrations. Then it times, in the same run:

* ``dashboard``: what ``GET /api/v1/statistics`` computes for a judge of the court that referred most
  of the cases (``StatisticsService.figures``: totals, per organisation, mediator and month, medians,
  satisfaction, the selectors, the judges' workload), all by SQL aggregation;
* ``count``: a bare ``SELECT count(*) FROM cases`` on the same tables (the floor of any query that
  reads them).

Each figure is the median of several runs after one warm-up.

    .venv/bin/python bench/stats.py --quick      # 20,000 cases
    .venv/bin/python bench/stats.py              # 100,000 cases

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from server.domain.roles import AccountKind  # noqa: E402
from server.identity.access import Principal  # noqa: E402
from server.organisations.store import OrganisationStore  # noqa: E402
from server.statistics.store import StatisticsStore  # noqa: E402
from server.statistics.usecases import StatisticsService  # noqa: E402
from server.store import db  # noqa: E402
from server.store import schema as t  # noqa: E402
from server.store.accounts import Account, AccountStore  # noqa: E402

PG_ADMIN = "postgresql+asyncpg://127.0.0.1:5432/test"
STATES = [
    ("confirmed", 0.22),
    ("signed", 0.10),
    ("served", 0.05),
    ("mediation_failed", 0.18),
    ("withdrawn", 0.05),
    ("closed", 0.05),
    ("between_sessions", 0.15),
    ("session_scheduled", 0.08),
    ("filed", 0.07),
    ("referred", 0.05),
]
END = {"confirmed", "mediation_failed", "withdrawn", "closed"}
AGREED = {"confirmed", "signed", "served"}
CHUNK = 5000


async def accounts(engine: AsyncEngine) -> dict[str, Any]:
    """Two courts (two judges each), six organisations of five mediators each."""
    store = AccountStore(engine)
    now = datetime.now(UTC)

    async def make(kind: AccountKind, organisation: str, name: str) -> Account:
        account = Account(str(uuid.uuid4()), f"b-{uuid.uuid4().hex[:10]}", name, kind, organisation, "x", now)
        await store.create_account(account)
        return await store.account(account.id)

    judges = [await make(AccountKind.JUDGE, f"第{c}人民法院", f"法官{c}-{j}") for c in (1, 2) for j in (1, 2)]
    mediators = [
        await make(AccountKind.MEDIATOR, f"第{o}调解委员会", f"调解员{o}-{m}") for o in range(6) for m in range(5)
    ]
    return {
        "courts": [judges[0].organisation_id, judges[2].organisation_id],
        "judges": judges,
        "mediators": mediators,
    }


async def fill(engine: AsyncEngine, n: int, seed: int = 7) -> Any:
    """``n`` cases and their ratings and confirmations; returns the judge whose dashboard is timed."""
    rnd = random.Random(seed)
    who = await accounts(engine)
    courts, mediators, judges = who["courts"], who["mediators"], who["judges"]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    states, weights = zip(*STATES, strict=True)
    cases: list[dict[str, Any]] = []
    extra: list[tuple[str, str, list[dict[str, Any]]]] = []
    for i in range(n):
        m = rnd.choice(mediators)
        state = rnd.choices(states, weights)[0]
        at = start + timedelta(minutes=rnd.randrange(0, 730 * 24 * 60))
        agreed = at + timedelta(days=rnd.uniform(1, 40)) if state in AGREED else None
        confirmed = agreed + timedelta(days=rnd.uniform(3, 30)) if agreed and state == "confirmed" else None
        court = rnd.choices([courts[0], courts[1], None], [0.7, 0.15, 0.15])[0]
        cid = str(uuid.uuid4())
        cases.append(
            {
                "id": cid, "number": f"B{i:07d}", "kind": "traffic_accident", "title": "样本", "state": state,
                "version": 1, "filed_at": at, "updated_at": at, "created_by": None,
                "organisation_id": m.organisation_id, "lifecycle": "{}", "court_id": court,
                "referral_kind": "pre_litigation" if court else "own",
                "holder_account_id": None if state == "referred" else m.id, "referred_at": at,
                "accepted_at": None if state == "referred" else at, "agreement_at": agreed,
                "confirmed_at": confirmed, "ended_at": (confirmed or at + timedelta(days=35)) if state in END else None,
                "period_deadline": at + timedelta(days=30),
                "overdue": state in {"between_sessions", "session_scheduled"} and rnd.random() < 0.3,
                "audit_seq": 0, "audit_head": "",
            }
        )  # fmt: skip
        if rnd.random() < 0.1:
            extra.append((cid, "rating", [{"score": rnd.randint(1, 5), "at": at}]))
        if state in {"confirmed", "signed", "served"} and court and rnd.random() < 0.5:
            judge = rnd.choice(judges[:2] if court == courts[0] else judges[2:])
            extra.append((cid, "application", [{"judge": judge.id, "ruled": state == "confirmed", "at": agreed}]))
    async with engine.begin() as conn:
        for k in range(0, len(cases), CHUNK):
            await conn.execute(insert(t.cases), cases[k : k + CHUNK])
        sessions, participants, ratings, applications = [], [], [], []
        for cid, what, rows in extra:
            for row in rows:
                if what == "rating":
                    sid, pid = str(uuid.uuid4()), str(uuid.uuid4())
                    sessions.append(
                        {"id": sid, "case_id": cid, "scheduled_start": row["at"], "duration_s": 3600, "status": "ended"}
                    )
                    participants.append(
                        {
                            "id": pid,
                            "case_id": cid,
                            "role": "applicant",
                            "display_name": "当事人",
                            "added_at": row["at"],
                        }
                    )
                    ratings.append(
                        {"case_id": cid, "session_id": sid, "participant_id": pid, "score": row["score"], "comment": "", "at": row["at"]}
                    )  # fmt: skip
                else:
                    applications.append(
                        {
                            "case_id": cid, "court": "第1人民法院", "prepared_at": row["at"], "prepared_by": "bench",
                            "submitted_at": row["at"], "judge_account_id": row["judge"],
                            "ruling_document_id": str(uuid.uuid4()) if row["ruled"] else None,
                        }
                    )  # fmt: skip
        for table, rows in (
            (t.sessions, sessions),
            (t.participants, participants),
            (t.session_ratings, ratings),
            (t.confirmation_applications, applications),
        ):
            for k in range(0, len(rows), CHUNK):
                await conn.execute(insert(table), rows[k : k + CHUNK])
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
    return judges[0]


async def timed(run: Callable[[], Awaitable[Any]], runs: int) -> float:
    await run()  # warm-up
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        await run()
        out.append((time.perf_counter() - started) * 1000)
    return statistics.median(out)


async def measure(url: str, n: int, runs: int, label: str) -> dict[str, float]:
    engine = db.create_engine(url)
    try:
        filled = time.perf_counter()
        judge = await fill(engine, n)
        print(f"{label}: {n} cases filled in {time.perf_counter() - filled:.1f} s", flush=True)
        service = StatisticsService(StatisticsStore(engine), AccountStore(engine), OrganisationStore(engine))
        who = Principal(judge.id, "bench", account_kind=AccountKind.JUDGE)
        figures = await service.figures(who)
        totals = figures["totals"]
        print(
            f"{label}: the court sees {totals['cases']} cases, success rate {totals['success_rate']}, "
            f"median days to agreement {totals['median_days_to_agreement']}, to confirmation "
            f"{totals['median_days_to_confirmation']}, overdue {totals['overdue']}, satisfaction "
            f"{totals['satisfaction']}; {len(figures['by_mediator'])} mediators, {len(figures['by_month'])} months",
            flush=True,
        )

        async def count() -> None:
            async with engine.connect() as conn:
                (await conn.execute(select(func.count()).select_from(t.cases))).scalar_one()

        dashboard_ms = await timed(lambda: service.figures(who), runs)
        count_ms = await timed(count, runs)
        period_ms = await timed(lambda: service.figures(who, first="2025-07-01", last="2025-09-30"), runs)
        print(
            f"{label}: dashboard {dashboard_ms:.1f} ms (one quarter: {period_ms:.1f} ms), "
            f"SELECT count(*) {count_ms:.2f} ms (medians of {runs})",
            flush=True,
        )
        return {"dashboard_ms": dashboard_ms, "count_ms": count_ms, "period_ms": period_ms}
    finally:
        await engine.dispose()


async def pg_admin(sql: str) -> None:
    import asyncpg

    url = make_url(PG_ADMIN)
    conn = await asyncpg.connect(host=url.host, port=url.port, database=url.database, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 cases, 3 runs")
    parser.add_argument("--cases", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    n = args.cases or (20_000 if args.quick else 100_000)
    runs = args.runs or (3 if args.quick else 7)
    out: dict[str, Any] = {"bench": "stats"}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'stats.db'}"
        await asyncio.to_thread(db.upgrade_sync, url)
        sqlite = await measure(url, n, runs, "SQLite")
    name = f"stats_bench_{secrets.token_hex(4)}"
    pg: dict[str, float] | None = None
    try:
        await pg_admin(f"CREATE DATABASE {name}")
    except Exception as exc:  # noqa: BLE001 - report and go on with SQLite's figures
        print(f"PostgreSQL not reachable ({exc}); SQLite only", flush=True)
    else:
        try:
            url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
            await asyncio.to_thread(db.upgrade_sync, url)
            pg = await measure(url, n, runs, "PostgreSQL")
        finally:
            await pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    out["sqlite_dashboard_ms"] = round(sqlite["dashboard_ms"], 1)
    out["sqlite_count_ms"] = round(sqlite["count_ms"], 2)
    out["sqlite_ratio"] = round(sqlite["dashboard_ms"] / sqlite["count_ms"], 1)
    out["sqlite_quarter_ms"] = round(sqlite["period_ms"], 1)
    if pg is not None:
        out["pg_dashboard_ms"] = round(pg["dashboard_ms"], 1)
        out["pg_count_ms"] = round(pg["count_ms"], 2)
        out["pg_ratio"] = round(pg["dashboard_ms"] / pg["count_ms"], 1)
        out["pg_quarter_ms"] = round(pg["period_ms"], 1)
    else:
        out.update(pg_dashboard_ms=None, pg_count_ms=None, pg_ratio=None, pg_quarter_ms=None)
    out["cases"] = n
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
