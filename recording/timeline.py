"""A session's recording as a timeline of clips, and what a party is not played of it: pure.

A session's recording is a set of tracks (each participant's microphone and
camera); a track is recorded in *runs* (one per recorder: a reconnect or a
server restart starts a new run, whose segment names carry a new run id) and
each run in segments of a few seconds. For playback:

- :func:`build_timeline` turns a session's manifest (``recording.archive``
  format) into a :class:`Timeline`: the session's origin (the earliest
  segment's wall-clock start), one :class:`Clip` per run of a track with its
  offset from the origin, the interruptions between runs (and gaps inside one),
  the caucus periods and the restarts after a crash, all as offsets in seconds.
- :func:`lay_out` says where each segment of a clip sits in the clip's one
  playable file: at its wall-clock offset from the clip's start (what keeps a
  clip aligned with the other tracks) unless that would overlap the segment
  before it (frames that reached the server in a burst). ``recording.remux``
  writes the file with the same offsets, so a clip's duration is its file's
  length.
- :class:`Withholding`: what a party who may play (``MEDIATION_PLAYBACK_PARTIES``)
  is *not* played: every segment, of every track, that overlaps a caucus period
  the party was not a member of (by :data:`CAUCUS_MARGIN` or more: any overlap
  withholds the whole segment). Withheld segments are never opened. The periods
  are those of the manifest *and* those the audit trail gives
  (:func:`caucus_periods_from_trail`: a caucus started while another ran closes
  the earlier one there), so neither alone can let a private conversation through.

No I/O, no clock, no event loop, no PyAV: ``recording.playback`` reads the
manifest, the audit trail and the codecs and hands them in (an import-linter
contract keeps ``av``, ``asyncio`` and the store out of this module).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from server.domain.audit import AuditEntry
from server.errors import NotFound

GAP_TOLERANCE = 1.0
"""Seconds between one segment's end and the next one's start that still count as continuous."""

MEDIA_TYPES = {
    ("video", "vp8"): "video/webm",
    ("audio", "opus"): "audio/webm",
    ("video", "h264"): "video/mp4",
}
"""(kind, libav codec) -> the Content-Type of a clip's file."""

DEFAULT_CODECS = {"video": "vp8", "audio": "opus"}
"""What a track is taken to hold when no segment of it can be opened to look."""

# ---------------------------------------------------------------- the timeline


@dataclass(frozen=True)
class ClipSegment:
    """One stored segment of a clip (what :meth:`recording.playback.RecordingPlayback.clip_media` opens)."""

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
    up), in which case it starts where the one before ends. :func:`recording.remux.remux` writes the
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


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=float(value))
