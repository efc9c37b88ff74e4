"""Beijing time: the one time zone every court document, code rule and printed mark uses.

Moments are stored and passed around in UTC (aware ``datetime``); they turn into
Beijing time only where a person reads them (a PDF, a signature mark) or where a
rule counts calendar days as the parties live them (signing codes per day).
China has kept one zone without daylight saving since 1991, so the offset is
fixed at +08:00; ``Asia/Shanghai`` is named rather than the offset so that
older dates in the zone database print as they did.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["BEIJING", "beijing_time"]

BEIJING = ZoneInfo("Asia/Shanghai")
"""China Standard Time (北京时间)."""


def beijing_time(when: datetime | None, *, seconds: bool = True) -> str:
    """A moment as court documents print it: Beijing time, to the second (or minute); "—" if unknown.

    >>> from datetime import UTC
    >>> beijing_time(datetime(2025, 5, 1, 2, 30, 5, tzinfo=UTC))
    '2025-05-01 10:30:05'
    >>> beijing_time(datetime(2025, 5, 1, 2, 30, 5, tzinfo=UTC), seconds=False)
    '2025-05-01 10:30'
    >>> beijing_time(None)
    '—'
    """
    if when is None:
        return "—"
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
