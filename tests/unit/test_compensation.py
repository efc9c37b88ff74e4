"""The compensation calculator: worked cases by hand, properties over random claims, and bad input."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.compensation import (
    COMPULSORY_LIMITS_2020,
    AccidentClaim,
    Category,
    CategoryLimits,
    CommercialPolicy,
    CompulsoryLimits,
    CompulsoryPolicy,
    Item,
    ItemKind,
    Money,
    PayerRole,
    Split,
    Vehicle,
    allocate,
    calculate,
)
from server.errors import InvalidCommand

C, B, P, V = PayerRole.COMPULSORY_INSURER, PayerRole.COMMERCIAL_INSURER, PayerRole.LIABLE_PARTY, PayerRole.VICTIM


def y(text: str) -> Money:
    """Yuan, from text."""
    return Money.parse(text)


def part(split: Split, item: int, role: PayerRole, party: str = "") -> Money:
    """What the payer (role, party) pays of item number ``item``."""
    for j, payer in enumerate(split.payers):
        if payer.role is role and payer.party_id == party:
            return split.lines[item].parts[j]
    raise AssertionError(f"no payer {role} {party}")


def column(split: Split, role: PayerRole, party: str = "") -> list[str]:
    """One payer's parts of every item, as ``"12,345.67"``."""
    return [str(part(split, i, role, party)) for i in range(len(split.lines))]


def commercial(insurer: str, limit: str, **kw: object) -> CommercialPolicy:
    return CommercialPolicy(insurer, y(limit), **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- money


def test_money_reads_and_writes_yuan() -> None:
    assert Money.parse("12,345.67") == Money(1_234_567)
    assert Money.parse("12345.67元") == Money(1_234_567)
    assert Money.parse(" ￥12,345 ") == Money(1_234_500)
    assert Money.parse(Decimal("0.5")) == Money(50)
    assert Money.parse("1.230") == Money(123)  # trailing zeros lose nothing
    assert Money.from_fen(1_234_567) == Money(1_234_567)
    assert str(Money(123_456_789)) == "1,234,567.89"
    assert Money(5).plain() == "0.05"
    assert Money(1_234_567).yuan == Decimal("12345.67")
    assert Money(1) + Money(2) == Money(3)


def test_allocate_uses_largest_remainders() -> None:
    # 100.01 yuan = 10001 fen in thirds: quotas 3333.67 each; floors 3333 × 3 = 9999, 2 fen left,
    # all remainders tie, so the two earliest parts get one each.
    assert allocate(10001, [1, 1, 1]) == [3334, 3334, 3333]
    # quotas 10 × (0.5, 0.3, 0.2) × ... : 7 in 50/30/20 -> 3.5, 2.1, 1.4 -> floors 3, 2, 1, one left -> 0.5 wins.
    assert allocate(7, [50, 30, 20]) == [4, 2, 1]
    assert allocate(0, [0, 0]) == [0, 0]
    assert allocate(5, [0, 3]) == [0, 5]


# --------------------------------------------------------------------------- worked cases


def test_case1_one_vehicle_fully_liable() -> None:
    # 甲 100% liable, 交强险 (A保险, at fault) and 商业三者险 (B保险, limit 1,000,000).
    # Items: medical 30,000; lost income 20,000; property 5,000 = 55,000.
    # Step 1 (compulsory): medical 30,000 > 18,000 -> 18,000; death/disability: 20,000 <= 180,000 -> 20,000;
    #   property 5,000 > 2,000 -> 2,000. Compulsory pays 40,000.
    # Step 2: remainder 12,000 + 0 + 3,000 = 15,000, 甲 100% -> 15,000.
    # Step 3: commercial pays min(15,000, 1,000,000) = 15,000; 甲 pays nothing itself.
    claim = AccidentClaim(
        items=(
            Item.parse("medical", "30,000"),
            Item.parse("误工费", "20,000"),
            Item.parse(ItemKind.PROPERTY, "5,000", "车辆维修"),
        ),
        vehicles=(Vehicle("甲", 100, CompulsoryPolicy("A保险"), commercial("B保险", "1,000,000")),),
    )
    split = calculate(claim)
    assert column(split, C, "甲") == ["18,000.00", "20,000.00", "2,000.00"]
    assert column(split, B, "甲") == ["12,000.00", "0.00", "3,000.00"]
    assert column(split, P, "甲") == ["0.00", "0.00", "0.00"]
    assert split.paid_by(C) == y("40,000")
    assert split.paid_by(B) == y("15,000")
    assert split.paid_by(P) == Money(0)
    assert split.grand_total == split.recovered == y("55,000")
    assert split.as_rows() == [
        ["赔偿项目", "交强险分项", "金额（元）", "A保险（甲交强险）", "B保险（甲商业三者险）", "甲（自行承担）"],
        ["医疗费", "医疗费用", "30,000.00", "18,000.00", "12,000.00", "0.00"],
        ["误工费", "死亡伤残", "20,000.00", "20,000.00", "0.00", "0.00"],
        ["财产损失（车辆维修）", "财产损失", "5,000.00", "2,000.00", "3,000.00", "0.00"],
        ["合计", "", "55,000.00", "40,000.00", "15,000.00", "0.00"],
    ]
    assert split.explanation == (
        "第一步（交强险·医疗费用）：损失 30,000.00 元，交强险限额合计 18,000.00 元，赔付 18,000.00 元："
        "A保险（甲交强险，有责限额 18,000.00 元）赔付 18,000.00 元。",
        "第一步（交强险·死亡伤残）：损失 20,000.00 元，交强险限额合计 180,000.00 元，赔付 20,000.00 元："
        "A保险（甲交强险，有责限额 180,000.00 元）赔付 20,000.00 元。",
        "第一步（交强险·财产损失）：损失 5,000.00 元，交强险限额合计 2,000.00 元，赔付 2,000.00 元："
        "A保险（甲交强险，有责限额 2,000.00 元）赔付 2,000.00 元。",
        "第二步（责任比例）：交强险赔付后剩余 15,000.00 元，按责任比例分担：甲 100% 承担 15,000.00 元。",
        "第三步（商业三者险）：甲应承担 15,000.00 元，B保险在限额 1,000,000.00 元内赔付 15,000.00 元，"
        "其余 0.00 元由甲自行承担。",
        "合计：损失 55,000.00 元，受害人获赔 55,000.00 元。",
    )


def test_case2_main_and_secondary_liability_with_a_commercial_limit_exceeded() -> None:
    # 甲 70% (main), 乙 30% (secondary); both drivers at fault, each with 交强险 (2020 limits) and 商业三者险:
    # 甲's limit 1,000,000; 乙's limit 100,000.
    # Items: medical 136,000; disability 760,000; property 44,000 = 940,000.
    # Step 1, each category split between the two policies in proportion to their limits (equal here):
    #   medical 136,000 > 36,000 -> 18,000 each, 100,000 left;
    #   death/disability 760,000 > 360,000 -> 180,000 each, 400,000 left;
    #   property 44,000 > 4,000 -> 2,000 each, 40,000 left.
    # Step 2: 540,000 left; 甲 70% = 378,000, 乙 30% = 162,000; per item 70/30 exactly:
    #   甲 70,000 / 280,000 / 28,000; 乙 30,000 / 120,000 / 12,000.
    # Step 3: 甲's commercial pays all 378,000 (under 1,000,000).
    #   乙's commercial pays its limit, 100,000 = 10,000,000 fen, over 乙's items 30,000 / 120,000 / 12,000:
    #   quotas 1,851,851.85 / 7,407,407.41 / 740,740.74 fen; floors sum to 9,999,998; the 2 fen left go to
    #   the largest remainders (.85 medical, .74 property) -> 18,518.52 / 74,074.07 / 7,407.41.
    #   乙 pays the excess itself: 11,481.48 / 45,925.93 / 4,592.59 = 62,000.
    claim = AccidentClaim(
        items=(Item.parse("medical", "136,000"), Item.parse("disability", "760,000"), Item.parse("property", "44000")),
        vehicles=(
            Vehicle("甲", 70, CompulsoryPolicy("A保险"), commercial("B保险", "1,000,000")),
            Vehicle("乙", 30, CompulsoryPolicy("C保险"), commercial("D保险", "100,000")),
        ),
    )
    split = calculate(claim)
    assert column(split, C, "甲") == ["18,000.00", "180,000.00", "2,000.00"]
    assert column(split, C, "乙") == ["18,000.00", "180,000.00", "2,000.00"]
    assert column(split, B, "甲") == ["70,000.00", "280,000.00", "28,000.00"]
    assert column(split, P, "甲") == ["0.00", "0.00", "0.00"]
    assert column(split, B, "乙") == ["18,518.52", "74,074.07", "7,407.41"]
    assert column(split, P, "乙") == ["11,481.48", "45,925.93", "4,592.59"]
    assert split.paid_by(B, "甲") == y("378,000")
    assert split.paid_by(B, "乙") == y("100,000")
    assert split.paid_by(P, "乙") == y("62,000")
    assert split.grand_total == y("940,000")
    assert any("按各交强险限额比例分摊" in line for line in split.explanation)
    assert split.explanation[-2] == (
        "第三步（商业三者险）：乙应承担 162,000.00 元，D保险在限额 100,000.00 元内赔付 100,000.00 元，"
        "其余 62,000.00 元由乙自行承担。"
    )


def test_case3_a_no_fault_vehicle_pays_within_the_reduced_limits() -> None:
    # A third person is hurt in a collision of 甲 (100% liable) and 乙 (no liability: 无责).
    # Both have 交强险; 乙's insurer pays within the no-fault limits (18,000 / 1,800 / 100), and within each
    # category the insurers share in proportion to their limits (the Interpretation, art. 18).
    # Items: medical 20,000; nursing 5,000; property 1,000.
    # medical: limits 18,000 + 1,800 = 19,800 < 20,000 -> both pay their full limit; 200 left -> 甲.
    # nursing: 5,000 < 198,000, shared 180,000 : 18,000 = 10 : 1 -> 500,000 fen × 10/11 = 454,545.45,
    #   × 1/11 = 45,454.55; floors 454,545 + 45,454, 1 fen left to the larger remainder (.55, 乙):
    #   甲 4,545.45, 乙 454.55.
    # property: 1,000 < 2,100, shared 2,000 : 100 = 20 : 1 -> 95,238.10 / 4,761.90 fen;
    #   floors 95,238 + 4,761, 1 fen left to .90 (乙): 甲 952.38, 乙 47.62.
    claim = AccidentClaim(
        items=(Item.parse("medical", "20,000"), Item.parse("nursing", "5,000"), Item.parse("property", "1,000")),
        vehicles=(
            Vehicle("甲", 100, CompulsoryPolicy("A保险")),
            Vehicle("乙", 0, CompulsoryPolicy("C保险")),
        ),
    )
    split = calculate(claim)
    assert column(split, C, "甲") == ["18,000.00", "4,545.45", "952.38"]
    assert column(split, C, "乙") == ["1,800.00", "454.55", "47.62"]
    assert column(split, P, "甲") == ["200.00", "0.00", "0.00"]
    assert column(split, P, "乙") == ["0.00", "0.00", "0.00"]
    assert "C保险（乙交强险，无责限额 1,800.00 元）赔付 1,800.00 元" in split.explanation[0]


def test_case3b_a_no_fault_driver_bearing_ten_percent_towards_a_pedestrian() -> None:
    # The driver is without fault (无责) but bears 10% towards the pedestrian (道路交通安全法 第76条),
    # so the no-fault limits apply although the share is above 0.
    # medical 5,000 -> 交强险 no-fault limit 1,800; 3,200 left: 甲 10% = 320, the victim 90% = 2,880.
    claim = AccidentClaim(
        items=(Item.parse("medical", "5,000"),),
        vehicles=(Vehicle("甲", 10, CompulsoryPolicy("A保险"), driver_at_fault=False),),
        victim_share=90,
    )
    split = calculate(claim)
    assert column(split, C, "甲") == ["1,800.00"]
    assert column(split, P, "甲") == ["320.00"]
    assert column(split, V) == ["2,880.00"]
    assert split.recovered == y("2,120")


def test_case4_the_victim_twenty_percent_at_fault() -> None:
    # 甲 80%, the victim 20%. 甲: 交强险 and 商业三者险 (limit 500,000).
    # Items: medical 50,000; lost income 10,000; disability 300,000 = 360,000.
    # Step 1: medical -> 18,000 (32,000 left).
    #   death/disability 310,000 > 180,000 -> 180,000, spread over the items by amount:
    #   18,000,000 fen × 10,000/310,000 = 580,645.16, × 300,000/310,000 = 17,419,354.84;
    #   floors leave 1 fen, to .84 (disability): lost income 5,806.45, disability 174,193.55;
    #   left 4,193.55 and 125,806.45.
    # Step 2: 162,000 left: 甲 80% = 129,600, the victim 20% = 32,400 (what the victim does not recover).
    #   Per item 4:1: medical 25,600 / 6,400; lost income 419,355 fen -> 335,484 / 83,871;
    #   disability the rest: 100,645.16 / 25,161.29.
    # Step 3: commercial pays 甲's 129,600 (under 500,000).
    # The victim recovers 360,000 - 32,400 = 327,600.
    claim = AccidentClaim(
        items=(
            Item.parse("medical", "50,000"),
            Item.parse("lost_income", "10,000"),
            Item.parse("disability", "300,000"),
        ),
        vehicles=(Vehicle("甲", 80, CompulsoryPolicy("A保险"), commercial("B保险", "500,000")),),
        victim_share=20,
    )
    split = calculate(claim)
    assert column(split, C, "甲") == ["18,000.00", "5,806.45", "174,193.55"]
    assert column(split, B, "甲") == ["25,600.00", "3,354.84", "100,645.16"]
    assert column(split, V) == ["6,400.00", "838.71", "25,161.29"]
    assert split.paid_by(B, "甲") == y("129,600")
    assert split.paid_by(V) == y("32,400")
    assert split.recovered == y("327,600")
    assert "受害人自负 20% 计 32,400.00 元" in split.explanation[-3]
    assert split.as_rows()[0][-1] == "受害人自负"


def test_case5_the_appraisal_fee_is_outside_compulsory_insurance() -> None:
    # 甲 100%, 交强险 and 商业三者险. Items: medical 10,000; appraisal fee 2,000.
    # Step 1: medical 10,000 <= 18,000 -> paid in full; the appraisal fee is not a compulsory-insurance
    #   head, so nothing of it although 8,000 of the medical limit is unused.
    # Step 2: 2,000 left, 甲 100%. Step 3: commercial pays 2,000.
    claim = AccidentClaim(
        items=(Item.parse("medical", "10,000"), Item.parse("鉴定费", "2,000")),
        vehicles=(Vehicle("甲", 100, CompulsoryPolicy("A保险"), commercial("B保险", "1,000,000")),),
    )
    split = calculate(claim)
    assert column(split, C, "甲") == ["10,000.00", "0.00"]
    assert column(split, B, "甲") == ["0.00", "2,000.00"]
    assert split.lines[1].category is Category.OUTSIDE
    assert split.as_rows()[2][:2] == ["鉴定费", "交强险外"]
    assert "鉴定费 合计 2,000.00 元不属于交强险赔偿范围（交强险外）。" in split.explanation


def _death_claim(first: bool) -> AccidentClaim:
    return AccidentClaim(
        items=(Item.parse("death", "900,000"), Item.parse("funeral", "50,000"), Item.parse("精神损害抚慰金", "50,000")),
        vehicles=(Vehicle("甲", 100, CompulsoryPolicy("A保险"), commercial("B保险", "1,000,000")),),
        emotional_distress_first=first,
    )


def test_case6_emotional_distress_first_from_the_death_disability_limit() -> None:
    # 甲 100%, 交强险 and 商业三者险 (limit 1,000,000; without the emotional-distress add-on).
    # Items: death compensation 900,000; funeral 50,000; emotional distress 50,000. Death/disability
    # loss 1,000,000 against the 180,000 limit.
    # With the flag: emotional distress 50,000 first; the other 130,000 over death : funeral = 900 : 50:
    #   13,000,000 fen × 900/950 = 12,315,789.47, × 50/950 = 684,210.53; 1 fen left to .53 (funeral):
    #   death 123,157.89, funeral 6,842.11. Left: 776,842.11 + 43,157.89 + 0 = 820,000, 甲 100%;
    #   commercial pays all 820,000 (no emotional distress left in it). 甲 pays nothing.
    split = calculate(_death_claim(first=True))
    assert column(split, C, "甲") == ["123,157.89", "6,842.11", "50,000.00"]
    assert column(split, B, "甲") == ["776,842.11", "43,157.89", "0.00"]
    assert split.paid_by(P) == Money(0)
    assert "精神损害抚慰金 50,000.00 元在死亡伤残限额内优先赔付（《解释》第十三条）。" in split.explanation
    # Without it: 180,000 over 900 : 50 : 50 -> 162,000 / 9,000 / 9,000; left 738,000 / 41,000 / 41,000.
    #   Commercial does not cover emotional distress: it pays 779,000, and 甲 pays the 41,000 itself.
    split = calculate(_death_claim(first=False))
    assert column(split, C, "甲") == ["162,000.00", "9,000.00", "9,000.00"]
    assert column(split, B, "甲") == ["738,000.00", "41,000.00", "0.00"]
    assert column(split, P, "甲") == ["0.00", "0.00", "41,000.00"]
    assert "其中精神损害抚慰金 41,000.00 元不属于商业三者险赔偿范围" in split.explanation[-2]


def test_case6b_emotional_distress_add_on_and_deductible() -> None:
    # As case 6 without the flag, but the commercial policy has the add-on and a 10% deductible:
    # 甲's 820,000 -> commercial pays 820,000 × 90% = 738,000, 甲 keeps 82,000.
    claim = AccidentClaim(
        items=_death_claim(first=False).items,
        vehicles=(
            Vehicle(
                "甲",
                100,
                CompulsoryPolicy("A保险"),
                commercial("B保险", "1,000,000", deductible_percent=10, covers_emotional_distress=True),
            ),
        ),
        emotional_distress_first=False,
    )
    split = calculate(claim)
    assert split.paid_by(B) == y("738,000")
    assert split.paid_by(P) == y("82,000")
    assert "（绝对免赔率 10%，免赔 82,000.00 元）" in split.explanation[-2]


def test_case7_odd_amounts_split_by_largest_remainder() -> None:
    # Three vehicles equally liable (1/3 each), no policies; item 其他 100.01 = 10,001 fen.
    # Quotas 3,333.67 fen each; floors 3,333 × 3 = 9,999; 2 fen left, remainders tie -> the first two:
    # 33.34 / 33.34 / 33.33, summing to 100.01 exactly.
    third = Fraction(100, 3)
    claim = AccidentClaim(
        items=(Item.parse("other", "100.01"),),
        vehicles=(Vehicle("甲", third), Vehicle("乙", third), Vehicle("丙", third)),
    )
    split = calculate(claim)
    assert [str(m) for m in split.totals] == ["33.34", "33.34", "33.33"]
    assert split.grand_total == y("100.01")
    assert "甲 约33.33% 承担 33.34 元；乙 约33.33% 承担 33.34 元；丙 约33.33% 承担 33.33 元" in split.explanation[-5]
    # With Decimal shares 33.33 / 33.33 / 33.34: quotas 10,001 × 0.3333 = 3,333.3333 (twice) and
    # 10,001 × 0.3334 = 3,334.3334 fen; floors 3,333 + 3,333 + 3,334 = 10,000, 1 fen left, to the largest
    # remainder (.3334, 丙): 33.33 / 33.33 / 33.35.
    claim = AccidentClaim(
        items=claim.items,
        vehicles=(Vehicle("甲", Decimal("33.33")), Vehicle("乙", Decimal("33.33")), Vehicle("丙", Decimal("33.34"))),
    )
    assert [str(m) for m in calculate(claim).totals] == ["33.33", "33.33", "33.35"]


def test_another_limits_table_can_be_passed() -> None:
    # A hypothetical older table with a 10,000 medical limit: medical 15,000 -> 10,000 + 5,000 by 甲.
    old = CompulsoryLimits(
        effective_from=date(2008, 2, 1),
        at_fault=CategoryLimits(y("110,000"), y("10,000"), y("2,000")),
        no_fault=CategoryLimits(y("11,000"), y("1,000"), y("100")),
    )
    claim = AccidentClaim(
        items=(Item.parse("medical", "15,000"),),
        vehicles=(Vehicle("甲", 100, CompulsoryPolicy("A保险", old)),),
    )
    split = calculate(claim)
    assert column(split, C, "甲") == ["10,000.00"]
    assert column(split, P, "甲") == ["5,000.00"]
    assert COMPULSORY_LIMITS_2020.effective_from == date(2020, 9, 19)


def test_as_dict_is_json_ready() -> None:
    split = calculate(_death_claim(first=False))
    data = json.loads(json.dumps(split.as_dict(), ensure_ascii=False))
    assert data["grand_total"] == "1000000.00"
    assert [p["key"] for p in data["payers"]] == ["compulsory_insurer:甲", "commercial_insurer:甲", "liable_party:甲"]
    assert data["items"][2] == {
        "kind": "emotional_distress",
        "label": "精神损害抚慰金",
        "category": "death_disability",
        "amount": "50000.00",
        "note": "",
        "parts": {"compulsory_insurer:甲": "9000.00", "commercial_insurer:甲": "0.00", "liable_party:甲": "41000.00"},
    }
    assert data["explanation"] == list(split.explanation)


# --------------------------------------------------------------------------- properties

_amounts = st.one_of(st.integers(0, 10_000), st.integers(0, 50_000_000), st.integers(0, 20_000_000_000))
_limits = st.one_of(
    st.just(COMPULSORY_LIMITS_2020),
    st.builds(
        lambda a, b: CompulsoryLimits(
            date(2020, 9, 19), CategoryLimits(*map(Money, a)), CategoryLimits(*map(Money, b))
        ),
        st.tuples(_amounts, _amounts, _amounts),
        st.tuples(_amounts, _amounts, _amounts),
    ),
)
_deductibles = st.one_of(st.integers(0, 100), st.integers(0, 10_000).map(lambda n: Decimal(n) / 100))


@st.composite
def claims(draw: st.DrawFn) -> AccidentClaim:
    items = tuple(Item(draw(st.sampled_from(ItemKind)), Money(draw(_amounts))) for _ in range(draw(st.integers(1, 8))))
    n = draw(st.integers(1, 4))
    with_victim = draw(st.booleans())
    # Shares: cut 10,000 basis points at random places into n (+1 for the victim) parts.
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=n - 1 + with_victim, max_size=n - 1 + with_victim)))
    points = [0, *cuts, 10_000]
    shares = [Decimal(b - a) / 100 for a, b in zip(points, points[1:], strict=False)]
    vehicles = tuple(
        Vehicle(
            f"p{k}",
            shares[k],
            draw(st.none() | st.builds(CompulsoryPolicy, st.sampled_from(["A", "B"]), _limits)),
            draw(
                st.none()
                | st.builds(
                    CommercialPolicy,
                    st.sampled_from(["A", "B"]),
                    _amounts.map(Money),
                    _deductibles,
                    st.booleans(),
                )
            ),
            draw(st.sampled_from([None, True, False])),
        )
        for k in range(n)
    )
    return AccidentClaim(items, vehicles, shares[n] if with_victim else 0, draw(st.booleans()))


@settings(max_examples=400, deadline=None)
@given(claims())
def test_split_properties(claim: AccidentClaim) -> None:
    split = calculate(claim)
    # Every item's parts sum exactly to the item; nobody pays a negative amount.
    for line in split.lines:
        assert sum(m.fen for m in line.parts) == line.item.amount.fen
        assert all(m.fen >= 0 for m in line.parts)
    # Every payer's total is the sum of its rows, in every representation.
    totals = split.totals
    for j in range(len(split.payers)):
        assert totals[j].fen == sum(line.parts[j].fen for line in split.lines)
    data = split.as_dict()
    for p in data["payers"]:
        assert Decimal(p["total"]) == sum((Decimal(i["parts"][p["key"]]) for i in data["items"]), Decimal(0))
    rows = split.as_rows()
    assert rows[-1][3:] == [str(t) for t in totals]
    # The grand total is the sum of the items, and of the payers' totals.
    assert split.grand_total.fen == sum(i.amount.fen for i in claim.items) == sum(t.fen for t in totals)

    remainder = split.grand_total.fen - split.paid_by(C).fen
    for v in claim.vehicles:
        share = Fraction(v.liability_share)
        at_fault = v.driver_at_fault if v.driver_at_fault is not None else share > 0
        # A compulsory insurer never pays more than its sub-limit in any category, nor outside them.
        if v.compulsory is not None:
            limits = v.compulsory.limits.for_driver(at_fault)
            for category in Category:
                paid = sum(
                    part(split, i, C, v.party_id).fen for i, line in enumerate(split.lines) if line.category is category
                )
                assert paid <= limits.of(category).fen
        # A commercial insurer never pays more than its limit, nor for emotional distress without the add-on.
        if v.commercial is not None:
            assert split.paid_by(B, v.party_id) <= v.commercial.limit
            if not v.commercial.covers_emotional_distress:
                for i, line in enumerate(split.lines):
                    if line.item.kind is ItemKind.EMOTIONAL_DISTRESS:
                        assert part(split, i, B, v.party_id) == Money(0)
        # Each party bears its liability share of what compulsory insurance left, to within a fen.
        borne = split.paid_by(B, v.party_id).fen + split.paid_by(P, v.party_id).fen
        assert abs(borne - remainder * share / 100) < 1
    assert abs(split.paid_by(V).fen - remainder * Fraction(claim.victim_share) / 100) < 1
    # The compulsory insurers together pay all they can in each category.
    for category in (Category.MEDICAL, Category.DEATH_DISABILITY, Category.PROPERTY):
        loss = sum(line.item.amount.fen for line in split.lines if line.category is category)
        cap = sum(
            v.compulsory.limits.for_driver(
                v.driver_at_fault if v.driver_at_fault is not None else Fraction(v.liability_share) > 0
            )
            .of(category)
            .fen
            for v in claim.vehicles
            if v.compulsory is not None
        )
        paid = sum(
            m.fen
            for line in split.lines
            if line.category is category
            for payer, m in zip(split.payers, line.parts, strict=True)
            if payer.role is C
        )
        assert paid == min(loss, cap)


@given(st.integers(0, 10**12), st.lists(st.integers(0, 10**6), min_size=1, max_size=8))
def test_allocate_properties(total: int, weights: list[int]) -> None:
    if sum(weights) == 0:
        weights = [*weights[:-1], 1]
    parts = allocate(total, weights)
    assert sum(parts) == total
    for p, w in zip(parts, weights, strict=True):
        exact = Fraction(total * w, sum(weights))
        assert exact - 1 < p < exact + 1


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "医疗费 (medical): the amount must not be negative"),
        (Decimal("-0.01"), "医疗费 (medical): the amount must not be negative"),
        ("1.234", "医疗费 (medical): the amount has more than 2 decimal places"),
        (Decimal("0.001"), "医疗费 (medical): the amount has more than 2 decimal places"),
        (Decimal("NaN"), "医疗费 (medical): the amount is not a number"),
        (Decimal("Infinity"), "医疗费 (medical): the amount must be finite"),
        ("NaN", "医疗费 (medical): not an amount of money"),
        ("1,0000", "医疗费 (medical): not an amount of money"),
        ("", "医疗费 (medical): not an amount of money"),
        ("2,000,000,000", "医疗费 (medical): the amount is more than 1,000,000,000 yuan"),
        (Decimal("1E+100000"), "医疗费 (medical): the amount is more than"),
        (1.5, "医疗费 (medical): a float cannot hold money exactly"),
        (100, "医疗费 (medical): give yuan as text or Decimal"),
    ],
)
def test_bad_amounts_are_refused_naming_the_item(amount: object, message: str) -> None:
    with pytest.raises(InvalidCommand) as err:
        Item.parse("medical", amount)  # type: ignore[arg-type]
    assert str(err.value).startswith(message)


def test_money_refuses_negative_fen() -> None:
    with pytest.raises(InvalidCommand, match="must not be negative"):
        Money(-1)
    with pytest.raises(InvalidCommand, match="残疾赔偿金: the amount must not be negative"):
        Money.from_fen(-1, "残疾赔偿金")
    with pytest.raises(InvalidCommand, match="whole number"):
        Money.from_fen(True)


def test_unknown_item_kind_is_refused() -> None:
    with pytest.raises(InvalidCommand, match=r"Unknown compensation item kind; expected one of: medical \(医疗费\)"):
        Item.parse("hospital", "100")
    with pytest.raises(InvalidCommand, match="Unknown compensation item kind"):
        Item("hospital", Money(1))  # type: ignore[arg-type]
    with pytest.raises(InvalidCommand, match="kind must be an ItemKind; use Item.parse"):
        Item("medical", Money(1))  # type: ignore[arg-type]
    with pytest.raises(InvalidCommand, match="use Item.parse"):
        Item(ItemKind.MEDICAL, "100")  # type: ignore[arg-type]


def _claim(*vehicles: Vehicle, victim: object = 0, items: tuple[Item, ...] | None = None) -> AccidentClaim:
    return AccidentClaim(items or (Item.parse("medical", "100"),), vehicles, victim)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        (_claim(Vehicle("甲", 70), Vehicle("乙", 20)), "add up to 90%"),
        (_claim(Vehicle("甲", 70), victim=40), "add up to 110%"),
        (_claim(Vehicle("甲", Decimal("33.33")), Vehicle("乙", Decimal("66.66"))), "add up to 99.99%"),
        (_claim(Vehicle("甲", 120)), "Vehicle 1: liability share: a percentage must be between 0 and 100"),
        (_claim(Vehicle("甲", -10), victim=110), "Vehicle 1: liability share: a percentage must be between"),
        (
            _claim(Vehicle("甲", 70.0), victim=30),  # type: ignore[arg-type]
            "Vehicle 1: liability share: give a percentage as an int or Decimal",
        ),
        (_claim(Vehicle("甲", Decimal("NaN"))), "Vehicle 1: liability share: the percentage must be a finite number"),
        (
            _claim(Vehicle("甲", "100")),  # type: ignore[arg-type]
            "Vehicle 1: liability share: a percentage must be an int or Decimal",
        ),
        (_claim(Vehicle("甲", 100), victim=True), "The victim's share: give a percentage as an int or Decimal"),
        (_claim(Vehicle("甲", 50), Vehicle("甲", 50)), "Vehicle 2: two vehicles have the same party id"),
        (_claim(Vehicle(" ", 100)), "Vehicle 1 has no party id"),
        (_claim(), "The claim names no vehicle"),
        (AccidentClaim((), (Vehicle("甲", 100),)), "The claim has no items"),
        (
            _claim(Vehicle("甲", 100, commercial=CommercialPolicy("B", Money(1), deductible_percent=150))),
            "Vehicle 1: commercial deductible: a percentage must be between 0 and 100",
        ),
        (
            _claim(Vehicle("甲", 100, commercial=CommercialPolicy("B", Money(10**15)))),
            "Vehicle 1: commercial limit: the amount is more than",
        ),
        (
            _claim(Vehicle("甲", 100), items=(Item(ItemKind.DEATH, Money(10**15)),)),
            "死亡赔偿金 (death): the amount is more",
        ),
    ],
)
def test_bad_claims_are_refused(claim: AccidentClaim, message: str) -> None:
    with pytest.raises(InvalidCommand) as err:
        calculate(claim)
    assert message in str(err.value)


def test_messages_do_not_echo_input() -> None:
    with pytest.raises(InvalidCommand) as err:
        Item.parse("medical", "-31415.92")
    assert "31415" not in str(err.value)
