"""A session's recording as evidence: the signed manifest and its verification.

At the end of a session the server writes a manifest: every track, every
segment (index, blob address, SHA-256 of the plaintext, wall-clock start,
duration, frames), the gaps where the recording was interrupted and the caucus
periods, all taken from the case's audit trail. The manifest is signed with
the server's Ed25519 key, stored as a staff-only case document, and its hash
goes into the audit trail.

:meth:`RecordingArchive.verify` checks a session's recording end to end: the
manifest's signature, and for every segment that the blob exists and matches
its address, that its seal opens, and that the plaintext has the recorded
hash. The report names every segment that fails.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from recording.vault import Vault, unseal
from server.domain.audit import canonical_json
from server.errors import MediationError, NotFound
from server.store.blobs import BlobStore
from server.store.repository import AuditRecord, CaseRepository, DocumentRecord

MANIFEST_KIND = "recording_manifest"
GAP_TOLERANCE = 1.0
"""Seconds between one segment's end and the next one's start that still count as continuous."""


@dataclass
class Verdict:
    """What :meth:`RecordingArchive.verify` found."""

    session_id: str
    """The session checked."""
    segments: int = 0
    """Segments listed in the manifest."""
    problems: list[str] = field(default_factory=list)
    """One line per failure, naming the segment."""
    signature_ok: bool = False
    """Whether the manifest's signature holds."""

    @property
    def ok(self) -> bool:
        """Everything verified."""
        return self.signature_ok and not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "session_id": self.session_id,
            "ok": self.ok,
            "signature_ok": self.signature_ok,
            "segments": self.segments,
            "problems": self.problems,
        }


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


class RecordingArchive:
    """Writes and checks the signed manifests of a case's recordings."""

    def __init__(self, repo: CaseRepository, blobs: BlobStore, vault: Vault, signing_key: bytes) -> None:
        self.repo = repo
        self.blobs = blobs
        self.vault = vault
        self.key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(signing_key).digest())

    def public_key(self) -> str:
        """The server's verification key (base64 raw Ed25519)."""
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode("ascii")

    async def manifest(self, case_id: str, session_id: str, now: datetime) -> dict[str, Any]:
        """The manifest of a session, from the audit trail."""
        entries, _ = await self.repo.audit_trail(case_id)
        tracks: dict[str, list[dict[str, Any]]] = {}
        caucus: list[dict[str, Any]] = []
        interrupted: list[str] = []
        open_caucus: dict[str, Any] | None = None
        for entry in entries:
            details = entry.details_dict()
            if details.get("session_id") != session_id:
                continue
            if entry.action == "recording.segment":
                segment = {
                    k: details[k] for k in ("index", "file", "blob", "sha256", "started_at", "duration", "frames")
                }
                tracks.setdefault(details["track"], []).append(segment)
            elif entry.action == "session.interrupted":
                interrupted.append(entry.at)
            elif entry.action == "room.caucus":
                # a caucus ends when it ends, and also when another (or a changed one) begins
                if open_caucus is not None:
                    caucus.append({**open_caucus, "end": entry.at})
                    open_caucus = None
                if details.get("members"):
                    open_caucus = {"start": entry.at, "members": details["members"]}
        if open_caucus is not None:
            caucus.append({**open_caucus, "end": None})
        out_tracks = []
        for track, segments in sorted(tracks.items()):
            segments.sort(key=lambda s: s["started_at"])
            gaps = []
            for a, b in zip(segments, segments[1:], strict=False):
                end = _iso(a["started_at"]) + timedelta(seconds=a["duration"])
                if _iso(b["started_at"]) - end > timedelta(seconds=GAP_TOLERANCE):
                    gaps.append({"from": end.isoformat(), "to": b["started_at"]})
            participant, kind = track.rsplit(":", 1)
            out_tracks.append(
                {
                    "track": track,
                    "participant_id": participant,
                    "kind": kind,
                    "start": segments[0]["started_at"],
                    "segments": segments,
                    "interruptions": gaps,
                }
            )
        return {
            "format": "mediation-recording-manifest/1",
            "case_id": case_id,
            "session_id": session_id,
            "generated_at": now.isoformat(),
            "tracks": out_tracks,
            "caucus": caucus,
            "resumed_after_interruption": interrupted,
            "public_key": self.public_key(),
        }

    async def seal_session(self, case_id: str, session_id: str, now: datetime) -> DocumentRecord:
        """Sign and store the session's manifest; record its hash in the audit trail."""
        manifest = await self.manifest(case_id, session_id, now)
        body = canonical_json(manifest).encode("utf-8")
        signed = {
            "manifest": manifest,
            "signature": base64.b64encode(self.key.sign(body)).decode("ascii"),
            "algorithm": "Ed25519 over the canonical JSON of 'manifest'",
        }
        data = json.dumps(signed, ensure_ascii=False, indent=1).encode("utf-8")
        ref = await self.blobs.put(data)
        doc = DocumentRecord(
            str(uuid.uuid4()),
            case_id,
            MANIFEST_KIND,
            f"录音录像清单 Recording manifest {session_id}",
            ref.sha256,
            ref.size,
            "application/json",
            "staff",
            now,
            "system",
        )
        for attempt in range(20):
            loaded = await self.repo.load_case(case_id)
            record = AuditRecord(
                "system",
                "recording.manifest",
                {
                    "session_id": session_id,
                    "document_id": doc.id,
                    "sha256": ref.sha256,
                    "tracks": len(manifest["tracks"]),
                },
            )
            try:
                await self.repo.add_document(loaded, doc, [record])
                return doc
            except MediationError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.05)
        raise AssertionError("unreachable")

    async def verify(self, case_id: str, session_id: str | None = None) -> list[Verdict]:
        """Verify the recordings of a case (or one session), naming each failing segment."""
        docs = [d for d in await self.repo.documents(case_id) if d.kind == MANIFEST_KIND]
        verdicts = []
        key = await self.vault.data_key(case_id, datetime.now().astimezone()) if docs else b""
        for doc in docs:
            signed = json.loads(await self.blobs.get(doc.sha256))
            manifest = signed["manifest"]
            if session_id is not None and manifest["session_id"] != session_id:
                continue
            verdict = Verdict(manifest["session_id"])
            try:
                public = Ed25519PublicKey.from_public_bytes(base64.b64decode(manifest["public_key"]))
                public.verify(base64.b64decode(signed["signature"]), canonical_json(manifest).encode("utf-8"))
                verdict.signature_ok = manifest["public_key"] == self.public_key()
                if not verdict.signature_ok:
                    verdict.problems.append("manifest signed by a key that is not this server's")
            except (InvalidSignature, ValueError):
                verdict.problems.append("manifest signature does not verify")
            for track in manifest["tracks"]:
                for segment in track["segments"]:
                    verdict.segments += 1
                    problem = await self._check_segment(key, case_id, segment)
                    if problem:
                        verdict.problems.append(f"segment {segment['file']}: {problem}")
            verdicts.append(verdict)
        if session_id is not None and not verdicts:
            raise NotFound("No recording manifest for this session")
        return verdicts

    async def _check_segment(self, key: bytes, case_id: str, segment: dict[str, Any]) -> str:
        try:
            sealed = await self.blobs.get(segment["blob"])
        except NotFound:
            return "missing from the store"
        except MediationError:
            return "altered at rest (does not match its address)"
        try:
            plain = await asyncio.to_thread(unseal, key, sealed, case_id, segment["file"])
        except MediationError:
            return "altered (the seal does not open)"
        if hashlib.sha256(plain).hexdigest() != segment["sha256"]:
            return "does not match its recorded hash"
        return ""
