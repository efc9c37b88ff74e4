"""The port between a room and whatever moves its media (the aiortc forwarder, or a fake in unit tests)."""

from __future__ import annotations

from typing import Any, Protocol

from rooms.model import Route
from rooms.ports import Caption, Segment


class MediaListener(Protocol):
    """What the media layer reports back to the room."""

    async def connection_changed(self, participant_id: str, connected: bool) -> None:
        """A member's media came up, or stopped (connection lost or no packets for a few seconds)."""
        ...

    async def offer(self, participant_id: str, sdp: str, tracks: dict[str, Any], uplink: dict[str, str]) -> None:
        """Send a member the server's offer (the server always offers).

        ``uplink`` maps the ``mid`` of each line on which the page sends its own
        media to its kind; ``tracks`` maps each other ``mid`` to
        ``{"participant_id", "kind"}`` so that the page knows whose tile it feeds.
        """
        ...

    async def segment(self, segment: Segment) -> None:
        """A recording segment closed: store it (encrypted) and put its hash in the audit trail."""
        ...

    async def caption(self, participant_id: str, caption: Caption) -> None:
        """The live transcript heard a member: show it to those who hear them; keep final lines."""
        ...


class MediaSession(Protocol):
    """One room's media: a peer connection per member and the forwarding between them."""

    async def connect(self, participant_id: str) -> None:
        """(Re)connect a member: a new peer connection, offered to the page through the listener."""
        ...

    async def accept_answer(self, participant_id: str, answer_sdp: str) -> None:
        """The page's answer to the server's latest offer."""
        ...

    async def add_candidate(self, participant_id: str, candidate: dict[str, Any]) -> None:
        """A trickled ICE candidate from the page."""
        ...

    def set_routes(self, routes: frozenset[Route]) -> None:
        """Forward exactly these routes from now on."""
        ...

    def set_recording(self, publishers: frozenset[str]) -> None:
        """Record exactly these members' media from now on (empty: record nothing)."""
        ...

    def set_vocabulary(self, words: tuple[str, ...]) -> None:
        """The case's own words (names, insurers, places, plates): the live transcript leans towards them."""
        ...

    async def disconnect(self, participant_id: str) -> None:
        """Close a member's peer connection."""
        ...

    async def close(self) -> None:
        """Close everything."""
        ...
