"""Endpoints: playing a session's recording back (mediators and judges; parties where allowed).

- ``GET …/recording/sessions``: the case's sessions that have recordings.
- ``GET …/recording/sessions/{session_id}/timeline``: clips, interruptions and caucus
  periods as offsets from the session's origin (``recording.playback``).
- ``GET …/recording/sessions/{session_id}/clips/{clip_id}``: one clip as one file
  (WebM or MP4, never re-encoded). Segments that fail verification are left out and
  named in ``X-Recording-Skipped``/``X-Recording-Problems``. Every playback is an audit
  entry (``recording.played``) written *before* the bytes go out: access to evidence
  is itself evidence. A request with no ``Range``, or one from byte 0 (what a media
  element sends first), opens a playback: the clip is built afresh (every segment
  checked again), kept in the :class:`recording.clipcache.ClipCache`, and audited. The
  other ``Range`` requests are answered from that build, unaudited when the same caller
  opened its playback (audited otherwise, and built again when it is no longer kept).

Parties get 403 unless the application sets :data:`PLAYBACK_PARTIES`; a party who
may play is never played a caucus they were not in: the segments (of every track)
that overlap such a period are withheld by the server (``recording.playback.Withholding``),
counted in ``X-Recording-Withheld`` and named in the audit entry, and the party's
timeline marks those periods ``withheld`` (and each clip's withheld segments). A clip
entirely inside such periods answers 403. Mediators and judges get everything.
"""

from __future__ import annotations

import re
from datetime import datetime

from aiohttp import web
from pydantic import AwareDatetime

from recording.archive import RecordingArchive
from recording.clipcache import CacheDamaged, CachedClip, ClipCache, ClipKey, etag_of
from recording.playback import ClipMedia, RecordingPlayback
from server.cases.endpoints import SERVICE
from server.cases.usecases import Access
from server.domain.roles import ACCOUNT_ROLES, PARTY_ROLES, Action
from server.errors import Forbidden
from server.http.kit import API, Endpoint, case_id, now, principal, respond
from server.http.problems import problem
from server.http.schemas import Open
from server.identity.access import Principal
from server.store.repository import AuditRecord

ARCHIVE: web.AppKey[RecordingArchive] = web.AppKey("archive", RecordingArchive)
"""The recording archive playback reads."""

PLAYBACK_PARTIES: web.AppKey[bool] = web.AppKey("playback_parties", bool)
"""Whether parties (applicant, respondent, agent, insurer) may play recordings too (default: no)."""

PLAYED = "recording.played"
"""The audit action of every playback of a clip."""
CLIP_CACHE: web.AppKey[ClipCache] = web.AppKey("clip_cache", ClipCache)
"""Built clips that the ``Range`` requests of a playback reuse (absent: every request builds)."""


# ---------------------------------------------------------------- schemas


class RecordedSession(Open):
    """A session with recorded segments."""

    session_id: str
    started_at: AwareDatetime
    ended_at: AwareDatetime
    duration: float
    tracks: int
    segments: int
    sealed: bool
    status: str | None = None
    scheduled_start: AwareDatetime | None = None


class RecordedSessions(Open):
    """The case's sessions that have recordings, oldest first."""

    sessions: list[RecordedSession]


class PlaybackClip(Open):
    """One run of one track: one playable file."""

    id: str
    track: str
    participant_id: str
    kind: str
    run: str
    codec: str
    media_type: str
    start: float
    duration: float
    started_at: AwareDatetime
    segments: int
    frames: int
    url: str
    withheld: int = 0
    """Segments of this clip withheld from the caller (caucus periods they were not in); 0 for staff."""


class PlaybackInterruption(Open):
    """Time when a track was not recorded (``restart``: the recorder started again; ``gap``)."""

    track: str
    participant_id: str
    kind: str
    reason: str
    start: float
    end: float
    started_at: AwareDatetime
    ended_at: AwareDatetime


class PlaybackCaucus(Open):
    """A caucus period (offsets; ``end`` null when it had not ended)."""

    start: float
    end: float | None
    started_at: AwareDatetime
    ended_at: AwareDatetime | None
    members: list[str]
    withheld: bool = False
    """The caller was not in this caucus: its media is not played to them (never for staff)."""


class PlaybackResumption(Open):
    """The session went on after the server had stopped mid-session."""

    offset: float
    at: AwareDatetime


class PlaybackParticipant(Open):
    """Someone whose tracks are in the recording."""

    participant_id: str
    display_name: str
    role: str


class PlaybackTimeline(Open):
    """A session's recording laid out for playback: offsets in seconds from ``origin``."""

    case_id: str
    session_id: str
    sealed: bool
    manifest_document_id: str | None
    signature_ok: bool | None
    origin: AwareDatetime
    duration: float
    clips: list[PlaybackClip]
    interruptions: list[PlaybackInterruption]
    caucus: list[PlaybackCaucus]
    resumed_after_interruption: list[PlaybackResumption]
    participants: list[PlaybackParticipant]
    restricted: bool = False
    """The caller is played only the caucus periods they were in (a party)."""


# ---------------------------------------------------------------- handlers


def _playback(request: web.Request) -> RecordingPlayback:
    return RecordingPlayback(request.app[ARCHIVE])


async def may_play(request: web.Request, who: Principal, cid: str) -> Access:
    """The caller's access if they may play this case's recordings (NotFound: no role; else Forbidden)."""
    service = request.app[SERVICE]
    try:
        return await service.require(who, cid, Action.PLAY_RECORDING)
    except Forbidden:
        access = await service.access(who, cid)
        if access.role in PARTY_ROLES and request.app.get(PLAYBACK_PARTIES, False):
            return access
        raise


def restricted_to(access: Access) -> str | None:
    """The participant whose caucus membership limits what the caller is played (None: staff get all)."""
    return None if access.role in ACCOUNT_ROLES else access.participant_id


def _clip_url(cid: str, sid: str, clip_id: str) -> str:
    return f"{API}/cases/{cid}/recording/sessions/{sid}/clips/{clip_id}"


async def recorded_sessions(request: web.Request) -> web.Response:
    who = await principal(request)
    cid = case_id(request)
    await may_play(request, who, cid)
    sessions = await _playback(request).sessions(cid)
    loaded = await request.app[SERVICE].repo.load_case(cid)
    known = {s.id: s for s in loaded.case.sessions}
    out = []
    for rec in sessions:
        item = rec.as_dict()
        scheduled = known.get(rec.session_id)
        if scheduled is not None:
            item["status"] = scheduled.status.value
            item["scheduled_start"] = scheduled.scheduled_start.isoformat()
        out.append(item)
    return respond({"sessions": out})


async def timeline(request: web.Request) -> web.Response:
    who = await principal(request)
    cid = case_id(request)
    access = await may_play(request, who, cid)
    sid = request.match_info["session_id"]
    playback = _playback(request)
    laid_out = await playback.timeline(cid, sid, now(request))
    body = laid_out.as_dict()
    viewer = restricted_to(access)
    body["restricted"] = viewer is not None
    if viewer is None:
        for clip in body["clips"]:
            clip["withheld"] = 0
        for period in body["caucus"]:
            period["withheld"] = False
    else:
        withholding = await playback.withholding(laid_out, viewer)
        counts = {c.id: len(withholding.segments(c)) for c in laid_out.clips}
        for clip in body["clips"]:
            clip["withheld"] = counts[clip["id"]]
        body["caucus"] = [{**p.as_dict(), "withheld": withholding.withheld(p)} for p in withholding.periods]
    for clip in body["clips"]:
        clip["url"] = _clip_url(cid, sid, clip["id"])
    recorded = {c.participant_id for c in laid_out.clips}
    body["participants"] = [
        {"participant_id": p.id, "display_name": p.display_name, "role": p.role.value}
        for p in await request.app[SERVICE].repo.participants(cid)
        if p.id in recorded
    ]
    return respond(body)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """The asked range lies outside the file."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single ``Range: bytes=…``; None: serve everything; raise RangeNotSatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: the whole file is a valid answer
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # the last N bytes
        count = int(last_text)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - count), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiable
    return first, min(last, size - 1)


def opens_playback(header: str | None) -> bool:
    """Whether a request starts a playback: no ``Range``, one from byte 0, or one served whole."""
    if not header:
        return True
    match = _RANGE.match(header.strip())
    if match is None:
        return True  # several ranges or another unit: the whole file is served
    first, last = match.groups()
    return (first != "" and int(first) == 0) or (not first and not last)


def _played(sid: str, clip_id: str, media: ClipMedia, wanted: str | None) -> dict[str, object]:
    return {
        "session_id": sid,
        "clip_id": clip_id,
        "track": media.clip.track,
        "segments": len(media.clip.segments) - len(media.skipped) - len(media.withheld),
        "skipped": [p.file for p in media.skipped],
        "withheld": [s.file for s in media.withheld],
        "withheld_periods": [
            {
                "started_at": p.started_at.isoformat(),
                "ended_at": None if p.ended_at is None else p.ended_at.isoformat(),
            }
            for p in media.withheld_periods
        ],
        "range": wanted,
    }


def _headers(media: ClipMedia, etag: str) -> dict[str, str]:
    headers = {
        "Cache-Control": "no-store",
        "Accept-Ranges": "bytes",
        "ETag": f'"{etag}"',
        "X-Recording-Frames": str(media.frames),
        "X-Recording-Skipped": str(len(media.skipped)),
        "X-Recording-Withheld": str(len(media.withheld)),
    }
    if media.skipped:
        headers["X-Recording-Problems"] = "; ".join(str(p) for p in media.skipped)
    return headers


def _unsatisfiable(size: int) -> web.Response:
    response = problem(416, "range_not_satisfiable", "The requested range is outside the clip")
    response.headers["Content-Range"] = f"bytes */{size}"
    return response  # nothing served, nothing to record


async def play_clip(request: web.Request) -> web.StreamResponse:
    who = await principal(request)
    cid = case_id(request)
    access = await may_play(request, who, cid)
    sid, clip_id = request.match_info["session_id"], request.match_info["clip_id"]
    at: datetime = now(request)
    viewer = restricted_to(access)
    wanted = request.headers.get("Range")
    cache = request.app.get(CLIP_CACHE)
    key = ClipKey(cid, sid, clip_id, viewer or "")
    entry = cache.get(key) if cache is not None and not opens_playback(wanted) else None
    if cache is not None and entry is not None:
        served = await _from_cache(request, cache, entry, wanted, who.actor, at)
        if served is not None:
            return served
    media = await _playback(request).clip_media(cid, sid, clip_id, at, restricted_to=viewer)
    size = len(media.data)
    try:
        span = byte_range(wanted, size)
    except RangeNotSatisfiable:
        return _unsatisfiable(size)
    kept = await cache.put(key, media) if cache is not None else None
    details = _played(sid, clip_id, media, wanted if span is not None else None)
    await request.app[SERVICE].repo.record(cid, [AuditRecord(who.actor, PLAYED, details)], at, attempts=20)
    if kept is not None:
        kept.viewers.add(who.actor)
    headers = _headers(media, kept.etag if kept is not None else etag_of(media.data))
    if span is None:
        return web.Response(body=media.data, content_type=media.media_type, headers=headers)
    first, last = span
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return web.Response(status=206, body=media.data[first : last + 1], content_type=media.media_type, headers=headers)


async def _from_cache(
    request: web.Request, cache: ClipCache, entry: CachedClip, wanted: str | None, actor: str, at: datetime
) -> web.StreamResponse | None:
    """A later ``Range`` request of a playback, from the kept build; None: build it again."""
    try:
        span = byte_range(wanted, entry.size)
    except RangeNotSatisfiable:
        return _unsatisfiable(entry.size)
    first, last = span if span is not None else (0, entry.size - 1)
    pieces = cache.read(entry, first, last)
    try:
        try:
            piece = await anext(pieces)
        except CacheDamaged:
            return None
        if actor not in entry.viewers:  # this caller did not open this build's playback: theirs starts here
            details = _played(entry.key.session_id, entry.key.clip_id, entry.media, wanted)
            await request.app[SERVICE].repo.record(
                entry.key.case_id, [AuditRecord(actor, PLAYED, details)], at, attempts=20
            )
            entry.viewers.add(actor)
        headers = _headers(entry.media, entry.etag)
        if span is not None:
            headers["Content-Range"] = f"bytes {first}-{last}/{entry.size}"
        response = web.StreamResponse(status=206 if span is not None else 200, headers=headers)
        response.content_type = entry.media.media_type
        response.content_length = last - first + 1
        await response.prepare(request)
        while True:
            await response.write(piece)
            try:
                piece = await anext(pieces)
            except StopAsyncIteration:
                break
        await response.write_eof()
        return response
    finally:
        await pieces.aclose()


# ---------------------------------------------------------------- the table

_SESSIONS = f"{API}/cases/{{case_id}}/recording/sessions"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        _SESSIONS,
        recorded_sessions,
        "Sessions of the case that have recordings (mediators, judges)",
        "listRecordedSessions",
        RecordedSessions,
        errors=(401, 403, 404),
        tags=("recording",),
    ),
    Endpoint(
        "GET",
        f"{_SESSIONS}/{{session_id}}/timeline",
        timeline,
        "A session's recording for playback: clips, interruptions, caucus periods",
        "readRecordingTimeline",
        PlaybackTimeline,
        errors=(401, 403, 404),
        tags=("recording",),
    ),
    Endpoint(
        "GET",
        f"{_SESSIONS}/{{session_id}}/clips/{{clip_id}}",
        play_clip,
        "One clip of a recording as one WebM or MP4 file (audited; Range supported; "
        "a party is not played the caucus periods they were not in)",
        "playRecordingClip",
        None,
        errors=(401, 403, 404, 416),
        raw_response="video/webm",
        tags=("recording",),
    ),
)
