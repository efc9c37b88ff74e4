"""Playing a session's recording back: a timeline of clips, and each clip as one playable file.

A session's recording is a set of tracks (each participant's microphone and
camera); a track is recorded in *runs* (one per recorder: a reconnect or a
server restart starts a new run, whose segment names carry a new run id) and
each run in segments of a few seconds. For playback:

- :meth:`RecordingPlayback.timeline` turns the session's manifest (the sealed
  one when the session has ended, else the one the audit trail gives now) into
  a :class:`Timeline`: the session's origin (the earliest segment's wall-clock
  start), one :class:`Clip` per run of a track with its offset from the origin,
  the interruptions between runs (and gaps inside one), the caucus periods and
  the restarts after a crash, all as offsets in seconds.
- :meth:`RecordingPlayback.clip_media` opens a clip's segments (blob address,
  seal and recorded SHA-256 are checked for each: a segment that fails is left
  out and named in :attr:`ClipMedia.skipped`, never served silently) and
  :func:`remux` joins them into one file **without re-encoding**: each
  segment's packets are shifted by the segment's offset from the clip's start,
  which is its wall-clock offset (what keeps a clip aligned with the other
  tracks) unless that would overlap the segment before it (:func:`lay_out`:
  frames that reached the server in a burst); the timeline gives the same
  offsets, so a clip's duration is its file's length. VP8 and Opus go
  into WebM, H.264 into fragmented MP4: what browsers play.
- :class:`Withholding`: what a party who may play (``MEDIATION_PLAYBACK_PARTIES``)
  is *not* played: every segment, of every track, that overlaps a caucus period
  the party was not a member of (by :data:`CAUCUS_MARGIN` or more: any overlap
  withholds the whole segment). Withheld segments are never opened. The periods
  are those of the manifest *and* those the audit trail gives (a caucus started
  while another ran closes the earlier one there), so neither alone can let a
  private conversation through.

The CPU work (opening seals, hashing, muxing) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import av

from recording.archive import GAP_TOLERANCE, MANIFEST_KIND, RecordingArchive
from recording.vault import unseal
from server.domain.audit import AuditEntry
from server.errors import BlobIntegrityError, Forbidden, MediationError, NotFound

logger = logging.getLogger(__name__)

MEDIA_TYPES = {
    ("video", "vp8"): "video/webm",
    ("audio", "opus"): "audio/webm",
    ("video", "h264"): "video/mp4",
}
"""(kind, libav codec) -> the Content-Type of a clip's file."""

DEFAULT_CODECS = {"video": "vp8", "audio": "opus"}
"""What a track is taken to hold when no segment of it can be opened to look."""

_CODEC_NAMES = {"vp8": "vp8", "opus": "opus", "h264": "h264", "avc1": "h264", "libopus": "opus", "libvpx": "vp8"}


def _codec_name(name: str) -> str:
    return _CODEC_NAMES.get(name.lower(), name.lower())


# ---------------------------------------------------------------- the timeline


@dataclass(frozen=True)
class ClipSegment:
    """One stored segment of a clip (what :meth:`RecordingPlayback.clip_media` opens)."""

    index: int
    """Index within the track."""
    file: str
    """Segment file name (the seal's label)."""
    blob: str
    """Blob address of the sealed segment."""
    sha256: str
    """SHA-256 of the plaintext, as recorded in the audit trail."""
    started_at: datetime
    """Wall-clock start of its first frame."""
    duration: float
    """Seconds."""
    frames: int
    """Encoded frames."""
    offset: float
    """Seconds from the clip's start to where the segment sits in the clip's file (see :func:`lay_out`)."""


@dataclass(frozen=True)
class Clip:
    """One run of one track: consecutive segments written by one recorder."""

    id: str
    """``<participant>-<kind>-<run>``: stable and URL-safe."""
    track: str
    """``<participant>:<kind>``."""
    participant_id: str
    """Whose microphone or camera."""
    kind: str
    """``audio`` or ``video``."""
    run: str
    """The recorder run (hex milliseconds of its start)."""
    codec: str
    """``vp8``, ``opus`` or ``h264``."""
    media_type: str
    """Content-Type of the clip's file."""
    start: float
    """Seconds from the session's origin to the clip's first frame."""
    duration: float
    """Seconds from its first frame to the end of its last segment, as laid out in its file."""
    started_at: datetime
    """Wall-clock start."""
    frames: int
    """Encoded frames in all its segments."""
    segments: tuple[ClipSegment, ...]
    """Its segments in order."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (without blob addresses: those are in the audit trail)."""
        return {
            "id": self.id,
            "track": self.track,
            "participant_id": self.participant_id,
            "kind": self.kind,
            "run": self.run,
            "codec": self.codec,
            "media_type": self.media_type,
            "start": round(self.start, 3),
            "duration": round(self.duration, 3),
            "started_at": self.started_at.isoformat(),
            "segments": len(self.segments),
            "frames": self.frames,
        }


@dataclass(frozen=True)
class Interruption:
    """Time when one track was not recorded, between two of its segments."""

    track: str
    """``<participant>:<kind>``."""
    participant_id: str
    """Whose track."""
    kind: str
    """``audio`` or ``video``."""
    reason: str
    """``restart`` (the recorder started again: reconnect, crash) or ``gap`` (inside one run)."""
    start: float
    """Offset where the recording stopped."""
    end: float
    """Offset where it went on."""
    started_at: datetime
    """Wall clock of ``start``."""
    ended_at: datetime
    """Wall clock of ``end``."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "track": self.track,
            "participant_id": self.participant_id,
            "kind": self.kind,
            "reason": self.reason,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
        }


@dataclass(frozen=True)
class CaucusPeriod:
    """A caucus during the session."""

    start: float
    """Offset of its start (negative: before the recording began)."""
    end: float | None
    """Offset of its end (None: it had not ended)."""
    started_at: datetime
    """Wall clock of its start."""
    ended_at: datetime | None
    """Wall clock of its end."""
    members: tuple[str, ...]
    """Participant ids with the mediator in the caucus."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "start": round(self.start, 3),
            "end": None if self.end is None else round(self.end, 3),
            "started_at": self.started_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "members": list(self.members),
        }


@dataclass(frozen=True)
class Timeline:
    """A session's recording, laid out for playback."""

    case_id: str
    """The case."""
    session_id: str
    """The session."""
    sealed: bool
    """Built from the signed manifest (the session ended) rather than from the audit trail now."""
    manifest_document_id: str | None
    """The signed manifest's document, when sealed."""
    signature_ok: bool | None
    """Whether the manifest's signature holds under this server's key (None: not sealed)."""
    origin: datetime
    """Wall-clock time of offset 0: the earliest segment's start."""
    duration: float
    """Seconds from the origin to the end of the last clip."""
    clips: tuple[Clip, ...]
    """Every run of every track, ordered by track, then start."""
    interruptions: tuple[Interruption, ...]
    """Where tracks were not recorded."""
    caucus: tuple[CaucusPeriod, ...]
    """Caucus periods."""
    resumed_after_interruption: tuple[float, ...]
    """Offsets where the session went on after the server had stopped mid-session."""
    resumed_at: tuple[datetime, ...] = field(default=())
    """Wall clock of the same."""

    def clip(self, clip_id: str) -> Clip:
        """The clip with this id; NotFound if there is none."""
        for clip in self.clips:
            if clip.id == clip_id:
                return clip
        raise NotFound("No such clip in this session's recording")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "case_id": self.case_id,
            "session_id": self.session_id,
            "sealed": self.sealed,
            "manifest_document_id": self.manifest_document_id,
            "signature_ok": self.signature_ok,
            "origin": self.origin.isoformat(),
            "duration": round(self.duration, 3),
            "clips": [c.as_dict() for c in self.clips],
            "interruptions": [i.as_dict() for i in self.interruptions],
            "caucus": [c.as_dict() for c in self.caucus],
            "resumed_after_interruption": [
                {"offset": round(o, 3), "at": at.isoformat()}
                for o, at in zip(self.resumed_after_interruption, self.resumed_at, strict=True)
            ],
        }


@dataclass(frozen=True)
class SessionRecording:
    """One session of a case that has recorded segments."""

    session_id: str
    """The session."""
    started_at: datetime
    """Earliest segment start."""
    ended_at: datetime
    """End of the latest segment."""
    tracks: int
    """Distinct tracks."""
    segments: int
    """Stored segments."""
    sealed: bool
    """Whether its signed manifest has been written (the session ended)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "session_id": self.session_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "duration": round((self.ended_at - self.started_at).total_seconds(), 3),
            "tracks": self.tracks,
            "segments": self.segments,
            "sealed": self.sealed,
        }


def run_of(file: str, participant_id: str, kind: str) -> str:
    """The recorder run in a segment name ``<participant>-<kind>-<run>-<index>.mkv`` (``0``: older names)."""
    prefix = f"{participant_id}-{kind}-"
    stem = file.removesuffix(".mkv")
    if stem.startswith(prefix):
        parts = stem[len(prefix) :].split("-")
        if len(parts) == 2 and parts[0]:
            return parts[0]
    return "0"


def lay_out(segments: Sequence[tuple[datetime, float]]) -> list[float]:
    """Where each segment of one run sits in the run's file, in seconds from the first one's start.

    ``segments``: (wall-clock start, duration) in recording order. A segment sits at its
    wall-clock offset, unless that would overlap the one before it (frames that reached
    the server in a burst: the first frame of a segment arrived late, or a sender caught
    up), in which case it starts where the one before ends. :func:`remux` writes the
    file this way, so a clip's duration is its file's length, and its interruptions are
    where the file has none.
    """
    if not segments:
        return []
    first = segments[0][0]
    offsets: list[float] = []
    end = 0.0
    for started_at, duration in segments:
        offset = max((started_at - first).total_seconds(), end)
        offsets.append(offset)
        end = offset + duration
    return offsets


def build_timeline(
    manifest: dict[str, Any],
    codecs: dict[str, str] | None = None,
    *,
    sealed: bool = False,
    document_id: str | None = None,
    signature_ok: bool | None = None,
) -> Timeline:
    """Lay out a manifest (``recording.archive`` format) for playback; ``codecs``: clip id -> codec."""
    codecs = codecs or {}
    runs: list[tuple[str, str, str, str, list[dict[str, Any]]]] = []  # track, participant, kind, run, segments
    for track in manifest["tracks"]:
        participant, kind = track["participant_id"], track["kind"]
        by_run: dict[str, list[dict[str, Any]]] = {}
        for segment in track["segments"]:
            by_run.setdefault(run_of(segment["file"], participant, kind), []).append(segment)
        for run, mine in by_run.items():
            mine.sort(key=lambda s: (int(s["index"]), s["started_at"]))
            runs.append((track["track"], participant, kind, run, mine))
    if not runs:
        raise NotFound("No recording of this session")
    origin = min(_iso(r[4][0]["started_at"]) for r in runs)
    clips = []
    for track_name, participant, kind, run, segments in runs:
        clip_start = _iso(segments[0]["started_at"])
        offsets = lay_out([(_iso(s["started_at"]), float(s["duration"])) for s in segments])
        clip_id = f"{participant}-{kind}-{run}"
        codec = codecs.get(clip_id) or DEFAULT_CODECS.get(kind, "")
        clips.append(
            Clip(
                id=clip_id,
                track=track_name,
                participant_id=participant,
                kind=kind,
                run=run,
                codec=codec,
                media_type=MEDIA_TYPES.get((kind, codec), "application/octet-stream"),
                start=(clip_start - origin).total_seconds(),
                duration=offsets[-1] + float(segments[-1]["duration"]),
                started_at=clip_start,
                frames=sum(int(s["frames"]) for s in segments),
                segments=tuple(
                    ClipSegment(
                        index=int(s["index"]),
                        file=s["file"],
                        blob=s["blob"],
                        sha256=s["sha256"],
                        started_at=_iso(s["started_at"]),
                        duration=float(s["duration"]),
                        frames=int(s["frames"]),
                        offset=offset,
                    )
                    for s, offset in zip(segments, offsets, strict=True)
                ),
            )
        )
    interruptions_raw: list[tuple[Clip, str, datetime, datetime]] = []
    previous: Clip | None = None
    for clip in sorted(clips, key=lambda c: (c.track, c.started_at)):
        if previous is not None and previous.track == clip.track:
            stopped = previous.started_at + _seconds(previous.duration)
            interruptions_raw.append((clip, "restart", stopped, max(clip.started_at, stopped)))
        for before, after in itertools.pairwise(clip.segments):
            end = before.offset + before.duration
            if after.offset - end > GAP_TOLERANCE:
                at = clip.started_at
                interruptions_raw.append((clip, "gap", at + _seconds(end), at + _seconds(after.offset)))
        previous = clip
    duration = max(c.start + c.duration for c in clips)
    interruptions = tuple(
        Interruption(
            track=c.track,
            participant_id=c.participant_id,
            kind=c.kind,
            reason=reason,
            start=(a - origin).total_seconds(),
            end=(b - origin).total_seconds(),
            started_at=a,
            ended_at=b,
        )
        for c, reason, a, b in interruptions_raw
    )
    caucus = tuple(
        CaucusPeriod(
            start=(_iso(c["start"]) - origin).total_seconds(),
            end=None if c.get("end") is None else (_iso(c["end"]) - origin).total_seconds(),
            started_at=_iso(c["start"]),
            ended_at=None if c.get("end") is None else _iso(c["end"]),
            members=tuple(c.get("members") or ()),
        )
        for c in manifest.get("caucus", [])
    )
    resumed = tuple(_iso(at) for at in manifest.get("resumed_after_interruption", []))
    return Timeline(
        case_id=manifest["case_id"],
        session_id=manifest["session_id"],
        sealed=sealed,
        manifest_document_id=document_id,
        signature_ok=signature_ok,
        origin=origin,
        duration=duration,
        clips=tuple(sorted(clips, key=lambda c: (c.participant_id, c.kind, c.start))),
        interruptions=tuple(sorted(interruptions, key=lambda i: (i.start, i.track))),
        caucus=caucus,
        resumed_after_interruption=tuple((at - origin).total_seconds() for at in resumed),
        resumed_at=resumed,
    )


# ---------------------------------------------------------------- withholding caucus periods

CAUCUS_MARGIN = 0.25
"""Seconds added on both sides of a caucus period before segments are tested against it.

A segment's wall-clock start is when its first frame reached the server and a caucus
starts when the mediator's command was handled: both on the server's clock, but frames
travel and wait in jitter buffers. Withholding a quarter of a second more is cheap;
playing a quarter of a second of a private conversation is not."""


def caucus_periods_from_trail(entries: Sequence[AuditEntry], session_id: str) -> list[dict[str, Any]]:
    """The session's caucus periods (manifest format) from the audit trail's ``room.caucus`` entries.

    A caucus started while another was running ends the earlier one (the room replaces it).
    """
    out: list[dict[str, Any]] = []
    running: dict[str, Any] | None = None
    for entry in entries:
        if entry.action != "room.caucus":
            continue
        details = entry.details_dict()
        if details.get("session_id") != session_id:
            continue
        if running is not None:
            out.append({**running, "end": entry.at})
            running = None
        if details.get("members"):
            running = {"start": entry.at, "members": list(details["members"])}
    if running is not None:
        out.append({**running, "end": None})
    return out


def _caucus_period(raw: dict[str, Any], origin: datetime) -> CaucusPeriod:
    start = _iso(raw["start"])
    end = None if raw.get("end") is None else _iso(raw["end"])
    return CaucusPeriod(
        start=(start - origin).total_seconds(),
        end=None if end is None else (end - origin).total_seconds(),
        started_at=start,
        ended_at=end,
        members=tuple(raw.get("members") or ()),
    )


@dataclass(frozen=True)
class Withholding:
    """What one viewer is not played: the caucus periods they were not in, and the segments that overlap them."""

    participant_id: str
    """The viewer (a party)."""
    periods: tuple[CaucusPeriod, ...]
    """Every caucus period of the session (manifest and audit trail together), by start."""
    margin: float = CAUCUS_MARGIN
    """Seconds added on both sides of a period."""

    @property
    def private(self) -> tuple[CaucusPeriod, ...]:
        """The periods the viewer was not a member of."""
        return tuple(p for p in self.periods if self.withheld(p))

    def withheld(self, period: CaucusPeriod) -> bool:
        """Whether ``period`` is withheld from the viewer."""
        return self.participant_id not in period.members

    def overlapping(self, segment: ClipSegment) -> tuple[CaucusPeriod, ...]:
        """The private periods the segment overlaps (any overlap, within the margin)."""
        margin = _seconds(self.margin)
        start = segment.started_at
        end = start + _seconds(segment.duration)
        out = []
        for period in self.private:
            if end <= period.started_at - margin:
                continue  # the segment ended before the period began
            if period.ended_at is not None and start >= period.ended_at + margin:
                continue  # it began after the period ended (a period that never ended goes on)
            out.append(period)
        return tuple(out)

    def segments(self, clip: Clip) -> tuple[ClipSegment, ...]:
        """The clip's segments withheld from the viewer."""
        return tuple(s for s in clip.segments if self.overlapping(s))


def withholding_for(
    timeline: Timeline, participant_id: str, trail_periods: Sequence[dict[str, Any]] = ()
) -> Withholding:
    """The viewer's withholding: the timeline's caucus periods plus those only the audit trail has."""
    periods = list(timeline.caucus)
    known = {(p.started_at, p.ended_at, frozenset(p.members)) for p in periods}
    for raw in trail_periods:
        period = _caucus_period(raw, timeline.origin)
        if (period.started_at, period.ended_at, frozenset(period.members)) not in known:
            periods.append(period)
    periods.sort(key=lambda p: (p.started_at, p.ended_at is None, p.ended_at or p.started_at))
    return Withholding(participant_id, tuple(periods))


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _files(manifest: dict[str, Any]) -> set[str]:
    return {s["file"] for t in manifest["tracks"] for s in t["segments"]}


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=float(value))


# ---------------------------------------------------------------- remuxing


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
class Remuxed:
    """One file made of a clip's segments."""

    data: bytes
    """The file."""
    codec: str
    """Codec of its one stream (``vp8``, ``opus``, ``h264``)."""
    container: str
    """``webm`` or ``mp4``."""
    packets: int
    """Encoded frames written."""
    seconds: float
    """Timestamp of the last packet written (from the file's start)."""


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


def _output_for(codec: str, extradata: bytes | None) -> tuple[str, dict[str, str]]:
    if codec == "h264":
        # Fragmented MP4 puts the codec configuration up front; with none known yet the
        # muxer takes it from the first keyframe, which needs the moov at the end instead.
        if extradata:
            return "mp4", {"movflags": "frag_keyframe+empty_moov+default_base_moof", "fflags": "+bitexact"}
        return "mp4", {"fflags": "+bitexact"}
    return "webm", {"fflags": "+bitexact"}


def remux(parts: Sequence[tuple[float, bytes]]) -> Remuxed:
    """Join Matroska segments of one track into one file, without re-encoding.

    ``parts``: (seconds from the clip's start, segment file) in order, the
    offsets being those :func:`lay_out` gives. Each segment's packets are shifted
    by its offset; a segment that would still overlap the previous one starts one
    frame after its last instead, so timestamps only increase. CPU-bound: call it in a worker thread.
    """
    if not parts:
        raise ValueError("nothing to remux")
    buffer = io.BytesIO()
    output: Any = None
    out_stream: Any = None
    codec = container = ""
    written = 0
    last = 0.0
    follows = 0.0
    try:
        for offset, data in parts:
            with av.open(io.BytesIO(data), "r", format="matroska") as source:
                stream: Any = next(s for s in source.streams if s.type in ("audio", "video"))
                name = _codec_name(stream.codec_context.name)
                if output is None:
                    codec = name
                    container, options = _output_for(codec, stream.codec_context.extradata)
                    output = av.open(buffer, "w", format=container, options=options)
                    out_stream = output.add_stream_from_template(stream)
                elif name != codec:
                    raise ValueError(f"a clip's segments changed codec ({codec} -> {name})")
                packets = [p for p in source.demux(stream) if p.size and p.pts is not None]
                if not packets:
                    continue
                base = stream.time_base
                first = float(packets[0].pts * base)
                span = float((packets[-1].pts - packets[0].pts) * base)
                step = span / (len(packets) - 1) if len(packets) > 1 else float(base)
                shift = round(max(offset, follows - first) / float(base))
                for packet in packets:
                    packet.pts += shift
                    packet.dts = packet.pts if packet.dts is None else packet.dts + shift
                    last = max(last, float(packet.pts * base))  # mux() rescales the packet in place
                    packet.stream = out_stream
                    output.mux(packet)
                    written += 1
                follows = last + step  # the earliest the next segment may start: one frame later
    finally:
        if output is not None:
            output.close()
    return Remuxed(buffer.getvalue(), codec, container, written, last)


def probe_codec(data: bytes) -> str:
    """The codec of a Matroska segment's first audio or video stream."""
    with av.open(io.BytesIO(data), "r", format="matroska") as source:
        stream = next(s for s in source.streams if s.type in ("audio", "video"))
        return _codec_name(stream.codec_context.name)


# ---------------------------------------------------------------- the service


_CODEC_CACHE: OrderedDict[str, str] = OrderedDict()
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
