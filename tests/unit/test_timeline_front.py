"""The case timeline names the milestones of the front's stages (claims, appraisal, relief fund) in Chinese, and
every action those stages record is either such a milestone or deliberately left out."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from server.domain.audit import GENESIS, ChainHead, next_entry
from server.domain.claims import ClaimAction
from server.referrals.timeline import _FRONT_STEPS, milestones

ROOT = Path(__file__).resolve().parents[2]
LEFT_OUT = frozenset({"appraisal.consent"})
"""Recorded but not milestones: each party's consent repeats (the appointment that follows is the milestone)."""


def recorded_actions() -> set[str]:
    """Every ``relief.*`` and ``appraisal.*`` action written as a literal in the stages, and every claim action."""
    found: set[str] = set()
    for folder in ("server/relief", "server/appraisal", "server/domain"):
        for path in (ROOT / folder).glob("*.py"):
            found |= set(re.findall(r"\"((?:relief|appraisal)\.[a-z_]+)\"", path.read_text(encoding="utf-8")))
    return found | {"claim.submitted", "claim.overdue"} | {f"claim.{a.value}" for a in ClaimAction}


def test_every_recorded_action_of_the_front_is_a_milestone_or_left_out_on_purpose() -> None:
    actions = recorded_actions()
    assert {"relief.applied", "appraisal.drawn", "claim.pay"} <= actions  # the scan sees the stages' code
    assert actions - LEFT_OUT - set(_FRONT_STEPS) == set()
    assert set(_FRONT_STEPS) - actions == set(), "a label for an action nothing records"


def test_the_milestones_are_named_in_chinese_with_who_did_them() -> None:
    now = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    head = ChainHead(0, GENESIS)
    entries = []
    for actor, action in (("system", "claim.overdue"), ("account:a1", "appraisal.drawn"), ("system", "x.unknown")):
        entry = next_entry(head, "c1", now, actor, action, {})
        entries.append(entry)
        head = ChainHead(entry.seq, entry.hash)
    steps = milestones(entries, {}, {"a1": "王调解员（示范调解委员会）"})
    assert [(s["label"], s["who"]) for s in steps] == [
        ("理赔超期", "系统"),
        ("随机选定鉴定机构", "王调解员（示范调解委员会）"),
    ]
