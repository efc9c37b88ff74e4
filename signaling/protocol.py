"""The socket.io protocol: every event a page may send, validated strictly.

Client → server (each answered through the socket.io acknowledgement with
``{"ok": true, ...}`` or ``{"ok": false, "code", "message"}``; failures are also
emitted as an ``error`` event):

=================  =====================================================  ===========
event              payload                                                who
=================  =====================================================  ===========
``join``           ``{"consent": bool}`` (the recording notice accepted)   anyone on the case
``media``          ``{}`` (start or restart my media connection)         joined members
``sdp``            ``{"type": "answer", "sdp": str}``                     joined members
``ice``            ``{"candidate": str, "sdpMid": str?, "sdpMLineIndex"}``  joined members
``chat``           ``{"text": str}``                                      admitted members
``leave``          ``{}``                                                 joined members
``admit``          ``{"participant_id"}``                                 mediator
``deny``           ``{"participant_id"}``                                 mediator
``mute``           ``{"participant_id", "kind": "audio"|"video", "muted"}``  mediator
``remove``         ``{"participant_id"}``                                 mediator
``lock``           ``{"locked": bool}``                                   mediator
``caucus_start``   ``{"members": [participant_id, ...]}``                 mediator
``caucus_end``     ``{}``                                                 mediator
``end``            ``{}``                                                 mediator
=================  =====================================================  ===========

Server → client: ``room`` (the room as this member may see it), ``sdp`` (an
offer with ``uplink``: mid → kind of the page's own audio and video, and
``tracks``: mid → publisher and kind of what it receives), ``chat``,
``error`` (``{"code", "message", "event"}``), ``removed``, ``ended``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_SDP = 64 * 1024
MAX_CHAT = 2000
Pid = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Strict(BaseModel):
    """Strict payloads: unknown fields refused, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Empty(Strict):
    """An event without arguments."""


class Join(Strict):
    """Enter the room; ``consent``: the page showed the recording notice and the person accepted it."""

    consent: bool = False


class Sdp(Strict):
    """The page's answer to the server's offer (the server always offers: one side
    choosing header-extension ids and codecs keeps renegotiation consistent)."""

    type: Literal["answer"]
    sdp: Annotated[str, StringConstraints(min_length=10, max_length=MAX_SDP)]


class Ice(Strict):
    """A trickled ICE candidate from the browser (empty candidate: end of candidates)."""

    candidate: Annotated[str, StringConstraints(max_length=1024)]
    sdpMid: Annotated[str, StringConstraints(max_length=64)] | None = None  # noqa: N815 - browser field name
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)  # noqa: N815 - browser field name
    usernameFragment: Annotated[str, StringConstraints(max_length=256)] | None = None  # noqa: N815


class Chat(Strict):
    """A chat line."""

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CHAT)]


class Target(Strict):
    """A control aimed at one participant."""

    participant_id: Pid


class Mute(Strict):
    """Mute or unmute a participant's audio or video."""

    participant_id: Pid
    kind: Literal["audio", "video"]
    muted: bool


class Lock(Strict):
    """Lock or unlock the room."""

    locked: bool


class Caucus(Strict):
    """Start a caucus with these participants (the mediator is added)."""

    members: list[Pid] = Field(min_length=1, max_length=32)


EVENTS: dict[str, type[Strict]] = {
    "join": Join,
    "media": Empty,
    "sdp": Sdp,
    "ice": Ice,
    "chat": Chat,
    "leave": Empty,
    "admit": Target,
    "deny": Target,
    "mute": Mute,
    "remove": Target,
    "lock": Lock,
    "caucus_start": Caucus,
    "caucus_end": Empty,
    "end": Empty,
}
"""Every event a page may send, with its payload schema."""
