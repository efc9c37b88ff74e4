"""The port between a room and whatever moves its media (the aiortc forwarder, or a fake in unit tests)."""

from __future__ import annotations

from typing import Any, Protocol

from rooms.model import Route


class MediaListener(Protocol):
    """What the media layer reports back to the room."""

    async def connection_changed(self, participant_id: str, connected: bool) -> None:
        """A member's media came up, or stopped (connection lost or no packets for a few seconds)."""
        ...

    async def offer(self, participant_id: str, sdp: str, tracks: dict[str, Any]) -> None:
        """The server needs to renegotiate with a member: send them this offer.

        ``tracks`` maps each transceiver ``mid`` to ``{"participant_id", "kind"}``
        so that the page knows whose tile a track belongs to.
        """
        ...


class MediaSession(Protocol):
    """One room's media: a peer connection per member and the forwarding between them."""

    async def connect(self, participant_id: str, offer_sdp: str) -> str:
        """(Re)connect a member from their page's offer; return the server's answer."""
        ...

    async def accept_answer(self, participant_id: str, answer_sdp: str) -> None:
        """The page's answer to a renegotiation offer."""
        ...

    async def add_candidate(self, participant_id: str, candidate: dict[str, Any]) -> None:
        """A trickled ICE candidate from the page."""
        ...

    def set_routes(self, routes: frozenset[Route]) -> None:
        """Forward exactly these routes from now on."""
        ...

    async def disconnect(self, participant_id: str) -> None:
        """Close a member's peer connection."""
        ...

    async def close(self) -> None:
        """Close everything."""
        ...
