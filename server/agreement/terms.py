"""The agreement's terms as the mediator drafts them, checked, and their canonical JSON.

The JSON form (what the API takes and what is stored beside each draft)::

    {"facts": "…",
     "claim": {"items": [{"kind": "医疗费", "amount": "30000.00", "note": "…"}],
               "vehicles": [{"party": "李四", "liability_share": 70, "driver_at_fault": null,
                             "compulsory": {"insurer": "…"},
                             "commercial": {"insurer": "…", "limit": "1000000", "deductible_percent": 0,
                                            "covers_emotional_distress": false}}],
               "victim_share": 0, "emotional_distress_first": true},
     "obligations": [{"payer": "…", "payee": "…", "amount": "12000.00", "due": "2026-12-31",
                      "method": "银行转账"}],
     "other_terms": ["…"]}

Money is text or a number of yuan with at most two decimals, never a float
in the stored form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from server.domain.compensation import (
    AccidentClaim,
    CommercialPolicy,
    CompulsoryPolicy,
    Item,
    Money,
    Vehicle,
)
from server.errors import InvalidCommand

MAX_TEXT = 4000
"""Longest facts paragraph or term."""


@dataclass(frozen=True)
class Obligation:
    """Who pays whom, how much, by when, how."""

    payer: str
    """As the agreement names them."""
    payee: str
    """As the agreement names them."""
    amount: Money
    """How much."""
    due: date
    """By when."""
    method: str
    """How (bank transfer, cash…)."""


@dataclass(frozen=True)
class AgreementTerms:
    """Everything the mediator drafts."""

    facts: str
    """The facts the parties agree on."""
    claim: AccidentClaim | None
    """The compensation claim for the calculator (traffic-accident cases), or None."""
    obligations: tuple[Obligation, ...]
    """The payments agreed."""
    other_terms: tuple[str, ...]
    """Further terms, one per entry."""


def _text(value: Any, what: str, limit: int = MAX_TEXT, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidCommand(f"{what} must be text")
    text = value.strip()
    if required and not text:
        raise InvalidCommand(f"{what} is empty")
    if len(text) > limit:
        raise InvalidCommand(f"{what} is longer than {limit} characters")
    return text


def _money(value: Any, what: str) -> Money:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidCommand(f'{what}: give money as text, e.g. "12000.00"')
    return Money.parse(value if isinstance(value, str | Decimal) else Decimal(value), what)


_PERCENT = re.compile(r"\d{1,3}(?:\.\d{1,6})?")
"""A percentage as text: no sign, no exponent, at most 3 digits before the point and 6 after."""


def _share(value: Any, what: str) -> int | Decimal:
    """A percentage from JSON: an integer, or text such as "33.33" (never a float: JSON numbers
    with a fraction are refused so that nothing is rounded on the way in)."""
    if isinstance(value, bool) or value is None:
        raise InvalidCommand(f'{what}: give a percentage, e.g. 70 or "33.33"')
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        # digits and places are bounded before Decimal sees the text: "1e-300000" once cost
        # seconds of CPU on the event loop, and larger exponents never finished
        if not _PERCENT.fullmatch(value.strip()):
            raise InvalidCommand(f'{what}: give a percentage such as 70 or "33.33" (at most 6 decimal places)')
        return Decimal(value.strip())
    raise InvalidCommand(f"{what}: give a percentage as an integer or as text, not {type(value).__name__}")


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidCommand(f"{what} must be an object")
    return value


def _list(value: Any, what: str, limit: int = 100) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidCommand(f"{what} must be a list")
    if len(value) > limit:
        raise InvalidCommand(f"{what} has more than {limit} entries")
    return value


def _claim(data: Mapping[str, Any]) -> AccidentClaim:
    items = tuple(
        Item.parse(
            _text(_mapping(i, "claim item").get("kind"), "an item's kind", 40),
            _money(i.get("amount"), f"item {i.get('kind')}"),
            _text(i.get("note"), "an item's note", 200, required=False),
        )
        for i in _list(data.get("items"), "claim.items", 40)
    )
    vehicles = []
    for v in _list(data.get("vehicles"), "claim.vehicles", 10):
        v = _mapping(v, "claim vehicle")
        party = _text(v.get("party"), "a vehicle's party", 100)
        compulsory = commercial = None
        if v.get("compulsory") is not None:
            c = _mapping(v["compulsory"], f"{party}'s compulsory policy")
            compulsory = CompulsoryPolicy(_text(c.get("insurer"), f"{party}'s compulsory insurer", 100))
        if v.get("commercial") is not None:
            c = _mapping(v["commercial"], f"{party}'s commercial policy")
            commercial = CommercialPolicy(
                _text(c.get("insurer"), f"{party}'s commercial insurer", 100),
                _money(c.get("limit"), f"{party}'s commercial limit"),
                deductible_percent=_share(c.get("deductible_percent", 0), f"{party}'s deductible"),
                covers_emotional_distress=bool(c.get("covers_emotional_distress", False)),
            )
        at_fault = v.get("driver_at_fault")
        if at_fault is not None and not isinstance(at_fault, bool):
            raise InvalidCommand(f"{party}: driver_at_fault must be true, false or null")
        share = _share(v.get("liability_share"), f"{party}'s liability share")
        vehicles.append(Vehicle(party, share, compulsory, commercial, at_fault))
    return AccidentClaim(
        items,
        tuple(vehicles),
        victim_share=_share(data.get("victim_share", 0), "the victim's share"),
        emotional_distress_first=bool(data.get("emotional_distress_first", True)),
    )


def terms_from_dict(data: Mapping[str, Any]) -> AgreementTerms:
    """Check the drafted terms (InvalidCommand names what is wrong)."""
    obligations = []
    for o in _list(data.get("obligations"), "obligations", 50):
        o = _mapping(o, "an obligation")
        try:
            due = date.fromisoformat(_text(o.get("due"), "an obligation's due date", 10))
        except ValueError as exc:
            raise InvalidCommand("An obligation's due date must be YYYY-MM-DD") from exc
        obligations.append(
            Obligation(
                _text(o.get("payer"), "an obligation's payer", 100),
                _text(o.get("payee"), "an obligation's payee", 100),
                _money(o.get("amount"), "an obligation's amount"),
                due,
                _text(o.get("method"), "an obligation's method", 100),
            )
        )
    claim = data.get("claim")
    return AgreementTerms(
        facts=_text(data.get("facts"), "facts"),
        claim=_claim(_mapping(claim, "claim")) if claim is not None else None,
        obligations=tuple(obligations),
        other_terms=tuple(_text(t, "a term") for t in _list(data.get("other_terms"), "other_terms", 30)),
    )


def terms_to_dict(terms: AgreementTerms) -> dict[str, Any]:
    """The canonical JSON of the terms (stored beside each draft; money as text)."""
    claim = None
    if terms.claim is not None:
        claim = {
            "items": [{"kind": i.kind.value, "amount": i.amount.plain(), "note": i.note} for i in terms.claim.items],
            "vehicles": [
                {
                    "party": v.party_id,
                    "liability_share": str(v.liability_share),
                    "driver_at_fault": v.driver_at_fault,
                    "compulsory": {"insurer": v.compulsory.insurer} if v.compulsory else None,
                    "commercial": {
                        "insurer": v.commercial.insurer,
                        "limit": v.commercial.limit.plain(),
                        "deductible_percent": str(v.commercial.deductible_percent),
                        "covers_emotional_distress": v.commercial.covers_emotional_distress,
                    }
                    if v.commercial
                    else None,
                }
                for v in terms.claim.vehicles
            ],
            "victim_share": str(terms.claim.victim_share),
            "emotional_distress_first": terms.claim.emotional_distress_first,
        }
    return {
        "facts": terms.facts,
        "claim": claim,
        "obligations": [
            {
                "payer": o.payer,
                "payee": o.payee,
                "amount": o.amount.plain(),
                "due": o.due.isoformat(),
                "method": o.method,
            }
            for o in terms.obligations
        ],
        "other_terms": list(terms.other_terms),
    }
