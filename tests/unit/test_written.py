"""Mandarin amounts, percentages and dates as the mediation record writes them (``recording.asr.written``).

A court reads the record: one spoken amount must read the same whatever Whisper wrote, and what
is not an amount, percentage or date (a count, a building, a plate) must stay as it was heard.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recording.asr.written import number, written

THIRTY_FIVE_THOUSAND = (
    "三万五千元",
    "35000元",
    "35,000元",
    "3,5000元",
    "3.5万元",
    "3万5千元",
    "3万5元",
    "三万五元",
    "三万五块钱",
    "三万五千块",
    "三万五千块钱",
    "35000块",
    "35000.00元",
)


@pytest.mark.parametrize("spoken", THIRTY_FIVE_THOUSAND)
def test_every_form_whisper_writes_for_one_amount_reads_the_same(spoken: str) -> None:
    assert written(f"赔偿{spoken}。") == "赔偿35,000元。"


@pytest.mark.parametrize(
    ("spoken", "record"),
    [
        ("5万8元", "58,000元"),
        ("五万八元", "58,000元"),
        ("一万二千六元", "12,600元"),
        ("一万二千六百元", "12,600元"),
        ("三百五元", "350元"),
        ("三万零五元", "30,005元"),
        ("一万零六百元", "10,600元"),
        ("十元", "10元"),
        ("十块", "10元"),
        ("一块钱", "1元"),
        ("两块钱", "2元"),
        ("二十块", "20元"),
        ("1000元", "1,000元"),
        ("999元", "999元"),
        ("0元", "0元"),
    ],
)
def test_spoken_amounts(spoken: str, record: str) -> None:
    assert written(spoken) == record


@pytest.mark.parametrize(
    ("spoken", "record"),
    [
        ("12600.5元", "12,600.50元"),
        ("12,600.50元", "12,600.50元"),
        ("12600.05元", "12,600.05元"),
        ("0.5元", "0.50元"),
    ],
)
def test_jiao_and_fen_as_two_decimals(spoken: str, record: str) -> None:
    assert written(spoken) == record


@pytest.mark.parametrize(
    ("spoken", "record"),
    [
        ("三点五万元", "35,000元"),
        ("三点五万块钱", "35,000元"),
        ("十二点五元", "12.50元"),
        ("一万二千六百点五元", "12,600.50元"),
        ("一万二千六百点零五元", "12,600.05元"),
        ("两千点五块钱", "2,000.50元"),
        ("一点五亿元", "150,000,000元"),
    ],
)
def test_a_spoken_point_is_read_as_the_decimal_point(spoken: str, record: str) -> None:
    # before: 三点五万元 became "三点50,000元" (the point cut the amount in two: a wrong amount in the record)
    assert written(f"赔偿{spoken}。") == f"赔偿{record}。"


@pytest.mark.parametrize(
    ("spoken", "record"),
    [
        ("一万二千六百元五角", "12,600.50元"),
        ("12600元5角", "12,600.50元"),
        ("十元五角三分", "10.53元"),
        ("十元五角零三分", "10.53元"),
        ("十元零五分", "10.05元"),
        ("一百元零三分钱", "100.03元"),
        ("三百五十块零五毛", "350.50元"),
        ("两块五毛钱", "2.50元"),
        ("三万元五角", "30,000.50元"),
    ],
)
def test_jiao_and_fen_spoken_after_the_yuan(spoken: str, record: str) -> None:
    # before: 一万二千六百元五角 became "12,600元五角", one amount written two ways in one record
    assert written(f"支付{spoken}。") == f"支付{record}。"


@pytest.mark.parametrize(
    ("heard", "record"),
    [
        ("五千元一分不少", "5,000元一分不少"),
        ("五千元一毛钱都不少", "5,000元一毛钱都不少"),
        ("每十元一分钟", "每10元一分钟"),
        ("十元五分", "10元五分"),  # 分 without 零 or a jiao: a point or a minute as likely as a fen
        ("五元一毛巾", "5元一毛巾"),
        ("12.5元五角", "12.5元五角"),
    ],
)
def test_what_only_looks_like_jiao_or_fen_is_not_added(heard: str, record: str) -> None:
    assert written(heard) == record


def test_less_than_a_fen_is_not_rounded_into_the_record() -> None:
    assert written("3.555元") == "3.555元"  # no amount has a third decimal: rounding would invent one


@pytest.mark.parametrize(
    ("spoken", "record"),
    [
        ("十万元", "100,000元"),
        ("三十五万元", "350,000元"),
        ("0.5万元", "5,000元"),
        ("3.5万元", "35,000元"),
        ("一百二十万元", "1,200,000元"),
        ("一亿元", "100,000,000元"),
        ("1.5亿元", "150,000,000元"),
        ("两亿三千万元", "230,000,000元"),
        ("一亿零五百万元", "105,000,000元"),
    ],
)
def test_wan_and_yi_are_multiplied_out(spoken: str, record: str) -> None:
    assert written(spoken) == record


@pytest.mark.parametrize(
    ("spoken", "record"),
    [
        ("百分之七十", "70%"),
        ("百分之三十点五", "30.5%"),
        ("百分之零点五", "0.5%"),
        ("百分之一百", "100%"),
        ("百分之三十五点五五", "35.55%"),
        ("百分之30", "30%"),
        ("百分之30.5", "30.5%"),
        ("百分之五", "5%"),
    ],
)
def test_percentages(spoken: str, record: str) -> None:
    assert written(f"承担{spoken}的责任") == f"承担{record}的责任"


def test_a_percentage_over_a_hundred_is_left_as_heard() -> None:
    assert written("百分之一百二十") == "百分之一百二十"


@pytest.mark.parametrize(
    ("spoken", "record"),
    [
        ("二零二六年十二月十五日", "2026年12月15日"),
        ("二〇二六年十二月十五号", "2026年12月15日"),
        ("2026年12月15日", "2026年12月15日"),
        ("十一月三号", "11月3日"),
        ("十一月三日", "11月3日"),
        ("2月3号", "2月3日"),
        ("一月三十一日", "1月31日"),
        ("二月二十九日", "2月29日"),
        ("四月三十号", "4月30日"),
        ("十二月二十号", "12月20日"),
        ("二零二六年", "2026年"),
    ],
)
def test_dates(spoken: str, record: str) -> None:
    assert written(f"于{spoken}前支付") == f"于{record}前支付"


@pytest.mark.parametrize(
    "spoken",
    [
        "二月三十日",
        "2月30号",
        "四月三十一号",
        "十一月三十一日",
        "十三月五日",
        "十二月三十二号",
        "零月三日",
        "三月零号",
        "13月5日",
        "12月32日",
    ],
)
def test_an_impossible_date_is_left_as_heard(spoken: str) -> None:
    assert written(spoken) == spoken


@pytest.mark.parametrize(
    "text",
    [
        "十个工作日内",
        "三号楼二单元",
        "我们一块去",
        "切成两块",
        "五块砖",
        "三个人",
        "十级伤残",
        "第三人",
        "三十二号",
        "3号",
        "车牌号苏A3K729",
        "浙B12345",
        "一年",
        "三万五",  # no unit: an amount only if it says 元
        "3.5万",
        "The amount is 35000 yuan.",
        "",
        "，。、",
    ],
)
def test_what_is_not_an_amount_percentage_or_date_is_left_as_heard(text: str) -> None:
    assert written(text) == text


def test_a_sentence_with_several_figures() -> None:
    heard = "被告于二零二六年十二月十五号前一次性支付三万五千块钱，承担百分之七十的责任，十个工作日内履行"
    assert written(heard) == "被告于2026年12月15日前一次性支付35,000元，承担70%的责任，十个工作日内履行"


@pytest.mark.parametrize(
    ("spoken", "value"),
    [
        ("三万五千", Decimal(35000)),
        ("3,5000", Decimal(35000)),
        ("3.5万", Decimal(35000)),
        ("三万五", Decimal(35000)),
        ("一万二千六", Decimal(12600)),
        ("三百五", Decimal(350)),
        ("二零二六", Decimal(2026)),
        ("十", Decimal(10)),
        ("十五", Decimal(15)),
        ("两千", Decimal(2000)),
        ("三万零五", Decimal(30005)),
        ("十二点五", Decimal("12.5")),
        ("三点五万", Decimal(35000)),
        ("零点五万", Decimal(5000)),
    ],
)
def test_number_reads_spoken_and_written_numbers(spoken: str, value: Decimal) -> None:
    assert number(spoken) == value


@pytest.mark.parametrize("spoken", ["", "元", "三五万", "1.2.3", ".5", "5.", "1" * 16, "abc", "三万万万x"])
def test_number_says_none_for_what_is_not_one(spoken: str) -> None:
    assert number(spoken) is None


NUMBERISH = st.text(
    alphabet=st.sampled_from(list("零〇一二两三五九十百千万亿0159,.点元块钱年月日号百分之%个楼A ")), max_size=40
)
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)


@settings(max_examples=400, deadline=None)
@given(st.one_of(NUMBERISH, ANY_TEXT))
def test_never_raises_and_is_idempotent(text: str) -> None:
    once = written(text)
    assert written(once) == once


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="元块%百年月"), max_size=200))
def test_text_without_a_unit_is_left_unchanged(text: str) -> None:
    assert written(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "1" * 10_000,
        "一" * 10_000,
        "1," * 5_000,
        "万" * 9_999 + "元",
        "1" * 9_999 + "元",
        "百分之" + "一" * 9_997,
        "十月" * 5_000,
        "三万五千元，" * 1_666,
        "\x00\x1f\u200b" * 3_333,
    ],
)
def test_ten_thousand_characters_take_well_under_half_a_second(text: str) -> None:
    start = time.perf_counter()
    out = written(text)
    assert time.perf_counter() - start < 0.5
    assert written(out) == out
