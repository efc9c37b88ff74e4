"""Names with characters the Chinese font lacks print, and never reach the log (issue 12 item 18).

fpdf2 logs every glyph missing from a font, naming the characters: a party's name then reaches the
log while printing blank in the PDF. The builder sets such characters in a fallback font (DejaVu Sans
for Latin, Cyrillic, Greek, Arabic and symbols beside Noto CJK) and keeps fpdf2's glyph report out
of the log; a character no installed font has is only counted.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from server.documents.fonts import FALLBACK_FONTS, FontMissing, find_fonts
from server.documents.pdf import DocumentBuilder

CREATED = datetime(2025, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=8)))
LATIN = "Ayşe Doğan"  # ş is in Noto CJK; ğ is not: it needs the fallback
SYMBOL = "⚖"  # not in Noto CJK either
NOWHERE = "ཀ"  # Tibetan: in no installed font, printed as an empty box


def _missing() -> str | None:
    if shutil.which("pdftotext") is None:
        return "poppler-utils missing"
    try:
        find_fonts()
    except FontMissing as exc:
        return str(exc)
    if not FALLBACK_FONTS[0].regular.is_file():
        return f"the fallback font is missing: {FALLBACK_FONTS[0].regular} (fonts-dejavu-core)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def render(name: str) -> bytes:
    doc = DocumentBuilder("调解协议书", created_at=CREATED, case_number="（2025）京0105民调123号")
    doc.fields([("申请人", name), ("被申请人", "李四")])
    doc.paragraph(f"申请人{name}与被申请人李四就赔偿事宜达成如下协议。")
    doc.heading(f"{name}的陈述", level=2)
    doc.signature_block("applicant", f"申请人：{name}")
    return doc.render()


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_a_name_the_chinese_font_lacks_prints_in_the_fallback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    name = f"{LATIN}{SYMBOL}张{NOWHERE}三"
    with caplog.at_level(logging.DEBUG):
        pdf = render(name)
    text = text_of(pdf, tmp_path)
    assert LATIN in text and SYMBOL in text  # set in the fallback font, so it prints and reads back
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for ch in ("ş", "ğ", SYMBOL, NOWHERE, "张三"):
        assert ch not in logged, (ch, logged)
    assert ascii(NOWHERE)[1:-1] not in logged and "0f40" not in logged.lower()
    assert any("no glyph" in record.getMessage() for record in caplog.records)  # counted, not named


def test_a_document_that_needs_no_fallback_is_unchanged(tmp_path: Path) -> None:
    """Documents in the Chinese font alone carry no fallback font (the same bytes as before)."""
    pdf = render("张三")
    assert b"DejaVu" not in pdf
    assert "张三" in text_of(pdf, tmp_path)
