"""The compensation calculator (理赔计算器): total a traffic-accident claim and split it among the payers.

A pure module: no I/O, no clock, no framework. The mediator's agreement draft
calls :func:`calculate` with an :class:`AccidentClaim` (the itemised loss, the
vehicles with their liability shares and policies, the victim's own share) and
gets a :class:`Split`: who pays what, item by item, with one explanation line
per step that can go into the agreement.

Money is exact: :class:`Money` holds whole fen (分, 0.01 yuan); nothing here
touches a float.

The rules, in the order Chinese courts apply them
(民法典 第1213条; 最高人民法院《关于审理道路交通事故损害赔偿案件适用法律若干问题的解释》,
法释〔2012〕19号 as amended by 法释〔2020〕17号, called "the Interpretation" below):

1. **Compulsory insurance (交强险) pays first**, per category, within the policy's
   sub-limits (《机动车交通事故责任强制保险条款》 第8条; limits since 2020-09-19:
   death/disability 180,000, medical 18,000, property 2,000 yuan; where the
   insured driver bears no liability, 18,000 / 1,800 / 100 yuan). Each item
   kind belongs to one category (:data:`ItemKind.category`); the appraisal fee
   (鉴定费) and "other" items are outside compulsory insurance. It pays
   regardless of the victim's own fault (道路交通安全法 第76条).

   * Several vehicles, each with its own compulsory policy: in each category
     the insurers together pay up to the sum of their limits, and the amount
     paid is divided **in proportion to each policy's limit in that category**
     (the Interpretation, art. 18 para. 1). With all drivers at fault this is
     an equal split; a no-fault vehicle (limit 1/10) carries 1/11 of it next to
     one at-fault vehicle. Shares are rounded to fen by the largest-remainder
     method, so no insurer ever exceeds its limit.
   * Emotional distress (精神损害抚慰金) is paid first out of the
     death/disability limit when the victim asks for it (the Interpretation,
     art. 13 para. 2): :attr:`AccidentClaim.emotional_distress_first`, on by
     default. Otherwise, and for the other items of a category, the amount paid
     is spread over the items in proportion to their amounts.
   * An uninsured motor vehicle's owner owes within the compulsory limits as if
     insured (the Interpretation, art. 16): model that with a
     :class:`CompulsoryPolicy` whose ``insurer`` names the owner.

2. **The remainder is divided by liability shares** (责任比例: 道路交通安全法
   第76条; 民法典 第1173条 for the victim's own fault). The vehicles' shares and
   the victim's share add up to exactly 100; the victim's part is what the
   victim does not recover (受害人自负). The remainder is split in total first,
   then item by item, so each party's total is the largest-remainder share of
   the whole remainder.

3. **Each party's part is paid by its commercial third-party insurer
   (商业三者险)** up to the policy's limit, less an optional absolute deductible
   percentage (绝对免赔率): ``min(part, limit) × (100 − deductible)%``; the
   rest is paid by the party itself. Emotional distress is excluded from
   commercial third-party cover unless the 附加精神损害抚慰金责任险 add-on was
   bought (the 2020 model clauses), hence
   :attr:`CommercialPolicy.covers_emotional_distress` (off by default).

**Rounding.** Whenever an amount is divided (among insurers, among items,
among liable parties, between insurer and deductible) it is allocated by the
largest-remainder method (:func:`allocate`): every part gets the floor of its
exact quota, and the fen left over go one each to the largest fractional
remainders, ties to the earlier part. Where a table must match both its row
totals (items) and its column totals (payers), rows are filled one at a time
in proportion to what each column still has to take (:func:`_fill`), so both
add up exactly. Nothing is ever lost or created: every item's parts sum to the
item, and the payers' totals sum to the claim.

**Out of scope.** Several victims sharing one compulsory policy's limits (each
victim's claim is calculated as if it were the only one); the tractor-and-
trailer rule (the Interpretation, art. 18 para. 2); an insurer recovering from
the insured (追偿); joint and several liability (连带责任) between the parties;
the figures behind each item (province, income, disability grade): items come
in as amounts.

The explanation lines are in Chinese, as they go into the agreement. In
English they read:

* ``第一步（交强险·<category>）：损失 A 元，交强险限额合计 L 元，赔付 P 元：…`` --
  Step 1 (compulsory insurance, <category>): loss A yuan, compulsory limits
  L yuan in all, paid P yuan: <each insurer, with its limit, pays x yuan>;
  several insurers add "shared in proportion to the limits (art. 18)".
* ``精神损害抚慰金 E 元在死亡伤残限额内优先赔付（《解释》第十三条）。`` --
  emotional distress of E yuan is paid first within the death/disability limit (art. 13).
* ``<items> 合计 A 元不属于交强险赔偿范围（交强险外）。`` --
  <items> of A yuan in all are outside compulsory insurance.
* ``第一步（交强险）：无交强险保单。`` -- Step 1: there is no compulsory policy.
* ``第二步（责任比例）：交强险赔付后剩余 R 元，按责任比例分担：甲 70% 承担 a 元；…`` --
  Step 2 (liability shares): R yuan remain after compulsory insurance,
  divided by liability: party 甲 at 70% bears a yuan; …; the victim's own
  share (受害人自负) at s% is c yuan.
* ``第三步（商业三者险）：甲应承担 a 元，B 在限额 L 元内赔付 c 元（绝对免赔率 d%，免赔 x 元），其余 e 元由甲自行承担。`` --
  Step 3 (commercial insurance): party 甲 bears a yuan; insurer B pays c yuan
  within its limit L (deductible d%, x yuan); the other e yuan 甲 pays itself.
  Without a policy: ``第三步：甲无商业三者险，应承担的 a 元由甲自行承担。``
* ``合计：损失 T 元，受害人获赔 G 元。`` -- Total: loss T yuan, the victim recovers G yuan.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from server.errors import InvalidCommand

MAX_YUAN = 1_000_000_000
"""The largest amount (in yuan) accepted for one item or one policy limit: anything above is a typo."""

_MAX_FEN = MAX_YUAN * 100
_FEN = Decimal("0.01")
_AMOUNT = re.compile(r"(?:\d{1,3}(?:,\d{3}){1,5}|\d{1,16})(?:\.\d{1,8})?")

Percent = int | Decimal | Fraction
"""A percentage: an int, a finite Decimal or a Fraction (e.g. ``Fraction(100, 3)`` for a third); never a float."""


# --------------------------------------------------------------------------- money


@dataclass(frozen=True, order=True)
class Money:
    """An exact, non-negative sum of money in whole fen (分).

    Build it with :meth:`parse` (yuan as text or Decimal) or :meth:`from_fen`;
    ``str(m)`` is ``"12,345.67"``, :meth:`plain` is ``"12345.67"``.
    """

    fen: int
    """The amount in fen: 1 yuan is 100 fen."""

    def __post_init__(self) -> None:
        if isinstance(self.fen, bool) or not isinstance(self.fen, int):
            raise InvalidCommand("An amount of money must be a whole number of fen")
        if self.fen < 0:
            raise InvalidCommand("An amount of money must not be negative")

    @classmethod
    def parse(cls, value: str | Decimal | Money, what: str = "amount") -> Money:
        """Read yuan: ``"12,345.67"``, ``"12345.67元"``, ``"¥12345"`` or ``Decimal("12345.67")``.

        Refuses (with :class:`InvalidCommand` naming ``what``) negative amounts,
        NaN and infinity, fractions of a fen, amounts above :data:`MAX_YUAN`,
        malformed text, floats and ints (an int is ambiguous: use
        :meth:`from_fen` for fen, or text/Decimal for yuan). Trailing zeros
        past the fen are harmless: ``"1.230"`` is 1.23 yuan.
        """
        if isinstance(value, Money):
            _check_limit(value.fen, what)
            return value
        if isinstance(value, str):
            return cls._parse_text(value, what)
        if isinstance(value, Decimal):
            return cls._from_decimal(value, what)
        if isinstance(value, bool | int):
            raise InvalidCommand(
                f"{what}: give yuan as text or Decimal (an int is ambiguous; use Money.from_fen for fen)"
            )
        if isinstance(value, float):
            raise InvalidCommand(f"{what}: a float cannot hold money exactly; give text or Decimal")
        raise InvalidCommand(f"{what}: expected an amount of money as text or Decimal")

    @classmethod
    def from_fen(cls, fen: int, what: str = "amount") -> Money:
        """Money from a whole number of fen, checked like :meth:`parse`."""
        if isinstance(fen, bool) or not isinstance(fen, int):
            raise InvalidCommand(f"{what}: fen must be a whole number")
        if fen < 0:
            raise InvalidCommand(f"{what}: the amount must not be negative")
        _check_limit(fen, what)
        return cls(fen)

    @classmethod
    def _parse_text(cls, text: str, what: str) -> Money:
        s = text.strip()
        s = s.removeprefix("¥").removeprefix("￥").removesuffix("元").strip()
        if s.startswith("-"):
            raise InvalidCommand(f"{what}: the amount must not be negative")
        if not _AMOUNT.fullmatch(s):
            raise InvalidCommand(f'{what}: not an amount of money; write yuan like "12,345.67" or "12345.67元"')
        return cls._from_decimal(Decimal(s.replace(",", "")), what)

    @classmethod
    def _from_decimal(cls, value: Decimal, what: str) -> Money:
        if value.is_nan():
            raise InvalidCommand(f"{what}: the amount is not a number")
        if value.is_infinite():
            raise InvalidCommand(f"{what}: the amount must be finite")
        if value < 0:
            raise InvalidCommand(f"{what}: the amount must not be negative")
        if value > MAX_YUAN:
            raise InvalidCommand(f"{what}: the amount is more than {MAX_YUAN:,} yuan")
        if value != value.quantize(_FEN):
            raise InvalidCommand(f"{what}: the amount has more than 2 decimal places (a fraction of a fen)")
        return cls(int(value.scaleb(2)))

    @property
    def yuan(self) -> Decimal:
        """The amount in yuan, exactly, with two decimal places."""
        return Decimal(self.fen).scaleb(-2)

    def plain(self) -> str:
        """``"12345.67"``: for JSON and machines."""
        return f"{self.yuan:.2f}"

    def __str__(self) -> str:
        """``"12,345.67"``: for people and documents."""
        return f"{self.yuan:,.2f}"

    def __add__(self, other: Money) -> Money:
        return Money(self.fen + other.fen)


ZERO = Money(0)
"""No money."""


def _yuan(amount: int) -> Money:
    return Money(amount * 100)


def _check_limit(fen: int, what: str) -> None:
    if fen > _MAX_FEN:
        raise InvalidCommand(f"{what}: the amount is more than {MAX_YUAN:,} yuan")


_MAX_PERCENT_DIGITS = 9
"""Digits a percentage may have (100.000000 at most): bounds the cost of exact arithmetic on it."""


def _percent(value: object, what: str) -> Fraction:
    """Read a percentage in [0, 100] exactly."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidCommand(f"{what}: give a percentage as an int or Decimal, not a float")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidCommand(f"{what}: the percentage must be a finite number")
        digits, exponent = value.as_tuple()[1:]
        if len(digits) > _MAX_PERCENT_DIGITS or not -_MAX_PERCENT_DIGITS <= int(exponent) <= 2:
            # Fraction(Decimal("1e-300000")) builds a 300,000-digit denominator: seconds of CPU
            raise InvalidCommand(f"{what}: a percentage has at most {_MAX_PERCENT_DIGITS} digits")
        result = Fraction(value)
    elif isinstance(value, int | Fraction):
        result = Fraction(value)
    else:
        raise InvalidCommand(f"{what}: a percentage must be an int or Decimal")
    if not 0 <= result <= 100:
        raise InvalidCommand(f"{what}: a percentage must be between 0 and 100")
    return result


def _pct(value: Fraction) -> str:
    """``70%``, ``33.5%`` or ``约33.33%`` (approximately) for a percentage."""
    if value.denominator == 1:
        return f"{value.numerator}%"
    rounded = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(_FEN)
    text = f"{rounded:f}".rstrip("0").rstrip(".")
    return f"{text}%" if Fraction(rounded) == value else f"约{text}%"


# --------------------------------------------------------------------------- allocation


def allocate(total: int, weights: Sequence[int | Fraction]) -> list[int]:
    """Divide ``total`` (whole units, e.g. fen) in proportion to ``weights`` by the largest-remainder method.

    Each part gets the floor of its exact quota ``total × w / Σw``; the units
    left over go one each to the parts with the largest fractional remainders,
    ties to the earlier part. The parts always sum to ``total``, and a part
    never exceeds the ceiling of its quota. ``allocate(10001, [1, 1, 1])`` is
    ``[3334, 3334, 3333]``. Weights must not be negative; if they are all zero
    the total must be zero.
    """
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("allocate needs a non-negative total and weights")
    whole = sum(weights, Fraction(0))
    if whole == 0:
        if total:
            raise ValueError("cannot allocate a non-zero total over zero weights")
        return [0] * len(weights)
    quotas = [Fraction(total) * w / whole for w in weights]
    parts = [q.numerator // q.denominator for q in quotas]
    left = total - sum(parts)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts


def _fill(rows: Sequence[int], columns: Sequence[int]) -> list[list[int]]:
    """A table of whole numbers whose rows sum to ``rows`` and columns to ``columns``.

    Each row is allocated in proportion to what each column still has to take,
    so no cell exceeds its column's remainder and the last row takes exactly
    what is left: both margins hold exactly, and the cells stay close to
    ``row × column / total``.
    """
    if sum(rows) != sum(columns):
        raise ValueError("row and column totals differ")
    remaining = list(columns)
    table: list[list[int]] = []
    for row in rows:
        cells = allocate(row, remaining)
        remaining = [r - c for r, c in zip(remaining, cells, strict=True)]
        table.append(cells)
    return table


# --------------------------------------------------------------------------- items and limits


class Category(enum.StrEnum):
    """The compulsory-insurance (交强险) category an item is paid under."""

    DEATH_DISABILITY = "death_disability"
    MEDICAL = "medical"
    PROPERTY = "property"
    OUTSIDE = "outside"
    """Not paid by compulsory insurance at all ("outside compulsory insurance")."""

    @property
    def label(self) -> str:
        """The Chinese name: 死亡伤残, 医疗费用, 财产损失, 交强险外."""
        return _CATEGORY_LABELS[self]


_CATEGORY_LABELS = {
    Category.DEATH_DISABILITY: "死亡伤残",
    Category.MEDICAL: "医疗费用",
    Category.PROPERTY: "财产损失",
    Category.OUTSIDE: "交强险外",
}


class ItemKind(enum.StrEnum):
    """A head of compensation (民法典 第1179条, 第1183条, 第1184条; the personal-injury Interpretation)."""

    MEDICAL = "medical"
    LOST_INCOME = "lost_income"
    NURSING = "nursing"
    TRANSPORT = "transport"
    ACCOMMODATION = "accommodation"
    HOSPITAL_FOOD = "hospital_food"
    NUTRITION = "nutrition"
    DISABILITY = "disability"
    DISABILITY_AIDS = "disability_aids"
    DEPENDANTS = "dependants"
    DEATH = "death"
    FUNERAL = "funeral"
    EMOTIONAL_DISTRESS = "emotional_distress"
    PROPERTY = "property"
    APPRAISAL = "appraisal"
    OTHER = "other"

    @property
    def label(self) -> str:
        """The Chinese name, e.g. 医疗费."""
        return _KINDS[self][0]

    @property
    def category(self) -> Category:
        """The compulsory-insurance category it is paid under."""
        return _KINDS[self][1]

    @classmethod
    def parse(cls, value: str | ItemKind) -> ItemKind:
        """An item kind from its code (``"medical"``) or Chinese name (``"医疗费"``)."""
        if isinstance(value, ItemKind):
            return value
        if isinstance(value, str):
            text = value.strip()
            for kind in cls:
                if text in (kind.value, kind.label):
                    return kind
        expected = ", ".join(f"{k.value} ({k.label})" for k in cls)
        raise InvalidCommand(f"Unknown compensation item kind; expected one of: {expected}")


_D, _M, _P, _O = Category.DEATH_DISABILITY, Category.MEDICAL, Category.PROPERTY, Category.OUTSIDE
_KINDS: dict[ItemKind, tuple[str, Category]] = {
    ItemKind.MEDICAL: ("医疗费", _M),
    ItemKind.LOST_INCOME: ("误工费", _D),
    ItemKind.NURSING: ("护理费", _D),
    ItemKind.TRANSPORT: ("交通费", _D),
    ItemKind.ACCOMMODATION: ("住宿费", _D),
    ItemKind.HOSPITAL_FOOD: ("住院伙食补助费", _M),
    ItemKind.NUTRITION: ("营养费", _M),
    ItemKind.DISABILITY: ("残疾赔偿金", _D),
    ItemKind.DISABILITY_AIDS: ("残疾辅助器具费", _D),
    ItemKind.DEPENDANTS: ("被扶养人生活费", _D),
    ItemKind.DEATH: ("死亡赔偿金", _D),
    ItemKind.FUNERAL: ("丧葬费", _D),
    ItemKind.EMOTIONAL_DISTRESS: ("精神损害抚慰金", _D),
    ItemKind.PROPERTY: ("财产损失", _P),
    ItemKind.APPRAISAL: ("鉴定费", _O),
    ItemKind.OTHER: ("其他", _O),
}
"""Chinese name and compulsory-insurance category of every kind (交强险条款 第8条)."""


@dataclass(frozen=True)
class Item:
    """One head of the claim: what it is and how much."""

    kind: ItemKind
    """What it is."""
    amount: Money
    """How much the victim claims (agreed in mediation) under this head."""
    note: str = ""
    """Free text shown next to the item, e.g. the basis: ``"住院 15 天 × 100 元"``."""

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ItemKind):
            ItemKind.parse(self.kind)  # names the valid kinds if it is unknown
            raise InvalidCommand("An item's kind must be an ItemKind; use Item.parse for text")
        if not isinstance(self.amount, Money):
            raise InvalidCommand(f"{self.what}: the amount must be Money; use Item.parse for text or Decimal")

    @classmethod
    def parse(cls, kind: str | ItemKind, amount: str | Decimal | Money, note: str = "") -> Item:
        """An item from loose input: ``Item.parse("医疗费", "30,000")``."""
        parsed = ItemKind.parse(kind)
        return cls(parsed, Money.parse(amount, f"{parsed.label} ({parsed.value})"), note)

    @property
    def what(self) -> str:
        """How messages name it: ``医疗费 (medical)``."""
        return f"{self.kind.label} ({self.kind.value})"


@dataclass(frozen=True)
class CategoryLimits:
    """One set of compulsory-insurance sub-limits per category (分项责任限额)."""

    death_disability: Money
    """死亡伤残赔偿限额."""
    medical: Money
    """医疗费用赔偿限额."""
    property: Money
    """财产损失赔偿限额."""

    def of(self, category: Category) -> Money:
        """The limit for ``category``; nothing for items outside compulsory insurance."""
        if category is Category.DEATH_DISABILITY:
            return self.death_disability
        if category is Category.MEDICAL:
            return self.medical
        if category is Category.PROPERTY:
            return self.property
        return ZERO


@dataclass(frozen=True)
class CompulsoryLimits:
    """A table of compulsory-insurance limits, as fixed by the regulator from a given date."""

    effective_from: date
    """The first accident date the table applies to."""
    at_fault: CategoryLimits
    """Limits where the insured vehicle's driver bears some liability (有责)."""
    no_fault: CategoryLimits
    """Limits where the insured vehicle's driver bears no liability (无责)."""

    def for_driver(self, at_fault: bool) -> CategoryLimits:
        """The limits that apply to an at-fault or a no-fault driver."""
        return self.at_fault if at_fault else self.no_fault


COMPULSORY_LIMITS_2020 = CompulsoryLimits(
    effective_from=date(2020, 9, 19),
    at_fault=CategoryLimits(death_disability=_yuan(180_000), medical=_yuan(18_000), property=_yuan(2_000)),
    no_fault=CategoryLimits(death_disability=_yuan(18_000), medical=_yuan(1_800), property=_yuan(100)),
)
"""The limits since the 2020 reform (银保监发〔2020〕41号), in force from 2020-09-19."""


@dataclass(frozen=True)
class CompulsoryPolicy:
    """A compulsory third-party liability policy (交强险) on one vehicle."""

    insurer: str
    """Who pays under it, as the agreement names them (e.g. ``"中国人保 某支公司"``).

    For an uninsured vehicle, whose owner owes within the limits as if insured
    (the Interpretation, art. 16), name the owner here.
    """
    limits: CompulsoryLimits = COMPULSORY_LIMITS_2020
    """The limits table in force on the accident date."""


@dataclass(frozen=True)
class CommercialPolicy:
    """A commercial third-party liability policy (商业三者险) on one vehicle."""

    insurer: str
    """Who pays under it, as the agreement names them."""
    limit: Money
    """The policy's limit per accident (每次事故责任限额), e.g. 1,000,000 yuan."""
    deductible_percent: Percent = 0
    """Absolute deductible (绝对免赔率) in percent of what the policy would pay; 0 for none."""
    covers_emotional_distress: bool = False
    """True if the 附加精神损害抚慰金责任险 add-on covers emotional distress; the base policy does not."""


@dataclass(frozen=True)
class Vehicle:
    """One liable party: a vehicle's side of the accident, with its share and its policies."""

    party_id: str
    """How the agreement names the party (e.g. ``"甲"`` or a participant's display name); unique per claim."""
    liability_share: Percent
    """Its liability share (责任比例) in percent: 100 full, 70 main, 30 secondary, 0 none."""
    compulsory: CompulsoryPolicy | None = None
    """Its compulsory policy; None if there is none (e.g. a non-motor vehicle)."""
    commercial: CommercialPolicy | None = None
    """Its commercial third-party policy, if any."""
    driver_at_fault: bool | None = None
    """Whether the insured driver bears liability, which picks the compulsory limits.

    None (the default) means "at fault if the liability share is above 0".
    Set False for a driver found without fault who still bears a share (up to
    10% towards a pedestrian, 道路交通安全法 第76条 第1款 第2项).
    """


@dataclass(frozen=True)
class AccidentClaim:
    """One victim's claim against the vehicles of one accident."""

    items: tuple[Item, ...]
    """The heads of compensation, in the order the agreement lists them."""
    vehicles: tuple[Vehicle, ...]
    """The liable parties (and no-fault vehicles whose compulsory insurer pays)."""
    victim_share: Percent = 0
    """The victim's own share of liability in percent; with the vehicles' shares it adds up to 100."""
    emotional_distress_first: bool = True
    """Whether the victim asks for emotional distress to be paid first from the death/disability limit."""


# --------------------------------------------------------------------------- the result


class PayerRole(enum.StrEnum):
    """Why a payer pays."""

    COMPULSORY_INSURER = "compulsory_insurer"
    COMMERCIAL_INSURER = "commercial_insurer"
    LIABLE_PARTY = "liable_party"
    VICTIM = "victim"
    """The victim's own share: not recovered from anyone."""


@dataclass(frozen=True)
class Payer:
    """One column of the split: an insurer under one vehicle's policy, a party, or the victim."""

    role: PayerRole
    """Why it pays."""
    party_id: str = ""
    """The vehicle's party (empty for the victim)."""
    insurer: str = ""
    """The insurer's name, for the insurer roles."""

    @property
    def key(self) -> str:
        """A stable key: ``compulsory_insurer:甲``, ``liable_party:乙``, ``victim``."""
        return self.role.value if self.role is PayerRole.VICTIM else f"{self.role.value}:{self.party_id}"

    @property
    def label(self) -> str:
        """The column heading, in Chinese."""
        if self.role is PayerRole.COMPULSORY_INSURER:
            return f"{self.insurer}（{self.party_id}交强险）"
        if self.role is PayerRole.COMMERCIAL_INSURER:
            return f"{self.insurer}（{self.party_id}商业三者险）"
        if self.role is PayerRole.LIABLE_PARTY:
            return f"{self.party_id}（自行承担）"
        return "受害人自负"


@dataclass(frozen=True)
class ItemSplit:
    """One item and what each payer pays of it."""

    item: Item
    """The item."""
    parts: tuple[Money, ...]
    """One amount per payer, in the order of :attr:`Split.payers`; they sum to the item's amount."""

    @property
    def category(self) -> Category:
        """The item's compulsory-insurance category."""
        return self.item.kind.category


@dataclass(frozen=True)
class Split:
    """Who pays what: the result of :func:`calculate`."""

    payers: tuple[Payer, ...]
    """The columns: compulsory insurers, commercial insurers, liable parties, the victim (if at fault)."""
    lines: tuple[ItemSplit, ...]
    """One line per item, in the claim's order."""
    explanation: tuple[str, ...]
    """How the figures came about, one line per step, in Chinese (see the module docstring)."""

    @property
    def totals(self) -> tuple[Money, ...]:
        """Each payer's total, in the order of :attr:`payers`."""
        return tuple(Money(sum(line.parts[j].fen for line in self.lines)) for j in range(len(self.payers)))

    @property
    def grand_total(self) -> Money:
        """The whole claim: the sum of the items."""
        return Money(sum(line.item.amount.fen for line in self.lines))

    @property
    def recovered(self) -> Money:
        """What the victim recovers: the whole claim less the victim's own share."""
        return Money(self.grand_total.fen - self.paid_by(PayerRole.VICTIM).fen)

    def paid_by(self, role: PayerRole, party_id: str | None = None) -> Money:
        """What payers in ``role`` pay in all (only ``party_id``'s, if given)."""
        return Money(
            sum(
                total.fen
                for payer, total in zip(self.payers, self.totals, strict=True)
                if payer.role is role and (party_id is None or payer.party_id == party_id)
            )
        )

    def as_rows(self) -> list[list[str]]:
        """The table as strings, ready to print: a header, one row per item, and a totals row.

        Columns: item (with its note), compulsory category, amount, one per
        payer; money as ``"12,345.67"``.
        """
        header = ["赔偿项目", "交强险分项", "金额（元）", *(p.label for p in self.payers)]
        rows = [header]
        for line in self.lines:
            name = line.item.kind.label + (f"（{line.item.note}）" if line.item.note else "")
            rows.append([name, line.category.label, str(line.item.amount), *(str(m) for m in line.parts)])
        rows.append(["合计", "", str(self.grand_total), *(str(m) for m in self.totals)])
        return rows

    def as_dict(self) -> dict[str, Any]:
        """The split as JSON-ready values; money as plain strings (``"12345.67"``) in yuan."""
        return {
            "currency": "CNY",
            "payers": [
                {
                    "key": p.key,
                    "role": p.role.value,
                    "party_id": p.party_id,
                    "insurer": p.insurer,
                    "label": p.label,
                    "total": total.plain(),
                }
                for p, total in zip(self.payers, self.totals, strict=True)
            ],
            "items": [
                {
                    "kind": line.item.kind.value,
                    "label": line.item.kind.label,
                    "category": line.category.value,
                    "amount": line.item.amount.plain(),
                    "note": line.item.note,
                    "parts": {p.key: m.plain() for p, m in zip(self.payers, line.parts, strict=True)},
                }
                for line in self.lines
            ],
            "grand_total": self.grand_total.plain(),
            "recovered": self.recovered.plain(),
            "explanation": list(self.explanation),
        }


# --------------------------------------------------------------------------- the calculation


@dataclass(frozen=True)
class _Checked:
    """A claim whose numbers have been checked and read."""

    shares: tuple[Fraction, ...]
    """Each vehicle's liability share."""
    victim_share: Fraction
    """The victim's own share."""
    at_fault: tuple[bool, ...]
    """Whether each vehicle's driver is at fault (picks the compulsory limits)."""
    deductibles: tuple[Fraction, ...]
    """Each vehicle's commercial deductible percentage (0 without a policy)."""


def _check(claim: AccidentClaim) -> _Checked:
    if not isinstance(claim, AccidentClaim):
        raise InvalidCommand("Expected an AccidentClaim")
    if not claim.items:
        raise InvalidCommand("The claim has no items")
    for item in claim.items:
        if not isinstance(item, Item):
            raise InvalidCommand("Every item of the claim must be an Item")
        _check_limit(item.amount.fen, item.what)
    if not claim.vehicles:
        raise InvalidCommand("The claim names no vehicle (liable party)")
    seen: set[str] = set()
    shares: list[Fraction] = []
    at_fault: list[bool] = []
    deductibles: list[Fraction] = []
    for n, v in enumerate(claim.vehicles, start=1):
        if not isinstance(v, Vehicle):
            raise InvalidCommand(f"Vehicle {n} must be a Vehicle")
        if not isinstance(v.party_id, str) or not v.party_id.strip():
            raise InvalidCommand(f"Vehicle {n} has no party id")
        if v.party_id in seen:
            raise InvalidCommand(f"Vehicle {n}: two vehicles have the same party id")
        seen.add(v.party_id)
        share = _percent(v.liability_share, f"Vehicle {n}: liability share")
        shares.append(share)
        at_fault.append(share > 0 if v.driver_at_fault is None else bool(v.driver_at_fault))
        if v.compulsory is not None:
            limits = v.compulsory.limits
            for which, table in (("at-fault", limits.at_fault), ("no-fault", limits.no_fault)):
                for category in (Category.DEATH_DISABILITY, Category.MEDICAL, Category.PROPERTY):
                    limit = table.of(category)
                    what = f"Vehicle {n}: compulsory {which} {category.value} limit"
                    if not isinstance(limit, Money):
                        raise InvalidCommand(f"{what} must be Money")
                    _check_limit(limit.fen, what)
        deductible = Fraction(0)
        if v.commercial is not None:
            if not isinstance(v.commercial.limit, Money):
                raise InvalidCommand(f"Vehicle {n}: the commercial policy's limit must be Money")
            _check_limit(v.commercial.limit.fen, f"Vehicle {n}: commercial limit")
            deductible = _percent(v.commercial.deductible_percent, f"Vehicle {n}: commercial deductible")
        deductibles.append(deductible)
    victim = _percent(claim.victim_share, "The victim's share")
    total = sum(shares, victim)
    if total != 100:
        raise InvalidCommand(
            f"Liability shares must add up to 100%: the vehicles' and the victim's shares add up to {_pct(total)}"
        )
    return _Checked(tuple(shares), victim, tuple(at_fault), tuple(deductibles))


def calculate(claim: AccidentClaim) -> Split:
    """Split ``claim`` among its payers; see the module docstring for the rules.

    Raises :class:`InvalidCommand` for a claim that cannot be calculated: no
    items or vehicles, a bad amount or percentage, shares not adding up to 100,
    duplicate party ids.
    """
    checked = _check(claim)
    items = claim.items
    vehicles = claim.vehicles
    amounts = [item.amount.fen for item in items]

    payers: list[Payer] = []
    compulsory_col: dict[int, int] = {}
    commercial_col: dict[int, int] = {}
    party_col: dict[int, int] = {}
    for v_index, v in enumerate(vehicles):
        if v.compulsory is not None:
            compulsory_col[v_index] = len(payers)
            payers.append(Payer(PayerRole.COMPULSORY_INSURER, v.party_id, v.compulsory.insurer))
    for v_index, v in enumerate(vehicles):
        if v.commercial is not None:
            commercial_col[v_index] = len(payers)
            payers.append(Payer(PayerRole.COMMERCIAL_INSURER, v.party_id, v.commercial.insurer))
    for v_index, v in enumerate(vehicles):
        party_col[v_index] = len(payers)
        payers.append(Payer(PayerRole.LIABLE_PARTY, v.party_id))
    victim_col: int | None = None
    if checked.victim_share > 0:
        victim_col = len(payers)
        payers.append(Payer(PayerRole.VICTIM))

    cells = [[0] * len(payers) for _ in items]
    lines: list[str] = []

    # Step 1: compulsory insurance, category by category.
    if not compulsory_col:
        lines.append("第一步（交强险）：无交强险保单。")
    for category in (Category.MEDICAL, Category.DEATH_DISABILITY, Category.PROPERTY):
        idx = [i for i, item in enumerate(items) if item.kind.category is category]
        if not idx or not compulsory_col:
            continue
        loss = sum(amounts[i] for i in idx)
        policies = list(compulsory_col.items())
        limits = [_compulsory_limit(vehicles[v], checked.at_fault[v], category) for v, _ in policies]
        covered = min(loss, sum(limits))
        first = [
            i
            for i in idx
            if claim.emotional_distress_first
            and category is Category.DEATH_DISABILITY
            and items[i].kind is ItemKind.EMOTIONAL_DISTRESS
        ]
        rest = [i for i in idx if i not in first]
        first_paid = min(covered, sum(amounts[i] for i in first))
        per_item = dict(zip(first, allocate(first_paid, [amounts[i] for i in first]), strict=True))
        per_item.update(zip(rest, allocate(covered - first_paid, [amounts[i] for i in rest]), strict=True))
        per_policy = allocate(covered, limits)
        table = _fill([per_item[i] for i in idx], per_policy)
        for row, i in zip(table, idx, strict=True):
            for (_, col), value in zip(policies, row, strict=True):
                cells[i][col] = value
        shares_text = "；".join(
            f"{payers[col].insurer}（{payers[col].party_id}交强险，"
            f"{'有责' if checked.at_fault[v] else '无责'}限额 {Money(limit)} 元）赔付 {Money(paid)} 元"
            for (v, col), limit, paid in zip(policies, limits, per_policy, strict=True)
        )
        how = "，按各交强险限额比例分摊（《解释》第十八条）" if len(policies) > 1 else ""
        lines.append(
            f"第一步（交强险·{category.label}）：损失 {Money(loss)} 元，交强险限额合计 {Money(sum(limits))} 元，"
            f"赔付 {Money(covered)} 元{how}：{shares_text}。"
        )
        if first and first_paid:
            lines.append(f"精神损害抚慰金 {Money(first_paid)} 元在死亡伤残限额内优先赔付（《解释》第十三条）。")
    outside = [i for i, item in enumerate(items) if item.kind.category is Category.OUTSIDE]
    if outside:
        names = "、".join(dict.fromkeys(items[i].kind.label for i in outside))
        lines.append(f"{names} 合计 {Money(sum(amounts[i] for i in outside))} 元不属于交强险赔偿范围（交强险外）。")

    # Step 2: the remainder by liability shares.
    remainder = [amounts[i] - sum(cells[i]) for i in range(len(items))]
    share_cols = [party_col[v] for v in range(len(vehicles))]
    weights = list(checked.shares)
    if victim_col is not None:
        share_cols.append(victim_col)
        weights.append(checked.victim_share)
    borne = allocate(sum(remainder), weights)
    for i, row in enumerate(_fill(remainder, borne)):
        for col, value in zip(share_cols, row, strict=True):
            cells[i][col] = value
    parts_text = [
        f"{v.party_id} {_pct(share)} 承担 {Money(b)} 元"
        for v, share, b in zip(vehicles, checked.shares, borne, strict=False)
    ]
    if victim_col is not None:
        parts_text.append(f"受害人自负 {_pct(checked.victim_share)} 计 {Money(borne[-1])} 元")
    lines.append(
        f"第二步（责任比例）：交强险赔付后剩余 {Money(sum(remainder))} 元，按责任比例分担：{'；'.join(parts_text)}。"
    )

    # Step 3: each party's part through its commercial insurer.
    for v_index, v in enumerate(vehicles):
        own = party_col[v_index]
        due = borne[v_index]
        policy = v.commercial
        if not due:
            continue
        if policy is None:
            lines.append(f"第三步：{v.party_id}无商业三者险，应承担的 {Money(due)} 元由{v.party_id}自行承担。")
            continue
        col = commercial_col[v_index]
        covered_items = [
            i
            for i in range(len(items))
            if policy.covers_emotional_distress or items[i].kind is not ItemKind.EMOTIONAL_DISTRESS
        ]
        base = sum(cells[i][own] for i in covered_items)
        capped = min(base, policy.limit.fen)
        deductible = checked.deductibles[v_index]
        pay, kept = allocate(capped, [100 - deductible, deductible])
        for i, value in zip(covered_items, allocate(pay, [cells[i][own] for i in covered_items]), strict=True):
            cells[i][col] = value
            cells[i][own] -= value
        excluded = due - base
        note = f"（其中精神损害抚慰金 {Money(excluded)} 元不属于商业三者险赔偿范围）" if excluded else ""
        ded = f"（绝对免赔率 {_pct(deductible)}，免赔 {Money(kept)} 元）" if deductible else ""
        lines.append(
            f"第三步（商业三者险）：{v.party_id}应承担 {Money(due)} 元{note}，{policy.insurer}在限额 {policy.limit} 元内"
            f"赔付 {Money(pay)} 元{ded}，其余 {Money(due - pay)} 元由{v.party_id}自行承担。"
        )

    grand = sum(amounts)
    victim_part = 0 if victim_col is None else sum(row[victim_col] for row in cells)
    lines.append(f"合计：损失 {Money(grand)} 元，受害人获赔 {Money(grand - victim_part)} 元。")
    return Split(
        payers=tuple(payers),
        lines=tuple(ItemSplit(item, tuple(Money(c) for c in row)) for item, row in zip(items, cells, strict=True)),
        explanation=tuple(lines),
    )


def _compulsory_limit(vehicle: Vehicle, at_fault: bool, category: Category) -> int:
    assert vehicle.compulsory is not None
    return vehicle.compulsory.limits.for_driver(at_fault).of(category).fen
