"""A session's recording as evidence: the signed manifest and its verification.

At the end of a session the server writes a manifest: every track, every
segment (index, blob address, SHA-256 of the plaintext, wall-clock start,
duration, frames), the gaps where the recording was interrupted and the caucus
periods, all taken from the case's audit trail. The manifest is signed with
the server's Ed25519 key, stored as a staff-only case document, and its hash
goes into the audit trail.

:meth:`RecordingArchive.verify` checks every recorded session of a case end to
end, manifest or not: the segments are found through the audit trail (where
each stored segment was chained as it was written) and through the manifests;
every manifest's signature is checked and must agree with the trail; for every
segment, that the blob exists and matches its address, that its seal opens,
and that the plaintext has the recorded hash. The report names every segment
that fails, and says per session whether a manifest seals it (``sealed``: the
session ended; ``sealed_after_interruption``: a restart sealed what the
interrupted session had left) or not (``unsealed``: still running, or
interrupted and not yet sealed), naming the segments no manifest covers.

A server that stopped mid-session (a crash, ``kill -9``) never wrote the
manifest; :func:`recording.recovery.seal_interrupted` does it at the next
start, marking the manifest ``closed: after_interruption``. If the session then
goes on, its final manifest covers every segment again.
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

from recording.timeline import GAP_TOLERANCE
from recording.vault import Vault, unseal
from server.domain.audit import canonical_json
from server.errors import MediationError, NotFound
from server.store.blobs import BlobStore
from server.store.repository import AuditRecord, CaseRepository, DocumentRecord

MANIFEST_KIND = "recording_manifest"
CLOSED_ENDED = "ended"
"""A manifest written when the session ended."""
CLOSED_AFTER_INTERRUPTION = "after_interruption"
"""A manifest written at a restart for what an interrupted session had left."""


@dataclass
class Verdict:
    """What :meth:`RecordingArchive.verify` found for one session."""

    session_id: str
    """The session checked."""
    segments: int = 0
    """Segments checked: every one the audit trail or a manifest lists."""
    problems: list[str] = field(default_factory=list)
    """One line per failure, naming the segment (or the manifest)."""
    signature_ok: bool | None = None
    """Whether every manifest's signature holds under this server's key (None: no manifest)."""
    manifests: int = 0
    """Signed manifests of the session."""
    closed: str | None = None
    """How the latest manifest closed the session (:data:`CLOSED_ENDED`, :data:`CLOSED_AFTER_INTERRUPTION`)."""
    unsealed: list[str] = field(default_factory=list)
    """Segments (file names) that no manifest with a valid signature covers."""

    @property
    def sealed(self) -> bool:
        """A valid manifest covers every segment."""
        return self.manifests > 0 and bool(self.signature_ok) and not self.unsealed

    @property
    def status(self) -> str:
        """``sealed``, ``sealed_after_interruption`` or ``unsealed`` (running, or interrupted and not sealed)."""
        if not self.sealed:
            return "unsealed"
        return "sealed_after_interruption" if self.closed == CLOSED_AFTER_INTERRUPTION else "sealed"

    @property
    def ok(self) -> bool:
        """Every segment and manifest verified (an unsealed session's segments can be intact too)."""
        return self.signature_ok is not False and not self.problems

    def describe(self) -> str:
        """One line for people."""
        head = f"session {self.session_id}: {self.segments} segments, " + ("verified" if self.ok else "FAILED")
        if self.status == "sealed":
            return head + ", sealed by its manifest"
        if self.status == "sealed_after_interruption":
            return head + ", sealed after an interruption (the server stopped mid-session)"
        return head + (
            f", UNSEALED: no manifest covers {len(self.unsealed)} of them (the session is running, "
            "or was interrupted and not yet sealed)"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "session_id": self.session_id,
            "ok": self.ok,
            "status": self.status,
            "sealed": self.sealed,
            "signature_ok": self.signature_ok,
            "manifests": self.manifests,
            "segments": self.segments,
            "unsealed": self.unsealed,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class SignedManifest:
    """One manifest document of a case, read and checked."""

    document: DocumentRecord
    """The staff-only case document holding it."""
    session_id: str
    """The session it seals (from the manifest; from the document's title if it cannot be read)."""
    manifest: dict[str, Any] | None
    """The manifest (None: the document could not be read)."""
    problem: str
    """'' when it was read and its signature holds under this server's key; else what failed."""

    def files(self) -> set[str]:
        """The segment files it lists."""
        if self.manifest is None:
            return set()
        return {s["file"] for t in self.manifest["tracks"] for s in t["segments"]}


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

    async def manifest(
        self, case_id: str, session_id: str, now: datetime, closed: str = CLOSED_ENDED
    ) -> dict[str, Any]:
        """The manifest of a session, from the audit trail; ``closed``: how the session was closed."""
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
            "closed": closed,
            "public_key": self.public_key(),
        }

    async def seal_session(
        self, case_id: str, session_id: str, now: datetime, closed: str = CLOSED_ENDED
    ) -> DocumentRecord:
        """Sign and store the session's manifest; record its hash in the audit trail.

        ``closed``: :data:`CLOSED_ENDED` when the session ended, :data:`CLOSED_AFTER_INTERRUPTION`
        when a restart seals what an interrupted session left.
        """
        manifest = await self.manifest(case_id, session_id, now, closed)
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
                    "segments": sum(len(t["segments"]) for t in manifest["tracks"]),
                    "closed": closed,
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

    async def signed_manifests(self, case_id: str) -> list[SignedManifest]:
        """Every manifest document of the case, oldest first, each read and its signature checked."""
        docs = sorted(
            (d for d in await self.repo.documents(case_id) if d.kind == MANIFEST_KIND), key=lambda d: d.created_at
        )
        out = []
        for doc in docs:
            fallback = doc.title.rsplit(" ", 1)[-1]  # the title ends with the session id
            try:
                signed = json.loads(await self.blobs.get(doc.sha256))
                manifest = signed["manifest"]
                session_id = str(manifest["session_id"])
            except NotFound:
                out.append(SignedManifest(doc, fallback, None, "missing from the store"))
                continue
            except (MediationError, ValueError, KeyError, TypeError):
                out.append(SignedManifest(doc, fallback, None, "altered at rest (cannot be read as signed)"))
                continue
            out.append(SignedManifest(doc, session_id, manifest, self.signature_problem(signed)))
        return out

    def signature_problem(self, signed: dict[str, Any]) -> str:
        """What is wrong with a signed manifest's signature ('' when it holds under this server's key)."""
        try:
            manifest = signed["manifest"]
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(manifest["public_key"]))
            public.verify(base64.b64decode(signed["signature"]), canonical_json(manifest).encode("utf-8"))
        except (InvalidSignature, ValueError, KeyError, TypeError):
            return "signature does not verify"
        if manifest["public_key"] != self.public_key():
            return "signed by a key that is not this server's"
        return ""

    async def recorded_segments(self, case_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        """Every stored segment the audit trail chains: session id -> file name -> details, in order."""
        entries, _ = await self.repo.audit_trail(case_id)
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for entry in entries:
            if entry.action == "recording.segment":
                details = entry.details_dict()
                out.setdefault(details.get("session_id") or "", {})[details["file"]] = details
        return out

    async def unsealed(self, case_id: str) -> dict[str, list[str]]:
        """Sessions with segments in the audit trail that no manifest (validly signed) covers: their files."""
        covered: dict[str, set[str]] = {}
        for item in await self.signed_manifests(case_id):
            if item.manifest is not None and not item.problem:
                covered.setdefault(item.session_id, set()).update(item.files())
        out = {}
        for session_id, files in (await self.recorded_segments(case_id)).items():
            missing = [f for f in files if f not in covered.get(session_id, set())]
            if missing:
                out[session_id] = missing
        return out

    async def verify(self, case_id: str, now: datetime, session_id: str | None = None) -> list[Verdict]:
        """Verify every recorded session of a case (or one), manifest or not, naming each failing segment.

        The segments are those the audit trail chains and those the manifests list; a
        session no manifest covers (running, or interrupted and not yet sealed) is
        verified all the same and reported ``unsealed`` with the segments not covered.
        """
        trail = await self.recorded_segments(case_id)
        manifests = await self.signed_manifests(case_id)
        order = list(dict.fromkeys([*trail, *(m.session_id for m in manifests)]))
        if session_id is not None:
            order = [s for s in order if s == session_id]
            if not order:
                raise NotFound("No recording of this session")
        key = await self.vault.data_key(case_id, now) if order else b""
        verdicts = []
        for sid in order:
            verdict = Verdict(sid)
            segments = dict(trail.get(sid, {}))
            covered: set[str] = set()
            for item in (m for m in manifests if m.session_id == sid):
                verdict.manifests += 1
                if item.manifest is None or item.problem:
                    verdict.signature_ok = False
                    verdict.problems.append(f"manifest {item.document.id}: {item.problem}")
                    continue
                if verdict.signature_ok is None:
                    verdict.signature_ok = True
                verdict.closed = str(item.manifest.get("closed", CLOSED_ENDED))
                for track in item.manifest["tracks"]:
                    for segment in track["segments"]:
                        covered.add(segment["file"])
                        known = segments.get(segment["file"])
                        if known is None:
                            segments[segment["file"]] = segment
                            verdict.problems.append(
                                f"segment {segment['file']}: listed in manifest {item.document.id} "
                                "but not in the audit trail"
                            )
                        elif (known["blob"], known["sha256"]) != (segment["blob"], segment["sha256"]):
                            verdict.problems.append(
                                f"segment {segment['file']}: manifest {item.document.id} differs from the audit trail"
                            )
            verdict.unsealed = [f for f in segments if f not in covered]
            for segment in segments.values():
                verdict.segments += 1
                problem = await self._check_segment(key, case_id, segment)
                if problem:
                    verdict.problems.append(f"segment {segment['file']}: {problem}")
            verdicts.append(verdict)
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
