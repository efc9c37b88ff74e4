"""The audit trail: an append-only hash chain per case.

Each entry commits to the one before it: its hash is the SHA-256 of a
canonical encoding of its own fields *and* the previous entry's hash. The
case row keeps the chain's head (last sequence number and hash), so that

* an altered entry no longer matches its own hash,
* a removed entry leaves a gap in the sequence or a broken link,
* removing the newest entries leaves the chain shorter than the head says.

:func:`verify` walks a chain and names the first entry that fails. Pure: no
I/O; the store reads the rows and passes them in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS = "0" * 64
"""The ``prev_hash`` of a chain's first entry."""


@dataclass(frozen=True)
class AuditEntry:
    """One line of a case's audit trail, exactly as stored."""

    case_id: str
    """The case."""
    seq: int
    """1 for the first entry of the case, then one more each time."""
    at: str
    """When, as an ISO 8601 UTC string (hashed as stored)."""
    actor: str
    """Who: ``account:<id>``, ``participant:<id>`` or ``system``."""
    action: str
    """What, e.g. ``case.state_changed``."""
    details: str
    """Canonical JSON of the details (hashed as stored)."""
    prev_hash: str
    """Hash of the previous entry, or :data:`GENESIS`."""
    hash: str
    """SHA-256 over every field above."""

    def details_dict(self) -> dict[str, Any]:
        """The details decoded."""
        value = json.loads(self.details)
        assert isinstance(value, dict)
        return value


@dataclass(frozen=True)
class ChainHead:
    """The newest entry's sequence number and hash, kept on the case."""

    seq: int
    """0 for an empty chain."""
    hash: str
    """:data:`GENESIS` for an empty chain."""


EMPTY_HEAD = ChainHead(seq=0, hash=GENESIS)


@dataclass(frozen=True)
class ChainVerdict:
    """What :func:`verify` found."""

    ok: bool
    """True when every entry is intact and the chain reaches the head."""
    entries: int
    """How many entries were checked."""
    first_bad_seq: int | None = None
    """Sequence number of the first entry that is altered or missing."""
    problem: str = ""
    """``altered``, ``missing`` or ``truncated``; empty when ok."""

    def describe(self) -> str:
        """A sentence for people."""
        if self.ok:
            return f"{self.entries} entries, chain intact"
        return f"entry {self.first_bad_seq} is {self.problem}"


def canonical_json(value: Mapping[str, Any]) -> str:
    """The one JSON encoding hashed: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    """Hex SHA-256 of a text's UTF-8 bytes: the audit trail holds this, never personal text itself."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def timestamp(now: datetime) -> str:
    """The stored form of a time: UTC, microseconds, ``+00:00``."""
    if now.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return now.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(case_id: str, seq: int, at: str, actor: str, action: str, details: str, prev_hash: str) -> str:
    """SHA-256 (hex) committing to every field of an entry and to its predecessor."""
    material = canonical_json(
        {
            "case_id": case_id,
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "details": details,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def next_entry(
    head: ChainHead, case_id: str, now: datetime, actor: str, action: str, details: Mapping[str, Any]
) -> AuditEntry:
    """Build the entry that follows ``head``."""
    seq = head.seq + 1
    at = timestamp(now)
    body = canonical_json(details)
    digest = entry_hash(case_id, seq, at, actor, action, body, head.hash)
    return AuditEntry(case_id, seq, at, actor, action, body, head.hash, digest)


class Step(Protocol):
    """What to append: who did what, with JSON-ready details (``server.store.repository.AuditRecord``)."""

    @property
    def actor(self) -> str: ...

    @property
    def action(self) -> str: ...

    @property
    def details(self) -> Mapping[str, Any]: ...


def following(head: ChainHead, chain_id: str, now: datetime, steps: Sequence[Step]) -> list[AuditEntry]:
    """The entries that append ``steps`` after ``head``, in order (empty for no steps)."""
    entries = []
    for step in steps:
        entry = next_entry(head, chain_id, now, step.actor, step.action, step.details)
        entries.append(entry)
        head = ChainHead(entry.seq, entry.hash)
    return entries


def verify(entries: Sequence[AuditEntry], head: ChainHead) -> ChainVerdict:
    """Check a case's whole chain (entries in ``seq`` order) against its head."""
    prev = GENESIS
    expected_seq = 1
    for entry in entries:
        if entry.seq != expected_seq:
            return ChainVerdict(False, len(entries), expected_seq, "missing")
        recomputed = entry_hash(
            entry.case_id, entry.seq, entry.at, entry.actor, entry.action, entry.details, entry.prev_hash
        )
        if recomputed != entry.hash:
            return ChainVerdict(False, len(entries), entry.seq, "altered")
        if entry.prev_hash != prev:
            # the link to the previous entry does not hold: that one was altered or replaced
            return ChainVerdict(False, len(entries), entry.seq - 1, "altered")
        prev = entry.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    if last_seq < head.seq:
        return ChainVerdict(False, len(entries), last_seq + 1, "truncated")
    if last_seq > head.seq or prev != head.hash:
        return ChainVerdict(False, len(entries), head.seq if head.seq else 1, "altered")
    return ChainVerdict(True, len(entries))
