"""The pure parts of the statistics: the period asked for, what a figure means, and the CSV export.

No I/O and no clock: the store hands in grouped rows (already aggregated by the database), and
this module names, rounds and writes them. Days are Beijing calendar days
(:data:`server.domain.time.BEIJING`): a period ``2026-01-01 … 2026-01-31`` covers the cases that reached
their organisation from midnight of 1 January to the end of 31 January, Beijing time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from types import MappingProxyType
from typing import Any

from server.domain.lifecycle import CaseState
from server.domain.time import BEIJING
from server.errors import InvalidCommand

MAX_PERIOD_DAYS = 3653
"""The longest period one request may cover, in days (ten years, leap days included)."""

FIRST_YEAR, LAST_YEAR = 1900, 2999
"""The years a period may name (beyond them a date is a typing mistake, and 9999-12-31 has no next day)."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

STATE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        CaseState.REFERRED: "待分派",
        CaseState.ASSIGNED: "已指派",
        CaseState.FILED: "已受理",
        CaseState.SESSION_SCHEDULED: "已安排调解",
        CaseState.IN_SESSION: "调解中",
        CaseState.BETWEEN_SESSIONS: "调解间歇",
        CaseState.AGREEMENT_DRAFTED: "协议已起草",
        CaseState.SIGNING: "签署中",
        CaseState.SIGNED: "已签署",
        CaseState.SERVING: "送达中",
        CaseState.SERVED: "已送达",
        CaseState.CONFIRMATION_APPLIED: "已申请司法确认",
        CaseState.CONFIRMED: "已确认",
        CaseState.REJECTED: "确认被驳回",
        CaseState.MEDIATION_FAILED: "调解不成",
        CaseState.WITHDRAWN: "已撤回",
        CaseState.SIGNING_EXPIRED: "签署已过期",
        CaseState.SERVICE_FAILED: "送达未成",
        CaseState.CLOSED: "已结案",
    }
)
"""Each case state as the CSV's columns name it (the pages take theirs from ``words.js``)."""

assert set(STATE_NAMES) == set(CaseState), "every case state needs its name in the statistics"

GROUPINGS: Mapping[str, str] = MappingProxyType(
    {"total": "合计", "organisation": "调解组织", "mediator": "调解员", "month": "月份"}
)
"""The groupings of the figures (the JSON's ``by_…`` keys) and their Chinese names in the CSV."""


@dataclass(frozen=True)
class Period:
    """The Beijing calendar days asked for (either end open)."""

    first: date | None
    """The first day (None: from the beginning)."""
    last: date | None
    """The last day, included (None: up to now)."""

    @classmethod
    def parse(cls, first: str | None, last: str | None) -> Period:
        """From the query's ``from`` and ``to`` (``YYYY-MM-DD``); InvalidCommand (422) if either is no date,
        ``from`` comes after ``to``, or the period is longer than ten years.

        >>> Period.parse("2026-01-01", "2026-01-31").start
        datetime.datetime(2025, 12, 31, 16, 0, tzinfo=datetime.timezone.utc)
        """
        a, b = _day(first, "from"), _day(last, "to")
        if a is not None and b is not None:
            if a > b:
                raise InvalidCommand(f"The period starts ({a}) after it ends ({b})")
            if (b - a).days + 1 > MAX_PERIOD_DAYS:
                raise InvalidCommand("The period is longer than ten years; ask for a shorter one")
        return cls(a, b)

    @property
    def start(self) -> datetime | None:
        """The first moment included (UTC), or None."""
        return None if self.first is None else _midnight(self.first)

    @property
    def end(self) -> datetime | None:
        """The first moment after the period (UTC), or None."""
        return None if self.last is None else _midnight(self.last + timedelta(days=1))


def _day(text: str | None, name: str) -> date | None:
    if text is None or text == "":
        return None
    if not _DATE.match(text):
        raise InvalidCommand(f'"{name}" must be a date written YYYY-MM-DD')
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidCommand(f'"{name}" is no calendar date') from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidCommand(f'"{name}" must lie between the years {FIRST_YEAR} and {LAST_YEAR}')
    return day


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BEIJING).astimezone(UTC)


def success_rate(successes: int, decided: int) -> float | None:
    """Successes among the decided cases, 0…1 to four places (None: nothing decided yet).

    >>> success_rate(2, 3)
    0.6667
    >>> success_rate(0, 0) is None
    True
    """
    return None if decided == 0 else round(successes / decided, 4)


def days(value: Any) -> float | None:
    """A median number of days as figures show it: one decimal (None: no case to measure)."""
    return None if value is None else round(float(value), 1)


def payment_days(paid: Iterable[tuple[str, str, float]]) -> list[dict[str, Any]]:
    """Days to payment per insurer (one-click claims): from ``(insurer id, name, days)`` of each paid claim, the
    count and the median (one decimal), by the insurer's name.

    >>> rows = [("a", "甲保险", 2.0), ("a", "甲保险", 5.0), ("a", "甲保险", 3.5), ("b", "乙保险", 1.0)]
    >>> [(x["insurer"], x["paid"], x["median_days_to_payment"]) for x in payment_days(rows)]
    [('乙保险', 1, 1.0), ('甲保险', 3, 3.5)]
    """
    groups: dict[tuple[str, str], list[float]] = {}
    for insurer_id, name, d in paid:
        groups.setdefault((insurer_id, name), []).append(d)
    return [
        {"insurer_id": i, "insurer": n, "paid": len(ds), "median_days_to_payment": days(median(ds))}
        for (i, n), ds in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0]))
    ]


@dataclass
class Tally:
    """The figures of one group (the totals, one organisation, one mediator, one month) as they add up."""

    key: str
    """What the group is (an organisation's or account's id, a month ``YYYY-MM``; '' for the totals)."""
    name: str = ""
    """How the pages name it."""
    cases: int = 0
    decided: int = 0
    successes: int = 0
    overdue: int = 0
    median_days_to_agreement: float | None = None
    median_days_to_confirmation: float | None = None
    ratings: int = 0
    satisfaction: float | None = None
    by_state: dict[str, int] | None = None

    def add_state(self, state: str, cases: int, decided: int, successes: int, overdue: int) -> None:
        """Add one (group, state) row of the database's count."""
        self.by_state = self.by_state or {}
        self.by_state[state] = self.by_state.get(state, 0) + cases
        self.cases += cases
        self.decided += decided
        self.successes += successes
        self.overdue += overdue

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the success rate."""
        return {
            "key": self.key,
            "name": self.name,
            "cases": self.cases,
            "decided": self.decided,
            "successes": self.successes,
            "success_rate": success_rate(self.successes, self.decided),
            "median_days_to_agreement": self.median_days_to_agreement,
            "median_days_to_confirmation": self.median_days_to_confirmation,
            "overdue": self.overdue,
            "ratings": self.ratings,
            "satisfaction": self.satisfaction,
            "by_state": dict(sorted((self.by_state or {}).items())),
        }


_COLUMNS: Sequence[tuple[str, str]] = (
    ("cases", "案件数"),
    ("decided", "已有结果"),
    ("successes", "调解成功"),
    ("success_rate", "调解成功率"),
    ("median_days_to_agreement", "委派至达成协议中位天数"),
    ("median_days_to_confirmation", "委派至司法确认中位天数"),
    ("overdue", "超期未结"),
    ("ratings", "评价数"),
    ("satisfaction", "平均满意度"),
)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def csv_text(figures: Mapping[str, Any]) -> str:
    """The figures as CSV: a BOM (so that Excel reads the Chinese), Chinese headers, one row per (grouping, key),
    the counts by state after the figures; then the judges' workload under its own header.

    Every number is the JSON's own (``success_rate`` 0…1), so the two exports never disagree.
    """
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    states = list(STATE_NAMES)
    w.writerow(["分组", "编号", "名称", *(h for _, h in _COLUMNS), *(STATE_NAMES[s] for s in states)])
    rows: Iterable[tuple[str, Mapping[str, Any]]] = [
        ("total", figures["totals"]),
        *(("organisation", g) for g in figures["by_organisation"]),
        *(("mediator", g) for g in figures["by_mediator"]),
        *(("month", g) for g in figures["by_month"]),
    ]
    for grouping, g in rows:
        w.writerow(
            [
                GROUPINGS[grouping],
                g["key"],
                g["name"],
                *(_cell(g[k]) for k, _ in _COLUMNS),
                *(str(g["by_state"].get(s, 0)) for s in states),
            ]
        )
    if figures["judges"]:
        w.writerow([])
        w.writerow(["法官", "编号", "名称", "已作出裁定", "已接手待裁定"])
        for j in figures["judges"]:
            w.writerow(["法官工作量", j["account_id"], j["name"], j["rulings"], j["pending"]])
    return "\ufeff" + out.getvalue()
