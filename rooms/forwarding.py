"""Forwarding encoded media on aiortc without decoding or re-encoding.

aiortc (pinned at 1.16.0) decodes everything it receives and encodes
everything it sends. Two facts let us forward encoded media instead:

* **Receive.** ``RTCRtpReceiver._handle_rtp_packet`` assembles each complete
  encoded frame in its jitter buffer and hands ``(codec, JitterFrame)`` to the
  decoder thread through the private queue ``__decoder_queue``
  (``rtcrtpreceiver.py`` lines 291, 567). :class:`Publication` swaps that
  queue for :class:`_Tap`, whose ``put`` gives the frame to us on the event
  loop and never enqueues it: the decoder thread stays blocked in ``get()``
  and ``get_decoder`` is never called. The tap must be installed before
  ``receive()`` starts the thread, i.e. in the ``track`` event.
* **Send.** ``RTCRtpSender._next_encoded_frame`` packs anything that is not an
  ``av.Frame`` with the codec's ``Encoder.pack()`` (no encoding, lines
  294–327). :class:`Outlet` is a track that yields ``av.Packet``.

Keyframes: a subscriber's PLI/FIR reaches ``RTCRtpSender._send_keyframe``,
which we redirect per sender into a PLI towards the publisher
(``RTCRtpReceiver._send_rtcp_pli``); a new or resumed route waits for the next
keyframe and asks for one. ``tests/integration/test_sfu.py`` pins these
internals: if an aiortc upgrade moves them, it fails.

A recorded publication also hands every frame to its frame sink and every
Opus frame to its transcript feed (``rooms.ports``): recording and the live
transcript attach here, and nothing of ``recording/`` is imported.

The peer connections and their negotiation are in ``rooms.sfu``.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import queue
import time
from collections.abc import Callable
from typing import Any

import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from rooms.model import Kind
from rooms.ports import FrameSink, TranscriptFeed

logger = logging.getLogger(__name__)

VIDEO_STEP = 3000
"""90 kHz ticks of one frame at 30 fps: the gap put between two sources on a switch."""
AUDIO_STEP = 960
"""48 kHz ticks of one 20 ms Opus frame."""


def check_aiortc_internals() -> None:
    """Fail loudly at start-up if an aiortc upgrade moved what the forwarder relies on."""
    receiver_code = RTCRtpReceiver.__init__.__code__.co_names + RTCRtpReceiver.receive.__code__.co_names
    missing = [
        name
        for name, present in (
            ("RTCRtpReceiver.__decoder_queue", "_RTCRtpReceiver__decoder_queue" in receiver_code),
            ("RTCRtpReceiver.__decoder_thread", "_RTCRtpReceiver__decoder_thread" in receiver_code),
            ("RTCRtpReceiver._send_rtcp_pli", hasattr(RTCRtpReceiver, "_send_rtcp_pli")),
            ("RTCRtpSender._send_keyframe", hasattr(RTCRtpSender, "_send_keyframe")),
            ("RTCRtpSender._next_encoded_frame", hasattr(RTCRtpSender, "_next_encoded_frame")),
        )
        if not present
    ]
    if missing:
        raise RuntimeError(f"aiortc internals the forwarder needs are gone: {', '.join(missing)}")


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """Whether a depacketised frame starts a picture that decodes on its own."""
    if codec_name == "VP8":
        # RFC 6386 §9.1: P bit clear, and the start code 9d 01 2a at bytes 3..5
        return len(data) >= 10 and not (data[0] & 0x01) and data[3:6] == b"\x9d\x01\x2a"
    if codec_name == "H264":
        # aiortc depacketises to Annex B; an IDR slice is NAL type 5
        i = 0
        while (i := data.find(b"\x00\x00\x01", i)) >= 0 and i + 3 < len(data):
            if data[i + 3] & 0x1F == 5:
                return True
            i += 3
        return False
    return True  # audio frames stand alone


class _Tap(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue: frames go to us, never to a decoder."""

    def __init__(self, sink: Callable[[Any, Any], None]) -> None:
        super().__init__()
        self.sink = sink

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver stopping: let the idle decoder thread end
            super().put(item, block, timeout)
            return
        try:
            self.sink(*item)
        except Exception:  # an exception here would close the DTLS transport (rtcdtlstransport.py)
            logger.exception("forwarding a frame failed")


class Publication:
    """One published track (a member's microphone or camera) and the outlets fed from it."""

    def __init__(self, publisher: str, kind: Kind, receiver: RTCRtpReceiver) -> None:
        if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
            raise RuntimeError("the tap must be installed before the receiver starts")
        self.publisher = publisher
        self.kind = kind
        self.receiver = receiver
        self.outlets: set[Outlet] = set()
        self.recording = False
        self.recorder: FrameSink | None = None
        """Where this publication's frames are recorded (made on the first frame, once the codec is known)."""
        self.make_recorder: Callable[[Any], FrameSink | None] | None = None
        self.transcript: TranscriptFeed | None = None
        """The live transcript's stream of this microphone (while recorded)."""
        self.frames = 0
        self.keyframes = 0
        self.plis_sent = 0
        self.last_frame = time.monotonic()
        self._last_pli = 0.0
        self._ssrc: int | None = None
        receiver._RTCRtpReceiver__decoder_queue = _Tap(self._on_frame)  # type: ignore[attr-defined]
        self._raw_pli = receiver._send_rtcp_pli
        original_receive = receiver.receive

        async def receive(parameters: Any) -> None:
            if parameters.encodings:
                self._ssrc = parameters.encodings[0].ssrc
            await original_receive(parameters)

        receiver.receive = receive  # type: ignore[method-assign]

        async def on_loss(media_ssrc: int) -> None:
            # the jitter buffer dropped data: forwarded pictures are broken until a keyframe
            if self.kind is Kind.VIDEO:
                for outlet in self.outlets:
                    outlet.waiting_keyframe = True
            await self._raw_pli(media_ssrc)

        receiver._send_rtcp_pli = on_loss  # type: ignore[method-assign]

    def _on_frame(self, codec: Any, frame: Any) -> None:
        self.frames += 1
        self.last_frame = time.monotonic()
        key = is_keyframe(codec.name, frame.data) if self.kind is Kind.VIDEO else True
        self.keyframes += key
        if self.recording:
            if self.recorder is None and self.make_recorder is not None:
                self.recorder = self.make_recorder(codec)
                self.make_recorder = None
            if self.recorder is not None:
                self.recorder.write(frame.data, frame.timestamp)
            if self.transcript is not None and codec.name == "opus":
                self.transcript.feed(frame.data, frame.timestamp)
        if not self.outlets:
            return
        base = fractions.Fraction(1, codec.clockRate)
        for outlet in list(self.outlets):
            outlet.offer(frame.data, frame.timestamp, base, key)

    def media_ssrc(self) -> int | None:
        """The publisher's SSRC for PLI."""
        if self._ssrc is not None:
            return self._ssrc
        rtx = set(getattr(self.receiver, "_RTCRtpReceiver__rtx_ssrc", {}))
        for ssrc in getattr(self.receiver, "_RTCRtpReceiver__remote_streams", {}):
            if ssrc not in rtx:
                return int(ssrc)
        return None

    def request_keyframe(self, min_interval: float = 0.3) -> None:
        """Ask the publisher for a keyframe (PLI), at most every ``min_interval`` seconds."""
        if self.kind is not Kind.VIDEO:
            return
        now = time.monotonic()
        ssrc = self.media_ssrc()
        if ssrc is None or now - self._last_pli < min_interval:
            return
        self._last_pli = now
        self.plis_sent += 1
        task = asyncio.ensure_future(self._raw_pli(ssrc))
        task.add_done_callback(log_failure)


def log_failure(task: asyncio.Future[Any]) -> None:
    """Done-callback of a background media task: log how it failed (at debug level), if it did."""
    if not task.cancelled() and task.exception() is not None:
        logger.debug("background media task failed: %r", task.exception())


class Outlet(MediaStreamTrack):
    """What one subscriber's sender sends for one publisher and kind: encoded packets."""

    def __init__(self, subscriber: str, publisher: str, kind: Kind, max_queue: int) -> None:
        super().__init__()
        self.kind = kind.value
        self.subscriber = subscriber
        self.publisher = publisher
        self.media_kind = kind
        self.max_queue = max_queue
        self.source: Publication | None = None
        self.active = False
        self.waiting_keyframe = kind is Kind.VIDEO
        self.forwarded = 0
        self.dropped = 0
        self.keyframe_requests = 0
        self._queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue()
        self._offset: int | None = None
        self._last_pts: int | None = None

    def attach(self, source: Publication | None) -> None:
        """Forward from ``source`` (None: nothing to forward now)."""
        if self.source is source:
            return
        if self.source is not None:
            self.source.outlets.discard(self)
        self.source = source
        self._offset = None
        self.waiting_keyframe = self.media_kind is Kind.VIDEO
        if source is not None and self.active:
            source.outlets.add(self)
            source.request_keyframe()

    def set_active(self, active: bool) -> None:
        """Whether the room's routes include this outlet now."""
        if active == self.active:
            return
        self.active = active
        if self.source is None:
            return
        if active:
            self._offset = None
            self.waiting_keyframe = self.media_kind is Kind.VIDEO
            self.source.outlets.add(self)
            self.source.request_keyframe()
        else:
            self.source.outlets.discard(self)
            while not self._queue.empty():
                self._queue.get_nowait()

    def bind(self, sender: RTCRtpSender) -> None:
        """Turn the subscriber's keyframe requests into PLIs towards the publisher."""

        def on_keyframe_request() -> None:
            self.keyframe_requests += 1
            if self.source is not None:
                self.source.request_keyframe()

        sender._send_keyframe = on_keyframe_request  # type: ignore[method-assign]

    def offer(self, data: bytes, timestamp: int, time_base: fractions.Fraction, key: bool) -> None:
        """A frame from the source."""
        if self.waiting_keyframe:
            if not key:
                self.dropped += 1
                return
            self.waiting_keyframe = False
        if self._queue.qsize() >= self.max_queue:
            while not self._queue.empty():
                self._queue.get_nowait()
            self.dropped += 1
            if self.media_kind is Kind.VIDEO and self.source is not None:
                self.waiting_keyframe = True
                self.source.request_keyframe()
            return
        if self._offset is None:
            # keep outgoing timestamps monotonic across pauses and source switches
            step = VIDEO_STEP if self.media_kind is Kind.VIDEO else AUDIO_STEP
            self._offset = 0 if self._last_pts is None else self._last_pts + step - timestamp
        pts = timestamp + self._offset
        self._last_pts = pts
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = time_base
        self._queue.put_nowait(packet)
        self.forwarded += 1

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        if self.source is not None:
            self.source.outlets.discard(self)
        self._queue.put_nowait(None)
        super().stop()
