"""Line breaking for Chinese court documents: :func:`wrap_text`.

fpdf2's ``multi_cell`` breaks at spaces and only falls back to breaking
between characters when a "word" is too long, so Chinese text with an
occasional space ("赔偿 12,000 元") wraps badly and it knows nothing of the
Chinese line-breaking rules. Text is therefore wrapped here: between any two
Han characters, never inside a run of Latin letters or digits ("12,345.00",
"10:02:15"), never before closing punctuation (，。、）》” …) and never after
opening punctuation (（《“ ￥). Widths come from the caller's ``measure``, so
this module knows nothing of fonts or PDF.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["NO_LINE_END", "NO_LINE_START", "Line", "wrap_text"]

_EPS = 1e-6  # widths within this of the limit still fit (mm; floating-point sums)

# 行首禁则 / 行尾禁则: what may not start or end a line.
NO_LINE_START = frozenset("，。、；：？！）》」』】〕〉〗〙〛”’…‥·—～%‰℃,.;:?!)]}")
NO_LINE_END = frozenset("（《「『【〔〈〖〘〚“‘￥$([{")
_TOKEN = re.compile(
    r"[ \u3000]+"  # breakable space
    r"|[0-9A-Za-z\u00c0-\u024f]+(?:[.,:/\-'%@_+&][0-9A-Za-z\u00c0-\u024f]+)*"  # a Latin word or a number
    r"|.",  # anything else: one character
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Line:
    """One wrapped line: its text and natural width (mm)."""

    text: str
    width: float


def wrap_text(text: str, measure: Callable[[str], float], width: float, first_width: float | None = None) -> list[Line]:
    """Break one paragraph (no newlines) into lines no wider than ``width``.

    ``first_width`` narrows the first line (indent, a bold lead-in). Breaks
    fall between Han characters or at spaces, never inside a Latin word or a
    number and never against the line-breaking rules above; a unit wider
    than a whole line is broken between characters. An empty paragraph gives
    one empty line.
    """
    units: list[str] = []
    for token in _TOKEN.findall(text):
        is_space = token.isspace()
        if units and not is_space and not units[-1].isspace():
            if token[0] in NO_LINE_START or units[-1][-1] in NO_LINE_END:
                units[-1] += token
                continue
        units.append(token)

    lines: list[Line] = []
    current, current_w, pending = "", 0.0, ""

    def limit() -> float:
        return first_width if (first_width is not None and not lines) else width

    def emit() -> None:
        nonlocal current, current_w, pending
        lines.append(Line(current, current_w))
        current, current_w, pending = "", 0.0, ""

    for unit in units:
        if unit.isspace():
            if current:
                pending = unit
            continue
        unit_w = measure(unit)
        space_w = measure(pending) if pending else 0.0
        if current and current_w + space_w + unit_w <= limit() + _EPS:
            current, current_w, pending = current + pending + unit, current_w + space_w + unit_w, ""
            continue
        if current:
            emit()
        if unit_w <= limit() + _EPS:
            current, current_w = unit, unit_w
            continue
        for ch in unit:  # wider than a whole line: break between characters
            ch_w = measure(ch)
            if current and current_w + ch_w > limit() + _EPS:
                emit()
            current, current_w = current + ch, current_w + ch_w
    if current or not lines:
        lines.append(Line(current, current_w))
    return lines
