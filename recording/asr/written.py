"""Spoken Mandarin numbers written the way the mediation record writes them (pure: text in, text out).

Whisper writes the same spoken amount several ways: 三万五千元, 35000元, "3,5000元" (grouped by
万, as the words are), 3.5万元, 3万5千元. The record, like the agreement (``Money.__str__``:
"35,000.00"), writes one form:

* amounts of money: Arabic digits grouped by thousands, then 元: ``35,000元``, ``12,600.50元``
  (块/块钱 as 元; 万元 multiplied out; jiao and fen as decimals: 一万二千六百元五角 = 12,600.50元;
  a spoken point read: 三点五万元 = 35,000元; the colloquial 三万五 = 35,000 and 一万二千六 = 12,600);
* percentages: 百分之七十 → ``70%``;
* dates: 二零二六年十二月十五日 → ``2026年12月15日``; the day after a month written 日, not 号
  (十一月三号 → ``11月3日``); a day the month does not have (二月三十日) is left as heard.

Other numbers (十个工作日, 十级伤残, 三号楼, plate numbers) are left as recognised: their
written form depends on what they count, and a wrong guess would change the record.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
UNITS = {"十": 10, "百": 100, "千": 1000}
BIG = {"万": 10_000, "亿": 100_000_000}

_CN = "零〇○一幺二两三四五六七八九十百千万亿"
_NUMBER = rf"[0-9{_CN}](?:[0-9{_CN},.点]*[0-9{_CN}])?"
"""A spoken or written number: Arabic digits (with Whisper's stray commas), Chinese numerals, or both;
a point written . or spoken 点 (三点五万, 十二点五)."""
_TENTHS = "0-9一二两三四五六七八九"
_MONEY = re.compile(
    rf"(?<![0-9{_CN},.点])({_NUMBER})(万元|元|块钱|块)"
    rf"(?:零?([{_TENTHS}])[角毛](?!钱?[不都也])(?![巾衣病笔线])钱?)?"
    rf"(?:(?(3)零?|零)([{_TENTHS}])分(?!钱?[不都也])(?![钟之析别配期数])钱?)?"
)
"""An amount: a number, its unit, then jiao (角/毛) and fen (分): 一万二千六百元五角, 十元五角三分, 十元零五分
(分 alone only after 零: 一分 is also a minute's or a point's; none before 不/都/也: 一分不少 is not a fen)."""
_PERCENT = re.compile(rf"百分之([{_CN}0-9.点]+)")
_YEAR = re.compile(r"(?<![0-9零〇○一二三四五六七八九])([零〇○一二三四五六七八九]{4})年")
_MONTH_DAY = re.compile(
    rf"(?<![0-9{_CN}])([0-9]{{1,2}}|[一二三四五六七八九十]{{1,3}})月([0-9]{{1,2}}|[一二三四五六七八九十]{{1,3}})(日|号)"
)
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
"""The most days each month can have (February's in a leap year: the year is often not said)."""
MAX_DIGITS = 15
"""Longer numbers are left alone (no amount in a mediation has more; it bounds the arithmetic)."""


def written(text: str) -> str:
    """``text`` with its amounts, percentages and dates in the record's form (see the module)."""
    text = _YEAR.sub(lambda m: "".join(str(DIGITS[c]) for c in m.group(1)) + "年", text)
    text = _MONTH_DAY.sub(_month_day, text)
    text = _PERCENT.sub(_percent, text)
    return _MONEY.sub(_money, text)


def _month_day(m: re.Match[str]) -> str:
    month, day = number(m.group(1)), number(m.group(2))
    if month is None or day is None or not (1 <= month <= 12 and 1 <= day <= DAYS_IN_MONTH[int(month) - 1]):
        return m.group(0)
    return f"{int(month)}月{int(day)}日"


def _percent(m: re.Match[str]) -> str:
    value = number(m.group(1).replace("点", "."))
    if value is None or value > 100:
        return m.group(0)
    return f"{_plain(value)}%"


def _money(m: re.Match[str]) -> str:
    spoken, unit, jiao, fen = m.group(1), m.group(2), m.group(3), m.group(4)
    value = number(spoken)
    if value is None:
        return m.group(0)
    if unit == "块" and not (jiao or fen) and not any(c.isdigit() or c in "十百千万亿" for c in spoken):
        return m.group(0)  # 一块 (together), 两块 (two pieces): not money without 钱 or a larger number
    if unit == "万元":
        value *= 10_000
    if jiao or fen:
        if value != value.to_integral_value():
            return m.group(0)  # 12.5元五角: not an amount we can read
        value += Decimal(f"0.{_digit(jiao)}{_digit(fen)}")
    if value != value.quantize(Decimal("0.01")):
        return m.group(0)
    return f"{value:,.0f}元" if value == value.to_integral_value() else f"{value:,.2f}元"


def _digit(c: str | None) -> int:
    return 0 if c is None else int(c) if c.isdigit() else DIGITS[c]


def _plain(value: Decimal) -> str:
    return f"{value:f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:f}"


def number(spoken: str) -> Decimal | None:
    """The value of a spoken or written number (三万五千, 3,5000, 3.5万, 一万二千六, 二零二六); None if it is not one."""
    s = spoken.replace(",", "").replace("点", ".")
    if not s or len(s) > MAX_DIGITS * 2:
        return None
    if all(c.isdigit() or c == "." for c in s):
        return _decimal(s)
    if "." in s and not all(c.isdigit() or c == "." for c in s):
        whole, _, frac = s.partition(".")
        if frac and all(c in DIGITS for c in frac) and whole and not any(c.isdigit() for c in whole):
            head = number(whole)
            return None if head is None else head + Decimal("0." + "".join(str(DIGITS[c]) for c in frac))
    if s[-1] in BIG and "." in s[:-1] and not s[:-1].replace(".", "").isdigit():
        head = number(s[:-1])  # 三点五万: the point is inside the count of 万
        return None if head is None else _bounded(head * BIG[s[-1]])
    if all(c in DIGITS for c in s) and len(s) > 1:
        return _decimal("".join(str(DIGITS[c]) for c in s))  # digit by digit: 二零二六
    total = Decimal(0)
    section = Decimal(0)
    current: Decimal | None = None
    last_unit = 0
    i = 0
    while i < len(s):
        c = s[i]
        if c.isdigit():
            j = i
            while j < len(s) and (s[j].isdigit() or s[j] == "."):
                j += 1
            current = _decimal(s[i:j])
            if current is None:
                return None
            i = j
            continue
        if c == ".":
            return None  # a point anywhere else between Chinese numerals (三点五十): not a number we read
        if c in DIGITS:
            if current is not None and current != 0 and c != "零":
                return None  # two digits in a row inside a counted number: not a number we can read
            current = Decimal(DIGITS[c])
            if c in "零〇○":
                last_unit = 0  # 三万零五: the five is five, not five thousand
        elif c in UNITS:
            section += (current if current is not None else Decimal(1)) * UNITS[c]
            current, last_unit = None, UNITS[c]
        elif c in BIG:
            section += current or 0
            total = (total + section) * BIG[c] if c == "亿" else total + section * BIG[c]
            section, current, last_unit = Decimal(0), None, BIG[c]
        else:
            return None
        i += 1
    if current is not None:
        single = s[-1] in DIGITS or (s[-1].isdigit() and not s[-2:-1].isdigit())
        if last_unit >= 10 and single and s[-1] not in "零〇○0":
            current *= last_unit // 10  # 三万五 = 35,000; 一万二千六 = 12,600; 三百五 = 350
        section += current
    return _bounded(total + section)


def _bounded(value: Decimal) -> Decimal | None:
    return value if len(str(int(value))) <= MAX_DIGITS else None


def _decimal(s: str) -> Decimal | None:
    if s.count(".") > 1 or s.startswith(".") or s.endswith("."):
        return None
    digits = s.replace(".", "")
    if len(digits) > MAX_DIGITS:
        return None
    try:
        return Decimal(s)
    except InvalidOperation:
        return None
