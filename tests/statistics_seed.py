"""Cases with known index columns for the statistics' tests, written straight into the tables (cases, session
ratings, confirmation applications) beside real accounts, and their figures computed here without SQL."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from server.domain.roles import AccountKind
from server.domain.time import BEIJING
from server.store import schema as t
from tests.builders import staff_account
from tests.conftest import Api

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
    usernames: dict[str, str]
    cases: list[Seed]

    def where(self, pred: Callable[[Seed], bool]) -> list[Seed]:
        return [c for c in self.cases if pred(c)]


async def seed(api: Api) -> World:
    ids: dict[str, str] = {}
    tokens: dict[str, str] = {}
    usernames: dict[str, str] = {}
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
        username, token, account = await staff_account(api, kind, org, name)
        ids[key], tokens[key], usernames[key] = account.id, token, username
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
    return World(ids, tokens, usernames, cases)
