"""A small builder for A4 court documents with Chinese text, rendered to PDF.

Every document the platform issues (调解笔录, 调解协议书, 送达回证, rulings) is
built from :class:`DocumentBuilder`: a title block, headings, paragraphs,
label/value tables, ruled tables with right-aligned money columns, numbered
transcript lines and signature blocks whose rectangles are handed to pyHanko
(``SigFieldSpec(sig_field_name=b.field_name, on_page=b.page, box=b.box)``).

Why fpdf2
    Pure Python (no Cairo, Pango or headless browser on the server); it
    embeds and *subsets* TrueType and OpenType fonts, CFF-flavoured ones and
    faces of ``.ttc`` collections included; it has the primitives a ruled
    table needs; and its output is a function of its input, so the same
    document renders to the same bytes (see *Determinism*).

Fonts and lines
    The text is set in the Chinese face :func:`~server.documents.fonts.find_fonts`
    chooses, embedded as a subset (a 10-page record is about 63 kB, 39 kB of it
    the two font subsets), and wrapped by :func:`~server.documents.lines.wrap_text`
    with widths measured in that face. Names and other user text may hold
    characters Noto CJK lacks (``ğ``, Arabic script, ``⚖``): the first text that
    has one adds the first of :data:`~server.documents.fonts.FALLBACK_FONTS`
    present as fpdf2's fallback, so a document that needs none carries none
    (and keeps its bytes). A character no font has is the empty ``.notdef``
    box; fpdf2's report of those names the characters (a party's name would
    reach the log), so it is filtered out and only their number is logged.

Determinism
    The same calls with the same ``created_at`` give byte-identical PDFs:
    the creation date is taken from the caller (never "now"), fpdf2 derives
    the trailer ``/ID`` from an MD5 of the file body plus that date (so it is
    a content hash, not a random value), the font subset tag is fixed and
    the subsetter's output depends only on the glyphs used. No XMP packet is
    written: fpdf2 would stamp ``xmp:ModifyDate`` with the current time
    (it only does that for PDF/A, which is not enabled here).

Cost
    Building a document parses the two faces (about 0.4 s) and rendering
    subsets them (about 0.5 s): roughly 1 s of CPU for a 10-page record,
    so call it from ``asyncio.to_thread`` rather than on the event loop.

Geometry
    A4 with the margins of GB/T 9704 (top 37 mm, bottom 35 mm, left 28 mm,
    right 26 mm: a 156 x 225 mm text block); the title and the case number in
    the header of every page, "第 N 页 / 共 M 页" and an optional note in the
    footer. Internally everything is in millimetres from the top-left corner;
    signature boxes are returned in PDF points from the bottom-left corner.
"""

from __future__ import annotations

import logging
import math
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Self

from fpdf import FPDF
from fpdf import __version__ as FPDF_VERSION
from fpdf.enums import Align, XPos, YPos
from fpdf.fonts import TTFFont
from fpdf.prefs import ViewerPreferences

from server.documents.fonts import DEBIAN_NOTO_CJK, FALLBACK_FONTS, FontCandidate, find_fonts
from server.documents.lines import Line, wrap_text

__all__ = [
    "AUTHOR",
    "SIGNATURE_BOX_MM",
    "Column",
    "DocumentBuilder",
    "SignatureBox",
]

logger = logging.getLogger(__name__)


def _not_a_glyph_report(record: logging.LogRecord) -> bool:
    """fpdf2 names the characters a font lacks ("… is missing the following glyphs: '张' …"): user
    text, often a party's name, so that report never passes (the builder counts them instead)."""
    return not (isinstance(record.msg, str) and "missing the following glyphs" in record.msg)


logging.getLogger("fpdf.output").addFilter(_not_a_glyph_report)

AUTHOR = "在线调解平台"
LANGUAGE = "zh-CN"

# --- geometry (millimetres) -------------------------------------------------

PT = 25.4 / 72  # one point in millimetres
PAGE_W, PAGE_H = 210.0, 297.0
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT = 37.0, 35.0, 28.0, 26.0
BODY_W = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT  # 156 mm
BODY_BOTTOM = PAGE_H - MARGIN_BOTTOM
HEADER_Y = 20.0  # top of the header line of text
HEADER_RULE_Y = 27.0
FOOTER_NOTE_Y = PAGE_H - 27.0
FOOTER_Y = PAGE_H - 21.0

# font sizes in points: 小二 title, 四号 headings, 小四 body, 五号 tables
TITLE_PT = 18.0
SUBTITLE_PT = 14.0
HEADING_PT = {1: 14.0, 2: 12.0, 3: 12.0}
BODY_PT = 12.0
TABLE_PT = 10.5
SMALL_PT = 9.0
BODY_LEADING = 1.6  # line height / font size
TABLE_LEADING = 1.4

CELL_PAD_X, CELL_PAD_Y = 1.5, 1.0
GRAY_FILL = 235
GRAY_TEXT = 80
FIELD_LABEL_RATIO = 0.28
TRANSCRIPT_NUMBER_W = 12.0

SIGNATURE_BOX_MM = (70.0, 28.0)  # width, height of the rectangle kept free for the visible signature
SIGNATURE_COLUMN_GAP = 6.0
SIGNATURE_DATE_TEXT = "日期 / Date：　　　　年　　月　　日"

_EPS = 1e-6
# fpdf2 replaces this string with the page count when the file is written (private-use
# characters cannot occur in real text, and are removed from callers' text). Until then the
# footer is laid out with a slot as wide as one "0" per character of the alias, and the count
# is centred in it. Noto CJK's digits are proportional ("0" is narrower than "2", "5", "6",
# "8" and "9"), so a slot of two zeros could not hold 23 or 99 and no two-character slot holds
# 100: fpdf2 warned and the number overflowed its slot. Four characters hold every count up
# to PAGE_COUNT_MAX (2000 is wider than "0000"); the unit test checks each one.
_PAGE_COUNT_SLOT = 4
_PAGE_COUNT_ALIAS = "\ue000" + "\ue001" * (_PAGE_COUNT_SLOT - 1)
PAGE_COUNT_MAX = 1999
"""The largest page count the footer's slot holds (a larger one still prints, a little off centre, with fpdf2's warning)."""
_FAMILY = "cjk"
_FALLBACK_FAMILY = "fallback"

AlignName = Literal["left", "center", "right"]
_ALIGN: dict[str, Align] = {"left": Align.L, "center": Align.C, "right": Align.R}


def _line_height(size_pt: float, leading: float = BODY_LEADING) -> float:
    return size_pt * leading * PT


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ue000\ue001]")


def _clean(text: str) -> str:
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))


# --- public value types -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its heading, its share of the text width and how its cells align."""

    title: str
    width_ratio: float = 1.0
    align: AlignName = "left"


@dataclass(frozen=True, slots=True)
class SignatureBox:
    """Where a signer's visible signature goes.

    ``page`` is 0-based and ``box`` is ``(x1, y1, x2, y2)`` in PDF points with
    the origin at the bottom-left of the page, as pyHanko's ``SigFieldSpec``
    takes them (``on_page=page, box=box``).
    """

    signer_id: str
    label: str
    page: int
    box: tuple[float, float, float, float]

    @property
    def field_name(self) -> str:
        """A PDF form-field name for this signer (no dots: they separate field-name parts)."""
        return "Signature_" + re.sub(r"[^0-9A-Za-z_-]", "_", self.signer_id)


# --- the builder --------------------------------------------------------------


def _close_fonts(fonts: list[TTFFont]) -> None:
    for font in fonts:
        font.close()


class _Pdf(FPDF):
    """fpdf2 with the running header (title, case number) and footer (note, page numbers)."""

    def __init__(self, header_title: str, case_number: str | None, footer_note: str | None) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.header_title = header_title
        self.case_number = case_number
        self.footer_note = footer_note

    def header(self) -> None:
        self.set_font(_FAMILY, "", SMALL_PT)
        self.set_text_color(GRAY_TEXT)
        h = _line_height(SMALL_PT, 1.2)
        right = self.case_number or ""
        right_w = self.get_string_width(right)
        if self.get_string_width(self.header_title) + right_w + 10 <= BODY_W:
            self.set_xy(MARGIN_LEFT, HEADER_Y)
            self.cell(BODY_W, h, self.header_title, align=Align.L)
        if right:
            self.set_xy(MARGIN_LEFT, HEADER_Y)
            self.cell(BODY_W, h, right, align=Align.R)
        self.set_draw_color(GRAY_TEXT)
        self.set_line_width(0.2)
        self.line(MARGIN_LEFT, HEADER_RULE_Y, PAGE_W - MARGIN_RIGHT, HEADER_RULE_Y)
        self.set_text_color(0)
        self.set_draw_color(0)

    def footer(self) -> None:
        self.set_font(_FAMILY, "", SMALL_PT)
        self.set_text_color(GRAY_TEXT)
        h = _line_height(SMALL_PT, 1.2)
        if self.footer_note:
            self.set_xy(MARGIN_LEFT, FOOTER_NOTE_Y)
            self.cell(BODY_W, h, self.footer_note, align=Align.C)
        self.set_xy(MARGIN_LEFT, FOOTER_Y)
        self.cell(BODY_W, h, f"第 {self.page_no()} 页 / 共{_PAGE_COUNT_ALIAS}页", align=Align.C)
        self.set_text_color(0)


@dataclass(slots=True)
class _SignatureRow:
    page: int  # 1-based, as fpdf2 counts
    top: float
    bottom: float
    columns_used: int


class DocumentBuilder:
    """Lays out one court document top to bottom; :meth:`render` gives the PDF bytes.

    Content is placed as the methods are called, so :meth:`signature_block`
    knows its page and rectangle at once. ``created_at`` must carry a time
    zone: it is written into the PDF and is part of what makes the output
    reproducible. Text is never cut: anything too long wraps, rows too tall
    for a page continue on the next one.
    """

    def __init__(
        self,
        title: str,
        *,
        created_at: datetime,
        case_number: str | None = None,
        subtitle: str | None = None,
        footer_note: str | None = None,
        font_path: str | Path | None = None,
        font_candidates: Sequence[FontCandidate] = DEBIAN_NOTO_CJK,
        author: str = AUTHOR,
    ) -> None:
        if created_at.tzinfo is None or created_at.utcoffset() is None:
            raise ValueError("created_at must be timezone-aware")
        self.title = _clean(title)
        self.case_number = _clean(case_number) if case_number else None
        self.fonts = find_fonts(font_path, candidates=font_candidates)
        self._boxes: list[SignatureBox] = []
        self._signature_row: _SignatureRow | None = None
        self._widths: dict[tuple[bool, float, str], float] = {}
        self._output: bytes | None = None
        self._closed = False
        self._fallback: bool | None = None  # None: not needed yet; True: added; False: none installed

        pdf = _Pdf(self.title, self.case_number, _clean(footer_note) if footer_note else None)
        pdf.add_font(_FAMILY, "", self.fonts.regular.path, collection_font_number=self.fonts.regular.index)
        pdf.add_font(_FAMILY, "B", self.fonts.bold.path, collection_font_number=self.fonts.bold.index)
        pdf.alias_nb_pages(_PAGE_COUNT_ALIAS, align=Align.C)
        pdf.set_margins(MARGIN_LEFT, MARGIN_TOP, MARGIN_RIGHT)
        pdf.set_auto_page_break(False)  # every break is decided here, so nothing is split by accident
        pdf.c_margin = 0
        pdf.set_title(self.title)
        pdf.set_author(author)
        pdf.set_creator(author)
        pdf.set_producer(f"fpdf2 {FPDF_VERSION}")
        if self.case_number:
            pdf.set_subject(self.case_number)
        pdf.set_lang(LANGUAGE)
        pdf.set_creation_date(created_at)
        pdf.viewer_preferences = ViewerPreferences(display_doc_title=True)
        self._pdf = pdf
        # fpdf2 keeps the font files open (lazy reading) until output; close them even if this builder is dropped
        fonts = [font for font in pdf.fonts.values() if isinstance(font, TTFFont)]
        self._font_files = fonts  # a fallback font added later joins this list, so it is closed too
        self._release_fonts = weakref.finalize(self, _close_fonts, fonts)
        self._covered = {False: self._cmap(""), True: self._cmap("B")}
        self._cover(self.title + (self.case_number or "") + (pdf.footer_note or ""), bold=False)
        self._new_page()
        self._title_block(_clean(subtitle) if subtitle else None)

    # -- public API ----------------------------------------------------------

    @property
    def boxes(self) -> tuple[SignatureBox, ...]:
        """Every signature box placed so far, in the order of the calls."""
        return tuple(self._boxes)

    @property
    def page_count(self) -> int:
        return self._pdf.pages_count

    def space_left(self) -> float:
        """Millimetres left for content on the current page."""
        return max(0.0, BODY_BOTTOM - self._pdf.y)

    def heading(self, text: str, level: int = 1) -> None:
        """A bold heading (level 1-3); it is never left alone at the foot of a page."""
        if level not in HEADING_PT:
            raise ValueError(f"heading level must be one of {sorted(HEADING_PT)}")
        self._start_block()
        size = HEADING_PT[level]
        lh = _line_height(size, 1.5)
        lines = self._wrap(_clean(text).replace("\n", " "), size, True, BODY_W)
        space_before = 3.0 if self._pdf.y > MARGIN_TOP + _EPS else 0.0
        self._need(space_before + lh * len(lines) + 2 * _line_height(BODY_PT))  # keep with the next two lines
        self._pdf.y += space_before
        for line in lines:
            self._draw(MARGIN_LEFT, self._pdf.y, BODY_W, lh, line.text, size, True, Align.L)
            self._pdf.y += lh
        self._pdf.y += 1.0

    def paragraph(self, text: str, *, indent: bool = True, align: AlignName = "left", bold: bool = False) -> None:
        """Body text; each line of ``text`` starts a paragraph, indented two characters if ``indent``."""
        self._start_block()
        size = BODY_PT
        lh = _line_height(size)
        first_indent = 2 * size * PT if indent and align == "left" else 0.0
        for part in _clean(text).split("\n"):
            lines = self._wrap(part, size, bold, BODY_W, BODY_W - first_indent)
            for i, line in enumerate(lines):
                self._need(lh)
                x = MARGIN_LEFT + (first_indent if i == 0 else 0.0)
                self._draw(x, self._pdf.y, MARGIN_LEFT + BODY_W - x, lh, line.text, size, bold, _ALIGN[align])
                self._pdf.y += lh
        self._pdf.y += 0.3 * lh

    def fields(self, items: Sequence[tuple[str, str]]) -> None:
        """A two-column label/value table (parties, case facts)."""
        self._start_block()
        label_w = BODY_W * FIELD_LABEL_RATIO
        self._grid(
            [label_w, BODY_W - label_w],
            [Align.L, Align.L],
            None,
            [[label, value] for label, value in items],
            shade_first_column=True,
            bold_rows=frozenset(),
        )

    def table(
        self, columns: Sequence[Column], rows: Sequence[Sequence[str]], total_row: Sequence[str] | None = None
    ) -> None:
        """A ruled table; the heading row repeats on every page and ``total_row`` is set in bold."""
        self._start_block()
        if not columns:
            raise ValueError("a table needs at least one column")
        if any(c.width_ratio <= 0 for c in columns):
            raise ValueError("column width ratios must be positive")
        body = [list(r) for r in rows] + ([list(total_row)] if total_row is not None else [])
        if any(len(r) != len(columns) for r in body):
            raise ValueError(f"every row must have {len(columns)} cells")
        total = sum(c.width_ratio for c in columns)
        widths = [BODY_W * c.width_ratio / total for c in columns]
        self._grid(
            widths,
            [_ALIGN[c.align] for c in columns],
            [c.title for c in columns],
            body,
            shade_first_column=False,
            bold_rows=frozenset({len(body) - 1}) if total_row is not None else frozenset(),
        )

    def transcript_line(
        self,
        number: int,
        speaker: str,
        time: str,
        text: str,
        *,
        corrected: bool = False,
        note: str | None = None,
    ) -> None:
        """One numbered line of a record: ``12  调解员 10:02:15（已更正）：text``, then ``注：note``.

        The number hangs in the margin of the text, the speaker and time are
        bold; a corrected line is marked "（已更正）" and a note follows in
        smaller type under the text.
        """
        self._start_block()
        size = BODY_PT
        lh = _line_height(size, 1.5)
        x = MARGIN_LEFT + TRANSCRIPT_NUMBER_W
        w = BODY_W - TRANSCRIPT_NUMBER_W
        lead = f"{_clean(speaker)} {_clean(time)}{'（已更正）' if corrected else ''}："
        lead_w = self._measure(lead, size, True)
        if lead_w > w - 4 * size * PT:  # too long a lead: put the text under it
            lead_lines = self._wrap(lead, size, True, w)
            first_gap = 0.0
        else:
            lead_lines = [Line(lead, lead_w)]
            first_gap = lead_w
        body = _clean(text).split("\n")
        lines = self._wrap(body[0], size, False, w, w - first_gap if first_gap else None)
        for part in body[1:]:
            lines += self._wrap(part, size, False, w)
        # each visual line: its segments as (offset from x, text, bold)
        visual: list[list[tuple[float, str, bool]]]
        if first_gap:
            visual = [[(0.0, lead, True), (first_gap, lines[0].text, False)]]
            visual += [[(0.0, line.text, False)] for line in lines[1:]]
        else:
            visual = [[(0.0, line.text, True)] for line in lead_lines]
            visual += [[(0.0, line.text, False)] for line in lines]
        for i, segments in enumerate(visual):
            self._need(lh)
            if i == 0:
                self._draw(MARGIN_LEFT, self._pdf.y, TRANSCRIPT_NUMBER_W - 3, lh, str(number), size, False, Align.R)
            for offset, segment, bold in segments:
                self._draw(x + offset, self._pdf.y, w - offset, lh, segment, size, bold, Align.L)
            self._pdf.y += lh
        if note:
            note_size = TABLE_PT
            note_lh = _line_height(note_size, 1.4)
            for line in self._wrap("注：" + _clean(note).replace("\n", " "), note_size, False, w):
                self._need(note_lh)
                self._draw(x, self._pdf.y, w, note_lh, line.text, note_size, False, Align.L)
                self._pdf.y += note_lh
        self._pdf.y += 1.0

    def spacer(self, height_mm: float) -> None:
        """Vertical space (dropped at the top of a page)."""
        self._start_block()
        if self._pdf.y > MARGIN_TOP + _EPS:
            self._pdf.y = min(self._pdf.y + height_mm, BODY_BOTTOM)

    def page_break(self) -> None:
        self._start_block()
        self._new_page()

    def signature_block(self, signer_id: str, label: str) -> SignatureBox:
        """Reserve a signature rectangle for one signer, with a caption and a date line under it.

        The rectangle (:data:`SIGNATURE_BOX_MM`) is left empty, framed in grey,
        for the visible mark of the PAdES signature. Consecutive blocks sit
        side by side, two to a row, their boxes level. A block is never split:
        if it does not fit on the page it starts the next one.
        """
        self._check_open()
        if any(b.signer_id == signer_id for b in self._boxes):
            raise ValueError(f"signer {signer_id!r} already has a signature block")
        size = TABLE_PT
        lh = _line_height(size, TABLE_LEADING)
        box_w, box_h = SIGNATURE_BOX_MM
        column_w = (BODY_W - SIGNATURE_COLUMN_GAP) / 2
        caption = self._wrap(f"签名 / Signature：{_clean(label)}", size, False, column_w)
        height = box_h + 1.5 + len(caption) * lh + lh

        pdf = self._pdf
        row = self._signature_row
        if (
            row is not None
            and row.columns_used == 1
            and row.page == pdf.page
            and row.top + height <= BODY_BOTTOM + _EPS
        ):
            top, column = row.top, 1
        else:
            top = pdf.y + (4.0 if pdf.y > MARGIN_TOP + _EPS else 0.0)
            if top + height > BODY_BOTTOM + _EPS:
                self._new_page()
                top = pdf.y
            row = _SignatureRow(pdf.page, top, top, 0)
            column = 0
        x = MARGIN_LEFT + column * (column_w + SIGNATURE_COLUMN_GAP)

        # the box first, so that the boxes of one row line up whatever the captions
        box_top = top
        pdf.set_draw_color(150)
        pdf.set_line_width(0.3)
        pdf.rect(x, box_top, box_w, box_h)
        pdf.set_draw_color(0)
        pdf.set_line_width(0.2)
        y = box_top + box_h + 1.5
        for line in caption:
            self._draw(x, y, column_w, lh, line.text, size, False, Align.L)
            y += lh
        self._draw(x, y, column_w, lh, SIGNATURE_DATE_TEXT, size, False, Align.L)
        y += lh

        row.columns_used = column + 1
        row.bottom = max(row.bottom, y)
        self._signature_row = row
        pdf.y = row.bottom

        k = 72 / 25.4
        result = SignatureBox(
            signer_id=signer_id,
            label=label,
            page=pdf.page - 1,
            box=(
                round(x * k, 2),
                round((PAGE_H - box_top - box_h) * k, 2),
                round((x + box_w) * k, 2),
                round((PAGE_H - box_top) * k, 2),
            ),
        )
        self._boxes.append(result)
        return result

    def render(self) -> bytes:
        """The finished PDF; after this the document can no longer be changed."""
        if self._output is None:
            if self._closed:
                raise RuntimeError("the document was closed before it was rendered")
            self._signature_row = None
            try:
                self._output = bytes(self._pdf.output())
                blank = sum(len(font.missing_glyphs) for font in self._font_files)
                if blank:
                    logger.warning(
                        "%d characters have no glyph in the document's fonts and print as empty boxes", blank
                    )
            finally:
                self.close()
        return self._output

    def close(self) -> None:
        """Release the font files; :meth:`render` does it, and so does the garbage collector for a builder dropped."""
        self._closed = True
        self._release_fonts()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- layout helpers --------------------------------------------------------

    def _check_open(self) -> None:
        if self._output is not None:
            raise RuntimeError("the document has been rendered and cannot be changed")
        if self._closed:
            raise RuntimeError("the document was closed")

    def _start_block(self) -> None:
        self._check_open()
        if self._signature_row is not None:
            self._pdf.y = self._signature_row.bottom + 2.0
            self._signature_row = None

    def _new_page(self) -> None:
        self._pdf.add_page()
        self._pdf.set_xy(MARGIN_LEFT, MARGIN_TOP)

    def _need(self, height: float) -> None:
        """Start a new page unless ``height`` fits on this one (or this page is still empty)."""
        if self._pdf.y + height > BODY_BOTTOM + _EPS and self._pdf.y > MARGIN_TOP + _EPS:
            self._new_page()

    def _cmap(self, style: str) -> frozenset[int]:
        font = self._pdf.fonts[f"{_FAMILY}{style}"]
        return frozenset(font.cmap) if isinstance(font, TTFFont) else frozenset()

    def _cover(self, text: str, bold: bool) -> None:
        """Add the fallback font the first time a text has a character the Chinese font lacks."""
        if self._fallback is not None:
            return
        covered = self._covered[bold]
        if all(ord(ch) in covered or ch.isspace() for ch in text):
            return
        self._fallback = False
        candidate = next((c for c in FALLBACK_FONTS if c.regular.is_file()), None)
        if candidate is None:
            return
        pdf = self._pdf
        bold_file = candidate.bold if candidate.bold is not None and candidate.bold.is_file() else candidate.regular
        for style, path in (("", candidate.regular), ("B", bold_file)):
            pdf.add_font(_FALLBACK_FAMILY, style, path)
            font = pdf.fonts[f"{_FALLBACK_FAMILY}{style}"]
            if isinstance(font, TTFFont):
                self._font_files.append(font)
        pdf.set_fallback_fonts([_FALLBACK_FAMILY], exact_match=False)
        self._fallback = True

    def _measure(self, text: str, size: float, bold: bool) -> float:
        key = (bold, size, text)
        width = self._widths.get(key)
        if width is None:
            self._cover(text, bold)
            self._pdf.set_font(_FAMILY, "B" if bold else "", size)
            width = self._widths[key] = self._pdf.get_string_width(text)
        return width

    def _wrap(self, text: str, size: float, bold: bool, width: float, first_width: float | None = None) -> list[Line]:
        return wrap_text(text, lambda s: self._measure(s, size, bold), width, first_width)

    def _draw(self, x: float, y: float, w: float, h: float, text: str, size: float, bold: bool, align: Align) -> None:
        if not text:
            return
        self._cover(text, bold)
        pdf = self._pdf
        pdf.set_font(_FAMILY, "B" if bold else "", size)
        pdf.set_xy(x, y)
        pdf.cell(w, h, text, align=align, new_x=XPos.LEFT, new_y=YPos.TOP)

    def _title_block(self, subtitle: str | None) -> None:
        pdf = self._pdf
        lh = _line_height(TITLE_PT, 1.4)
        for line in self._wrap(self.title, TITLE_PT, True, BODY_W):
            self._draw(MARGIN_LEFT, pdf.y, BODY_W, lh, line.text, TITLE_PT, True, Align.C)
            pdf.y += lh
        if subtitle:
            lh = _line_height(SUBTITLE_PT, 1.4)
            for line in self._wrap(subtitle, SUBTITLE_PT, False, BODY_W):
                self._draw(MARGIN_LEFT, pdf.y, BODY_W, lh, line.text, SUBTITLE_PT, False, Align.C)
                pdf.y += lh
        if self.case_number:
            lh = _line_height(BODY_PT)
            self._draw(MARGIN_LEFT, pdf.y, BODY_W, lh, self.case_number, BODY_PT, False, Align.R)
            pdf.y += lh
        pdf.y += 4.0

    def _grid(
        self,
        widths: list[float],
        aligns: list[Align],
        header: list[str] | None,
        rows: list[list[str]],
        *,
        shade_first_column: bool,
        bold_rows: frozenset[int],
    ) -> None:
        size = TABLE_PT
        lh = _line_height(size, TABLE_LEADING)
        pad = 2 * CELL_PAD_Y

        def cells(row: list[str], bold: bool) -> list[list[Line]]:
            return [
                [line for part in _clean(text).split("\n") for line in self._wrap(part, size, bold, w - 2 * CELL_PAD_X)]
                for text, w in zip(row, widths, strict=True)
            ]

        head = cells(header, True) if header is not None else None
        head_lines = max(len(c) for c in head) if head is not None else 0
        head_h = head_lines * lh + pad if head is not None else 0.0
        page_body = BODY_BOTTOM - MARGIN_TOP
        need_head = head is not None
        pdf = self._pdf
        pdf.set_line_width(0.2)

        def draw_head() -> None:
            if head is not None:
                self._grid_row(widths, [Align.C] * len(widths), head, 0, head_lines, [True] * len(widths), True)

        if not rows:  # an empty table still shows its columns
            self._need(head_h)
            draw_head()
        for index, row in enumerate(rows):
            bold = index in bold_rows
            body = cells(row, bold)
            n = max(len(c) for c in body)
            start = 0
            while start < n:
                head_room = head_h if need_head else 0.0
                fits = math.floor((BODY_BOTTOM - pdf.y - head_room - pad + _EPS) / lh)
                remaining = n - start
                fresh_page = pdf.y <= MARGIN_TOP + _EPS
                if fits >= remaining:
                    take = remaining
                elif not fresh_page and (start > 0 or remaining * lh + pad + head_h <= page_body + _EPS or fits < 1):
                    self._new_page()
                    need_head = head is not None
                    continue
                else:  # taller than a whole page: fill this one and go on
                    take = max(fits, 1)
                if need_head:
                    draw_head()
                    need_head = False
                shaded = [shade_first_column and j == 0 or bold for j in range(len(widths))]
                self._grid_row(widths, aligns, body, start, take, shaded, bold)
                start += take
        pdf.y += 0.3 * _line_height(BODY_PT)

    def _grid_row(
        self,
        widths: list[float],
        aligns: list[Align],
        cells: list[list[Line]],
        start: int,
        count: int,
        shaded: list[bool],
        bold: bool,
    ) -> None:
        pdf = self._pdf
        size = TABLE_PT
        lh = _line_height(size, TABLE_LEADING)
        h = count * lh + 2 * CELL_PAD_Y
        x, y = MARGIN_LEFT, pdf.y
        pdf.set_fill_color(GRAY_FILL)
        for w, align, lines, fill in zip(widths, aligns, cells, shaded, strict=True):
            pdf.rect(x, y, w, h, style="DF" if fill else "D")
            for m, line in enumerate(lines[start : start + count]):
                self._draw(
                    x + CELL_PAD_X, y + CELL_PAD_Y + m * lh, w - 2 * CELL_PAD_X, lh, line.text, size, bold, align
                )
            x += w
        pdf.y = y + h
