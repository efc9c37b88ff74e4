"""The statistics' pure parts: the period in Beijing dates, the success rate, a group's tally, the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from server.errors import InvalidCommand
from server.statistics.figures import Period, Tally, csv_text, success_rate


def test_a_period_of_beijing_days_runs_from_midnight_to_midnight_in_utc() -> None:
    p = Period.parse("2026-03-01", "2026-03-31")
    assert (p.first, p.last) == (date(2026, 3, 1), date(2026, 3, 31))
    assert p.start == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert p.end == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    open_ended = Period.parse(None, "")
    assert (open_ended.start, open_ended.end) == (None, None)
    assert Period.parse("2024-02-29", None).end is None


@pytest.mark.parametrize(
    ("first", "last", "says"),
    [
        ("2026-13-01", None, "no calendar date"),
        (None, "2026-02-30", "no calendar date"),
        ("2026/01/01", None, "YYYY-MM-DD"),
        ("20260101", None, "YYYY-MM-DD"),
        ("2026-03-02", "2026-03-01", "after it ends"),
        ("2016-01-01", "2026-01-01", "ten years"),
        ("9999-12-31", None, "between the years"),
        (None, "0001-01-01", "between the years"),
    ],
)
def test_a_bad_period_is_refused(first: str | None, last: str | None, says: str) -> None:
    with pytest.raises(InvalidCommand, match=says):
        Period.parse(first, last)


def test_ten_years_to_the_day_is_the_longest_period() -> None:
    assert Period.parse("2016-01-02", "2026-01-01").last == date(2026, 1, 1)
    assert Period.parse("2026-01-01", "2026-01-01").start == datetime(2025, 12, 31, 16, tzinfo=UTC)


def test_success_rate_is_successes_among_the_decided() -> None:
    assert success_rate(3, 5) == 0.6
    assert success_rate(1, 3) == 0.3333
    assert success_rate(0, 4) == 0.0
    assert success_rate(0, 0) is None


def test_a_tally_adds_up_its_states() -> None:
    tally = Tally("org")
    tally.add_state("signed", 2, 2, 2, 0)
    tally.add_state("between_sessions", 3, 0, 0, 1)
    tally.add_state("mediation_failed", 1, 1, 0, 0)
    out = tally.as_dict()
    assert (out["cases"], out["decided"], out["successes"], out["overdue"]) == (6, 3, 2, 1)
    assert out["success_rate"] == 0.6667
    assert out["by_state"] == {"between_sessions": 3, "mediation_failed": 1, "signed": 2}


def test_the_csv_has_a_bom_chinese_headers_and_one_row_per_group() -> None:
    total = Tally("", "", median_days_to_agreement=6.5, ratings=2, satisfaction=4.5)
    total.add_state("signed", 2, 2, 2, 0)
    month = Tally("2026-03", "2026-03")
    month.add_state("signed", 2, 2, 2, 0)
    figures = {
        "totals": total.as_dict(),
        "by_organisation": [],
        "by_mediator": [],
        "by_month": [month.as_dict()],
        "judges": [{"account_id": "j1", "name": "赵法官", "rulings": 3, "pending": 1}],
    }
    text = csv_text(figures)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0][:5] == ["分组", "编号", "名称", "案件数", "已有结果"]
    header = rows[0]
    assert rows[1][0] == "合计" and rows[1][header.index("调解成功率")] == "1.0"
    assert rows[1][header.index("委派至达成协议中位天数")] == "6.5"
    assert rows[1][header.index("委派至司法确认中位天数")] == ""
    assert rows[1][header.index("已签署")] == "2" and rows[1][header.index("调解不成")] == "0"
    assert rows[2][:2] == ["月份", "2026-03"]
    assert rows[-1] == ["法官工作量", "j1", "赵法官", "3", "1"]
