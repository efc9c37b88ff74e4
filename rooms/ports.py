"""The ports through which recording and the live transcript attach to a room's media.

``rooms/`` forwards media; it neither records nor recognises speech. What it needs
of those it names here, as :class:`typing.Protocol` classes, and the composition
root (``server/app.py``) passes ``recording/``'s implementations in, which satisfy
them structurally (mypy checks it where they are passed)::

    FrameSink        recording.segments.TrackRecorder     one recorded track's encoded frames
    RecorderFactory  recording.segments.Recorders         makes a FrameSink per recorded publication
    Segment          recording.segments.Segment           a closed piece of a recorded track
    RecordingStore   recording.evidence.EvidenceStore     seals segments, writes the session's manifest
    Transcriber      recording.asr.pool.TranscriptionPool the live transcript's workers
    TranscriptFeed   recording.asr.pool.TranscriptStream  one microphone, fed to them
    Caption          recording.asr.pool.Caption           what they recognised

The forwarder hands every frame of a recorded publication to its frame sink and
every Opus frame of a recorded microphone to its transcript feed; the room passes
closed segments on to the recording store and shows captions to the members.
Nothing here reads the clock: the implementations are given one by the
composition root.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol


class Segment(Protocol):
    """A closed piece of one recorded track; the room only passes it on to the :class:`RecordingStore`."""

    @property
    def name(self) -> str:
        """File name, unique within the case."""
        ...

    @property
    def data(self) -> bytes:
        """The complete file, not yet sealed."""
        ...

    def details(self) -> dict[str, Any]:
        """JSON-ready facts for the audit trail (track, index, hash, start, duration…)."""
        ...


SegmentSink = Callable[[Segment], Awaitable[None]]
"""Where a frame sink hands each segment it closed."""


class FrameSink(Protocol):
    """Takes the encoded frames of one recorded track, as received (no decoding)."""

    def write(self, data: bytes, timestamp: int) -> None:
        """One encoded frame and its RTP timestamp (on the event loop; never raises)."""
        ...

    async def close(self) -> None:
        """Close the open segment; return once every segment has been handed to the segment sink."""
        ...


class RecorderFactory(Protocol):
    """Makes the frame sink of one recorded publication."""

    def __call__(
        self,
        track: str,
        codec: str,
        clock_rate: int,
        on_segment: SegmentSink,
        request_keyframe: Callable[[], None],
        segment_seconds: float,
    ) -> FrameSink | None:
        """A sink for ``track`` (``<participant id>:<kind>``) in ``codec`` (the RTP codec name),
        or None if this codec is not recorded; ``request_keyframe`` asks the publisher for a
        keyframe (a video segment starts on one)."""
        ...


class RecordingStore(Protocol):
    """Keeps a room's recording as evidence."""

    async def store_segment(self, case_id: str, session_id: str, segment: Segment, now: datetime) -> None:
        """Seal a closed segment into the blob store and chain its hash into the case's audit trail."""
        ...

    async def seal_session(self, case_id: str, session_id: str, now: datetime) -> None:
        """The session ended: write its signed manifest of every segment."""
        ...


class Caption(Protocol):
    """A partial or final recognition result of one member's speech (the fields a room reads)."""

    @property
    def final(self) -> bool:
        """False: the text may still change (the speaker is still talking)."""
        ...

    @property
    def text(self) -> str:
        """What was recognised (empty for a final: nothing intelligible, clear the partial)."""
        ...

    @property
    def started_at(self) -> datetime:
        """Wall-clock start of the utterance."""
        ...

    @property
    def ended_at(self) -> datetime:
        """Wall-clock end of the audio recognised."""
        ...

    @property
    def engine(self) -> str:
        """Engine and model."""
        ...

    @property
    def heard(self) -> str:
        """Finals: the engine's own text before the record's repairs and number writing (kept beside it)."""
        ...

    @property
    def language(self) -> str:
        """Language asked for."""
        ...


CaptionSink = Callable[[Caption], None]
"""Where a transcript feed's captions go (called on the event loop)."""


class TranscriptFeed(Protocol):
    """One member's microphone, fed to the live transcript."""

    def feed(self, payload: bytes, rtp_timestamp: int) -> None:
        """One Opus packet as received (on the event loop; never blocks, never raises)."""
        ...

    async def close(self) -> None:
        """Stop feeding; return once what is left has been recognised."""
        ...


class Transcriber(Protocol):
    """The live transcript: turns members' speech into captions."""

    @property
    def available(self) -> bool:
        """Whether captions can be made (False: the engine failed; the room goes on without)."""
        ...

    def open(self, sink: CaptionSink, language: str | None = None, words: Sequence[str] = ()) -> TranscriptFeed:
        """A feed for one microphone; its captions go to ``sink``. ``words``: the case's own words (names,
        insurers, places, plates), which recognition leans towards."""
        ...
