"""The limits on one-time codes, the same for every signer (the agreement's, the accident finding's drivers').

One code a minute (:data:`RESEND_AFTER`), :data:`MAX_CODES_PER_DAY` codes and :data:`MAX_WRONG_PER_DAY` wrong
guesses a Beijing day. :func:`code_rule` says what a request at ``now`` is held to; :func:`code_refusal` says
why one was refused and when to try again. The store (``server.store.codes``) keeps the counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from server.domain.time import BEIJING
from server.errors import Forbidden, TooManyAttempts

RESEND_AFTER = timedelta(seconds=60)
MAX_CODES_PER_DAY = 10
MAX_WRONG_PER_DAY = 20
MAX_ATTEMPTS = 5
"""Tries at one code."""


@dataclass(frozen=True)
class CodeRule:
    """The limits a one-time code request is held to."""

    day: str
    """Today, the day the counts are kept for (a Beijing date, ``YYYY-MM-DD``)."""
    resend_after: timedelta
    """The wait between two codes."""
    max_codes: int
    """Codes a day."""
    max_wrong: int
    """Wrong guesses a day."""


@dataclass(frozen=True)
class CodeLimits:
    """Where a signer stands against the one-time code limits (a row of a code-limits table)."""

    last_sent_at: datetime | None
    """When the code that holds the wait was sent; None when none holds it."""
    day: str
    """The day of the counts (a Beijing date)."""
    codes_sent: int
    """Codes sent that day."""
    wrong_guesses: int
    """Wrong guesses that day."""


def next_day(now: datetime) -> datetime:
    """The start of the next day in Beijing, when the daily code limits start again."""
    return datetime.combine(now.astimezone(BEIJING).date() + timedelta(days=1), time(0), tzinfo=BEIJING)


def code_rule(now: datetime) -> CodeRule:
    """The code limits as they apply at ``now``."""
    return CodeRule(now.astimezone(BEIJING).date().isoformat(), RESEND_AFTER, MAX_CODES_PER_DAY, MAX_WRONG_PER_DAY)


def code_refusal(limits: CodeLimits | None, now: datetime) -> TooManyAttempts:
    """Why a signer may not have a code (or a guess) now, and when they may."""
    today = now.astimezone(BEIJING).date().isoformat()
    if limits is not None and limits.day == today and limits.wrong_guesses >= MAX_WRONG_PER_DAY:
        why = f"Too many wrong codes today ({MAX_WRONG_PER_DAY})"
    elif limits is not None and limits.day == today and limits.codes_sent >= MAX_CODES_PER_DAY:
        why = f"You were sent {MAX_CODES_PER_DAY} codes today"
    else:
        sent = limits.last_sent_at if limits is not None and limits.last_sent_at is not None else now
        wait = max(1, math.ceil((sent + RESEND_AFTER - now).total_seconds()))
        return TooManyAttempts(f"A code was sent less than a minute ago: try again in {wait} seconds", wait)
    until = next_day(now)
    wait = math.ceil((until - now).total_seconds())
    return TooManyAttempts(f"{why}: try again after {until:%Y-%m-%d %H:%M} (Beijing time)", wait)


def check_usable(latest: Mapping[str, Any] | None, now: datetime) -> Mapping[str, Any]:
    """The signer's newest code (a codes-table row) if a code may be tried against it: unexpired, unused and
    within its :data:`MAX_ATTEMPTS` tries."""
    if latest is None or latest["used_at"] is not None or latest["expires_at"] <= now:
        raise Forbidden("The code has expired or was already used: ask for a new one")
    if latest["attempts"] >= MAX_ATTEMPTS:
        raise TooManyAttempts("Too many wrong codes: ask for a new one")
    return latest
