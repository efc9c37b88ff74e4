"""A live session's recording kept as evidence while it is written (the room's ``rooms.ports.RecordingStore``).

Each segment a recorder closes (``recording.segments``) reaches
:meth:`EvidenceStore.store_segment` through the room: it is sealed with the
case's data key (``recording.vault``: AES-GCM, bound to the case and the file
name), stored in the blob store, and its facts (track, index, SHA-256 of the
plaintext, wall-clock start, duration, frames), the session, the blob address
and the sealed size are chained into the case's audit trail at once, so the
hashes are part of the chain as they are written. When the session ends,
:meth:`EvidenceStore.seal_session` writes the signed manifest
(``recording.archive``).

The composition root (``server/app.py``) builds one and gives it to the rooms;
``now`` comes from the rooms' clock.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Protocol

from recording.archive import RecordingArchive
from recording.vault import Vault, seal
from server.store.blobs import BlobStore
from server.store.repository import AuditRecord, CaseRepository


class SegmentFile(Protocol):
    """What is stored of a closed segment (``recording.segments.Segment``)."""

    @property
    def name(self) -> str:
        """File name: the label the seal is bound to."""
        ...

    @property
    def data(self) -> bytes:
        """The complete file, in the clear."""
        ...

    def details(self) -> dict[str, Any]:
        """JSON-ready facts for the audit trail."""
        ...


class EvidenceStore:
    """Seals each closed segment into the blob store and the audit trail; writes the manifest at the end."""

    def __init__(self, repo: CaseRepository, blobs: BlobStore, vault: Vault, archive: RecordingArchive) -> None:
        self.repo = repo
        """The case store: the audit trail the segments are chained into."""
        self.blobs = blobs
        """Where the sealed segments are kept."""
        self.vault = vault
        """The cases' data keys."""
        self.archive = archive
        """The manifests and their verification."""

    async def store_segment(self, case_id: str, session_id: str, segment: SegmentFile, now: datetime) -> None:
        """Seal a closed recording segment into the blob store and chain its hash into the audit trail."""
        key = await self.vault.data_key(case_id, now)
        sealed = await asyncio.to_thread(seal, key, segment.data, case_id, segment.name)
        ref = await self.blobs.put(sealed)
        details = {
            **segment.details(),
            "session_id": session_id,
            "blob": ref.sha256,
            "sealed_size": ref.size,
        }
        await self.repo.record(case_id, [AuditRecord("system", "recording.segment", details)], now, attempts=20)

    async def seal_session(self, case_id: str, session_id: str, now: datetime) -> None:
        """The session ended: sign and store its manifest (``RecordingArchive.seal_session``)."""
        await self.archive.seal_session(case_id, session_id, now)
