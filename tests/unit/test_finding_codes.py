"""The code rules of the accident finding's signing: Beijing days, the refusals and when to try again, the mark."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from server.documents.marks import MAX_MARK_BYTES
from server.documents.marks import read_mark as _mark
from server.domain.codes import CodeLimits
from server.domain.codes import code_refusal as _refusal
from server.domain.codes import code_rule as _rule
from server.errors import InvalidCommand

NOW = datetime(2026, 12, 5, 16, 30, tzinfo=UTC)  # 00:30 on 6 December in Beijing


def test_the_day_of_the_limits_is_the_beijing_day() -> None:
    rule = _rule(NOW)
    assert rule.day == "2026-12-06"
    assert (rule.resend_after, rule.max_codes, rule.max_wrong) == (timedelta(seconds=60), 10, 20)


def test_a_second_code_within_the_minute_waits_for_the_rest_of_it() -> None:
    refusal = _refusal(CodeLimits(NOW - timedelta(seconds=20), "2026-12-06", 1, 0), NOW)
    assert refusal.retry_after == 40 and "40 seconds" in str(refusal)


def test_ten_codes_or_twenty_wrong_guesses_wait_for_the_next_beijing_day() -> None:
    codes = _refusal(CodeLimits(None, "2026-12-06", 10, 0), NOW)
    assert "10 codes" in str(codes) and "2026-12-07 00:00" in str(codes)
    assert codes.retry_after == int(timedelta(hours=23, minutes=30).total_seconds())
    guesses = _refusal(CodeLimits(None, "2026-12-06", 3, 20), NOW)
    assert "wrong codes" in str(guesses) and guesses.retry_after == codes.retry_after


def _png(size: tuple[int, int] = (60, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 0, 0)).save(out, "PNG")
    return out.getvalue()


def test_the_mark_is_a_readable_png_of_at_most_256_kib() -> None:
    png = _png()
    assert _mark(base64.b64encode(png).decode()) == png
    for bad in (
        "not base64!",
        base64.b64encode(b"GIF89a....").decode(),
        base64.b64encode(png[:40]).decode(),  # the signature of a PNG, then nothing readable
        base64.b64encode(png + b"\0" * MAX_MARK_BYTES).decode(),
    ):
        with pytest.raises(InvalidCommand):
            _mark(bad)
