"""The audit hash chain: built entry by entry, and verify() names the first bad one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from server.domain import audit
from server.domain.audit import EMPTY_HEAD, AuditEntry, ChainHead

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def chain(n: int) -> tuple[list[AuditEntry], ChainHead]:
    head = EMPTY_HEAD
    entries = []
    for i in range(n):
        e = audit.next_entry(head, "c1", T0 + timedelta(seconds=i), "system", "x.happened", {"i": i, "名": "值"})
        entries.append(e)
        head = ChainHead(e.seq, e.hash)
    return entries, head


def test_intact_chain_verifies() -> None:
    entries, head = chain(5)
    verdict = audit.verify(entries, head)
    assert verdict.ok and verdict.entries == 5
    assert verdict.describe() == "5 entries, chain intact"
    assert audit.verify([], EMPTY_HEAD).ok


def test_each_entry_links_to_the_previous() -> None:
    entries, _ = chain(3)
    assert entries[0].prev_hash == audit.GENESIS
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    assert len({e.hash for e in entries}) == 3


@pytest.mark.parametrize("field", ["at", "actor", "action", "details", "case_id"])
def test_altering_any_field_is_found(field: str) -> None:
    entries, head = chain(5)
    entries[2] = replace(entries[2], **{field: getattr(entries[2], field) + "x"})
    verdict = audit.verify(entries, head)
    assert not verdict.ok
    assert (verdict.first_bad_seq, verdict.problem) == (3, "altered")
    assert verdict.describe() == "entry 3 is altered"


def test_rehashed_alteration_is_found_by_the_next_link() -> None:
    entries, head = chain(5)
    e = entries[1]
    forged_details = audit.canonical_json({"i": 999})
    forged_hash = audit.entry_hash(e.case_id, e.seq, e.at, e.actor, e.action, forged_details, e.prev_hash)
    entries[1] = replace(e, details=forged_details, hash=forged_hash)
    verdict = audit.verify(entries, head)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 2, "altered")


def test_missing_entry_is_found() -> None:
    entries, head = chain(5)
    del entries[3]
    verdict = audit.verify(entries, head)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 4, "missing")


def test_truncated_chain_is_found_against_the_head() -> None:
    entries, head = chain(5)
    verdict = audit.verify(entries[:3], head)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 4, "truncated")


def test_times_are_stored_in_one_canonical_form() -> None:
    assert audit.timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000+00:00"
    with pytest.raises(ValueError, match="timezone"):
        audit.timestamp(datetime(2026, 1, 2))  # noqa: DTZ001 - the naive value is the point
