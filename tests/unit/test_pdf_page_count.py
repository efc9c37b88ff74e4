"""The footer's page count ("共 M 页"): every count up to PAGE_COUNT_MAX fits the slot the footer keeps for it.

fpdf2 lays the footer out before the count is known, with a slot one "0" wide per character of
the alias, and warns when the count is wider (pytest turns that warning into an error). Noto
CJK's digits are proportional, so with a two-character alias 23, 99 and 100 did not fit (12 and
57 did). Needs Debian's ``fonts-noto-cjk`` and poppler, like ``test_pdf.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from server.documents.fonts import FontMissing, find_fonts
from server.documents.pdf import _FAMILY, _PAGE_COUNT_ALIAS, PAGE_COUNT_MAX, SMALL_PT, DocumentBuilder

CREATED = datetime(2025, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=8)))


def _missing() -> str | None:
    if shutil.which("pdftotext") is None:
        return "poppler-utils missing: pdftotext"
    try:
        find_fonts()
    except FontMissing as exc:
        return str(exc)
    return None


_MISSING = _missing()
if _MISSING is not None:
    if os.environ.get("CI"):
        pytest.fail(_MISSING, pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)


def _pages(count: int) -> DocumentBuilder:
    b = DocumentBuilder("调解笔录", created_at=CREATED, case_number="（2025）京0105民调1234号")
    for n in range(1, count):
        b.paragraph(f"第{n}页的内容。")
        b.page_break()
    b.paragraph("最后一页。")
    assert b.page_count == count
    return b


@pytest.mark.parametrize("count", [9, 10, 23, 99, 100])
def test_a_document_of_this_many_pages_renders_without_a_warning(count: int, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # whatever the suite's settings: fpdf2's "total page count" warning fails here
        data = _pages(count).render()
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    for page in (1, count):
        text = subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), path, "-"], check=True, capture_output=True, text=True
        ).stdout
        assert f"第{page}页/共{count}页" in re.sub(r"\s+", "", text)


def test_every_count_up_to_the_maximum_fits_the_slot_and_the_next_does_not() -> None:
    b = _pages(1)
    pdf = b._pdf
    pdf.set_font(_FAMILY, "", SMALL_PT)  # the footer's face and size
    slot = pdf.get_string_width("0" * len(_PAGE_COUNT_ALIAS))  # what fpdf2 reserves for the alias
    widths = {n: pdf.get_string_width(str(n)) for n in range(1, PAGE_COUNT_MAX + 2)}
    b.close()
    assert all(widths[n] <= slot for n in range(1, PAGE_COUNT_MAX + 1))
    assert widths[PAGE_COUNT_MAX + 1] > slot  # the maximum is the real limit, not a guess
    assert widths[23] > pdf.get_string_width("00")  # why two characters were not enough
