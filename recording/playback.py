"""Playing a session's recording back: the service that gives a timeline and each clip as one playable file.

The model (runs, clips, offsets, withholding) is pure and lives in
``recording.timeline``; joining segments into one file is ``recording.remux``.
This module reads what they need and serves the result:

- :meth:`RecordingPlayback.timeline` turns the session's manifest (the sealed
  one when the session has ended, else the one the audit trail gives now) into
  a :class:`~recording.timeline.Timeline`, each clip with the codec read from
  its first segment that opens (remembered by blob address).
- :meth:`RecordingPlayback.clip_media` opens a clip's segments (blob address,
  seal and recorded SHA-256 are checked for each: a segment that fails is left
  out and named in :attr:`ClipMedia.skipped`, never served silently) and
  :func:`~recording.remux.remux` joins them into one file **without
  re-encoding**, at the offsets the timeline gives.
- :meth:`RecordingPlayback.withholding`: what a party who may play
  (``MEDIATION_PLAYBACK_PARTIES``) is *not* played, from the timeline's caucus
  periods *and* those the audit trail gives (see
  :class:`~recording.timeline.Withholding`). Withheld segments are never opened.

The CPU work (opening seals, hashing, muxing) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from recording.archive import MANIFEST_KIND, RecordingArchive
from recording.remux import probe_codec, remux
from recording.timeline import (
    MEDIA_TYPES,
    CaucusPeriod,
    Clip,
    ClipSegment,
    SessionRecording,
    Timeline,
    Withholding,
    build_timeline,
    caucus_periods_from_trail,
    withholding_for,
)
from recording.vault import unseal
from server.errors import BlobIntegrityError, Forbidden, MediationError, NotFound

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentProblem:
    """A segment left out of a clip because it failed verification."""

    file: str
    """The segment's file name."""
    problem: str
    """What failed (as :meth:`RecordingArchive.verify` words it)."""

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


@dataclass(frozen=True)
class ClipMedia:
    """A clip ready to serve."""

    clip: Clip
    """Which clip."""
    data: bytes
    """One playable file."""
    media_type: str
    """Its Content-Type."""
    frames: int
    """Encoded frames in it."""
    skipped: tuple[SegmentProblem, ...]
    """Segments that failed verification and are not in ``data``."""
    withheld: tuple[ClipSegment, ...] = ()
    """Segments withheld from this viewer (caucus periods they were not in); never opened."""
    withheld_periods: tuple[CaucusPeriod, ...] = ()
    """The private periods those segments overlap."""


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _files(manifest: dict[str, Any]) -> set[str]:
    return {s["file"] for t in manifest["tracks"] for s in t["segments"]}


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=float(value))


_CODEC_CACHE: OrderedDict[str, str] = OrderedDict()
"""Codec by blob address of a segment already probed, least recently stored first (a blob never changes)."""
_CODEC_CACHE_SIZE = 4096


def _remember_codec(blob: str, codec: str) -> None:
    _CODEC_CACHE[blob] = codec
    while len(_CODEC_CACHE) > _CODEC_CACHE_SIZE:
        _CODEC_CACHE.popitem(last=False)


class RecordingPlayback:
    """Timelines and playable clips of a case's recorded sessions."""

    def __init__(self, archive: RecordingArchive) -> None:
        self.archive = archive
        self.repo = archive.repo
        self.blobs = archive.blobs
        self.vault = archive.vault

    async def sessions(self, case_id: str) -> list[SessionRecording]:
        """Sessions of the case with recorded segments, oldest first."""
        entries, _ = await self.repo.audit_trail(case_id)
        found: dict[str, dict[str, Any]] = {}
        sealed: dict[str, int] = {}  # session -> segments its latest manifest covers (-1: all so far)
        for entry in entries:
            if entry.action == "recording.manifest":
                d = entry.details_dict()
                sid = d.get("session_id", "")
                # older manifest entries carry no count: they covered every segment recorded before them
                sealed[sid] = int(d["segments"]) if "segments" in d else found.get(sid, {}).get("segments", 0)
            if entry.action != "recording.segment":
                continue
            d = entry.details_dict()
            sid = d.get("session_id") or ""
            if not sid:
                continue
            start = _iso(d["started_at"])
            end = start + _seconds(d["duration"])
            item = found.setdefault(sid, {"start": start, "end": end, "tracks": set(), "segments": 0})
            item["start"] = min(item["start"], start)
            item["end"] = max(item["end"], end)
            item["tracks"].add(d["track"])
            item["segments"] += 1
        out = [
            SessionRecording(
                sid, v["start"], v["end"], len(v["tracks"]), v["segments"], sealed.get(sid, -1) >= v["segments"]
            )
            for sid, v in found.items()
        ]
        return sorted(out, key=lambda s: s.started_at)

    async def _sealed_manifest(self, case_id: str, session_id: str) -> tuple[dict[str, Any], str, bool] | None:
        docs = [d for d in await self.repo.documents(case_id) if d.kind == MANIFEST_KIND]
        for doc in sorted(docs, key=lambda d: d.created_at, reverse=True):
            if not doc.title.endswith(session_id):
                continue
            signed = json.loads(await self.blobs.get(doc.sha256))
            manifest: dict[str, Any] = signed["manifest"]
            if manifest.get("session_id") != session_id:
                continue
            return manifest, doc.id, not self.archive.signature_problem(signed)
        return None

    async def timeline(self, case_id: str, session_id: str, now: datetime) -> Timeline:
        """The session's timeline: from its latest signed manifest if that covers every segment the
        audit trail has, else (running, or going on after an interruption) from the audit trail now."""
        sealed = await self._sealed_manifest(case_id, session_id)
        current = await self.archive.manifest(case_id, session_id, now)
        if sealed is not None and _files(current) <= _files(sealed[0]):
            manifest, document_id, signature_ok = sealed
        else:
            sealed = None
            manifest, document_id, signature_ok = current, None, None
        draft = build_timeline(manifest)  # raises NotFound when nothing was recorded
        codecs = await self._codecs(case_id, draft, now)
        return build_timeline(
            manifest, codecs, sealed=sealed is not None, document_id=document_id, signature_ok=signature_ok
        )

    async def _codecs(self, case_id: str, timeline: Timeline, now: datetime) -> dict[str, str]:
        """Each clip's codec, read from the first of its segments that opens (cached by blob)."""
        out: dict[str, str] = {}
        key: bytes | None = None
        for clip in timeline.clips:
            for segment in clip.segments:
                if segment.blob in _CODEC_CACHE:
                    out[clip.id] = _CODEC_CACHE[segment.blob]
                    break
                if key is None:
                    key = await self.vault.data_key(case_id, now)
                plain, problem = await self._open(key, case_id, segment)
                if plain is None:
                    logger.warning("[case=%s] segment %s: %s", case_id, segment.file, problem)
                    continue
                codec = await asyncio.to_thread(probe_codec, plain)
                _remember_codec(segment.blob, codec)
                out[clip.id] = codec
                break
        return out

    async def _open(self, key: bytes, case_id: str, segment: ClipSegment) -> tuple[bytes | None, str]:
        """The segment's plaintext, or None and what failed."""
        try:
            sealed = await self.blobs.get(segment.blob)
        except NotFound:
            return None, "missing from the store"
        except MediationError:
            return None, "altered at rest (does not match its address)"

        def check() -> tuple[bytes | None, str]:
            try:
                plain = unseal(key, sealed, case_id, segment.file)
            except MediationError:
                return None, "altered (the seal does not open)"
            if hashlib.sha256(plain).hexdigest() != segment.sha256:
                return None, "does not match its recorded hash"
            return plain, ""

        return await asyncio.to_thread(check)

    async def withholding(self, timeline: Timeline, participant_id: str) -> Withholding:
        """What ``participant_id`` (a party) is not played of this timeline's session."""
        entries, _ = await self.repo.audit_trail(timeline.case_id)
        return withholding_for(timeline, participant_id, caucus_periods_from_trail(entries, timeline.session_id))

    async def clip_media(
        self, case_id: str, session_id: str, clip_id: str, now: datetime, *, restricted_to: str | None = None
    ) -> ClipMedia:
        """One clip as a playable file; failing segments are left out and named.

        ``restricted_to``: the participant id of a viewer who is played only what they
        heard (a party): segments overlapping a caucus they were not in are withheld
        (never opened); Forbidden if that is every segment of the clip.
        """
        timeline = await self.timeline(case_id, session_id, now)
        clip = timeline.clip(clip_id)
        withheld: tuple[ClipSegment, ...] = ()
        periods: tuple[CaucusPeriod, ...] = ()
        if restricted_to is not None:
            withholding = await self.withholding(timeline, restricted_to)
            withheld = withholding.segments(clip)
            periods = tuple(p for p in withholding.private if any(p in withholding.overlapping(s) for s in withheld))
            if len(withheld) == len(clip.segments):
                raise Forbidden("This clip lies entirely within a private session you were not in")
        key = await self.vault.data_key(case_id, now)
        parts: list[tuple[float, bytes]] = []
        skipped: list[SegmentProblem] = []
        for segment in clip.segments:
            if segment in withheld:
                continue
            plain, problem = await self._open(key, case_id, segment)
            if plain is None:
                logger.warning("[case=%s] segment %s left out of playback: %s", case_id, segment.file, problem)
                skipped.append(SegmentProblem(segment.file, problem))
            else:
                parts.append((segment.offset, plain))
        if not parts:
            raise BlobIntegrityError(f"Every segment of clip {clip_id} failed verification")
        remuxed = await asyncio.to_thread(remux, parts)
        media_type = MEDIA_TYPES.get((clip.kind, remuxed.codec), clip.media_type)
        return ClipMedia(clip, remuxed.data, media_type, remuxed.packets, tuple(skipped), withheld, periods)
