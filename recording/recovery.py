"""Sealing what an interrupted session left: run once when the server starts.

A server that stops mid-session (a crash, ``kill -9``, a power cut) has already
sealed, stored and chained every closed segment, but never wrote the session's
manifest, which is written when the session ends. At the next start,
:func:`seal_interrupted` finds every session that may have been left so:

- sessions still ``in_progress`` (the server died while they ran), and
- sessions ended in the last week with a segment chained after their latest
  manifest, or with none (it died while closing them),

and for each whose audit trail holds segments that no validly signed manifest
covers, writes the manifest (:meth:`RecordingArchive.seal_session`) marked
``closed: after_interruption``. If people come back and the session goes on,
its final manifest covers every segment again; a second crash seals again.

It runs before the server listens, so no room of this node is live then. With
several nodes, a session whose room another node hosts is running, not
interrupted: ``hosted_elsewhere`` says so and it is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select

from recording.archive import CLOSED_AFTER_INTERRUPTION, RecordingArchive
from server.domain.lifecycle import SessionStatus
from server.store import schema as t

logger = logging.getLogger(__name__)

ENDED_WINDOW = timedelta(days=7)
"""How long after a session ended a start still looks for segments its manifest missed."""


@dataclass(frozen=True)
class SealedSession:
    """A session whose recording was sealed after an interruption."""

    case_id: str
    """The case."""
    session_id: str
    """The session."""
    segments: int
    """Segments no manifest had covered before."""
    document_id: str
    """The manifest's document."""


async def candidates(archive: RecordingArchive, now: datetime) -> list[tuple[str, str]]:
    """(case id, session id) of every session an interruption may have left unsealed.

    Those still in progress, and those ended in the last :data:`ENDED_WINDOW` that have a
    segment chained after their latest manifest (or none): the server stopped while it
    closed them. Older ended sessions are not searched again at every start.
    """
    s, a = t.sessions, t.audit_entries
    manifests = t.audit_entries.alias("manifests")
    last_manifest = (
        select(func.max(manifests.c.seq))
        .where(
            and_(
                manifests.c.case_id == s.c.case_id,
                manifests.c.action == "recording.manifest",
                manifests.c.details.contains(s.c.id),
            )
        )
        .scalar_subquery()
    )
    segment_after = exists().where(
        and_(
            a.c.case_id == s.c.case_id,
            a.c.action == "recording.segment",
            a.c.seq > func.coalesce(last_manifest, -1),
            a.c.details.contains(s.c.id),
        )
    )
    query = (
        select(s.c.case_id, s.c.id)
        .where(
            or_(
                s.c.status == SessionStatus.IN_PROGRESS.value,
                and_(s.c.status == SessionStatus.ENDED.value, s.c.ended_at >= now - ENDED_WINDOW, segment_after),
            )
        )
        .order_by(s.c.case_id, s.c.id)
    )
    async with archive.repo.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(str(r[0]), str(r[1])) for r in rows]


async def seal_interrupted(
    archive: RecordingArchive,
    now: datetime,
    hosted_elsewhere: Callable[[str], Awaitable[bool]] | None = None,
) -> list[SealedSession]:
    """Write the manifest of every session an interruption left with unsealed segments."""
    sealed: list[SealedSession] = []
    by_case: dict[str, list[str]] = {}
    for case_id, session_id in await candidates(archive, now):
        by_case.setdefault(case_id, []).append(session_id)
    for case_id, sessions in by_case.items():
        if hosted_elsewhere is not None and await hosted_elsewhere(case_id):
            continue  # its room is live on another node: running, not interrupted
        unsealed = await archive.unsealed(case_id)
        for session_id in sessions:
            files = unsealed.get(session_id)
            if not files:
                continue
            doc = await archive.seal_session(case_id, session_id, now, closed=CLOSED_AFTER_INTERRUPTION)
            logger.warning(
                "[case=%s] sealed the recording of session %s after an interruption (%d segments had no manifest)",
                case_id,
                session_id,
                len(files),
            )
            sealed.append(SealedSession(case_id, session_id, len(files), doc.id))
    return sealed
