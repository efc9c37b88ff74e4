"""Signaling over python-socketio, attached to the aiohttp application.

A connection is refused without a valid token (a party's join link, or a
mediator's or judge's login plus the case id). Every event goes through one
dispatcher (:meth:`SignalingServer._dispatch`) that applies the rate limit,
validates the payload against ``signaling.protocol.EVENTS``, runs the handler
and turns every failure into an ``error`` event with a stable code (and the
same object as the acknowledgement), never a crash. Events are handled one
at a time per connection (``async_handlers=False``), so SDP and ICE arrive in
the order the page sent them.

Nothing of an SDP, a candidate or a chat line is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import socketio  # type: ignore[import-untyped]
from aiohttp import web
from pydantic import BaseModel, ValidationError

from rooms import model as rm
from rooms.directory import OtherNode
from rooms.service import LiveRoom, RoomService, room_view
from server.errors import InvalidCommand, MediationError
from server.identity.access import Authenticator, Principal
from signaling import protocol as p

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 128 * 1024
"""Largest socket.io message accepted (an SDP is about 5–20 KiB)."""


class TokenBucket:
    """At most ``rate`` events a second on average, bursts up to ``capacity``."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Connection:
    """One page's socket."""

    sid: str
    """socket.io session id."""
    principal: Principal
    """Who authenticated."""
    case_id: str
    """The case this socket is about."""
    participant_id: str | None = None
    """Set once joined."""
    events: TokenBucket = field(default_factory=lambda: TokenBucket(rate=20, capacity=80))
    """All events."""
    chat: TokenBucket = field(default_factory=lambda: TokenBucket(rate=1, capacity=5))
    """Chat lines."""


def _error(code: str, message: str, event: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message, "event": event}


class SignalingServer:
    """The socket.io server of one node, and the room notifier."""

    def __init__(
        self,
        rooms: RoomService,
        auth: Authenticator,
        clock: Callable[[], datetime],
        allowed_origins: list[str] | None = None,
    ) -> None:
        self.rooms = rooms
        self.auth = auth
        self.clock = clock
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            async_handlers=False,
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            ping_interval=5,
            ping_timeout=5,
            cors_allowed_origins=allowed_origins,  # None: same origin only
            logger=False,
            engineio_logger=False,
        )
        self.conns: dict[str, Connection] = {}
        self.members: dict[tuple[str, str], str] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("*", self._dispatch)
        self._handlers: dict[str, Callable[[Connection, Any], Awaitable[dict[str, Any]]]] = {
            "join": self._join,
            "media": self._media,
            "sdp": self._sdp,
            "ice": self._ice,
            "chat": self._chat,
            "leave": self._leave,
            "admit": lambda c, m: self._control(c, rm.Admit(m.participant_id)),
            "deny": lambda c, m: self._control(c, rm.Deny(m.participant_id)),
            "mute": lambda c, m: self._control(c, rm.SetMuted(m.participant_id, rm.Kind(m.kind), m.muted)),
            "remove": lambda c, m: self._control(c, rm.Remove(m.participant_id)),
            "lock": lambda c, m: self._control(c, rm.SetLocked(m.locked)),
            "caucus_start": lambda c, m: self._control(c, rm.StartCaucus(frozenset(m.members))),
            "caucus_end": lambda c, m: self._control(c, rm.EndCaucus()),
            "end": lambda c, m: self._control(c, rm.EndRoom()),
        }
        assert set(self._handlers) == set(p.EVENTS)
        rooms.notifier = self

    def attach(self, app: web.Application) -> None:
        """Serve socket.io at ``/socket.io/`` on the application."""
        self.sio.attach(app, socketio_path="socket.io")

    # ------------------------------------------------------------------ connection

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        if not isinstance(auth, dict) or not isinstance(auth.get("token"), str):
            raise socketio.exceptions.ConnectionRefusedError({"code": "unauthenticated", "message": "Send a token"})
        try:
            principal = await self.auth.authenticate(auth["token"], self.clock())
        except MediationError as exc:
            raise socketio.exceptions.ConnectionRefusedError({"code": exc.code, "message": str(exc)}) from exc
        case_id = principal.case_id if not principal.is_account else auth.get("case_id")
        if not isinstance(case_id, str) or not 0 < len(case_id) <= 64:
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "validation_failed", "message": "Logged-in staff must name the case (case_id)"}
            )
        self.conns[sid] = Connection(sid, principal, case_id)

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self.conns.pop(sid, None)
        if conn is None or conn.participant_id is None:
            return
        key = (conn.case_id, conn.participant_id)
        if self.members.get(key) != sid:
            return  # an older socket of someone who already reconnected
        del self.members[key]
        await self.rooms.leave(conn.case_id, conn.participant_id, conn.principal.actor)

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, event: str, sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
        conn = self.conns.get(sid)
        if conn is None:
            return _error("unauthenticated", "Not connected", event)
        result = await self._handle(conn, event, data, extra)
        if not result.get("ok"):
            await self.sio.emit("error", result, to=sid)
        return result

    async def _handle(self, conn: Connection, event: str, data: Any, extra: tuple[Any, ...]) -> dict[str, Any]:
        if not conn.events.take():
            return _error("rate_limited", "Too many events; slow down", event)
        schema = p.EVENTS.get(event)
        if schema is None or extra:
            return _error("unknown_event", "Unknown event or extra arguments", event[:64])
        try:
            payload = schema.model_validate({} if data is None else data)
            return await self._handlers[event](conn, payload)
        except ValidationError as exc:
            fields = sorted({".".join(str(x) for x in e["loc"]) for e in exc.errors(include_input=False)})
            return _error("validation_failed", f"Invalid payload: {', '.join(fields) or 'body'}", event)
        except OtherNode as exc:
            return {**_error(exc.code, str(exc), event), "url": exc.url}
        except MediationError as exc:
            return _error(exc.code, str(exc), event)
        except Exception:
            logger.exception("[case=%s] signaling event %s failed", conn.case_id, event)
            return _error("internal_error", "Internal server error", event)

    def _joined(self, conn: Connection) -> str:
        if conn.participant_id is None:
            raise InvalidCommand("Join the room first")
        return conn.participant_id

    # ------------------------------------------------------------------ handlers

    async def _join(self, conn: Connection, msg: p.Join) -> dict[str, Any]:
        conn.principal = await self.auth.authenticate_again(conn.principal, self.clock())
        joined = await self.rooms.join(conn.principal, conn.case_id, consent=msg.consent)
        key = (conn.case_id, joined.participant_id)
        old = self.members.get(key)
        conn.participant_id = joined.participant_id
        self.members[key] = conn.sid
        if old is not None and old != conn.sid:
            # the same person on a new connection: one identity, one tile
            self.conns.pop(old, None)
            await self.sio.emit("replaced", {"reason": "joined from another connection"}, to=old)
            await self.sio.disconnect(old)
        live = self.rooms.rooms.get(conn.case_id)
        view = room_view(live, joined.participant_id) if live else {}
        await self.sio.emit("room", view, to=conn.sid)
        return {
            "ok": True,
            "participant_id": joined.participant_id,
            "role": joined.role.value,
            "presence": joined.presence.value,
        }

    async def _media(self, conn: Connection, _: BaseModel) -> dict[str, Any]:
        pid = self._joined(conn)
        await self.rooms.start_media(conn.case_id, pid)
        return {"ok": True}

    async def _sdp(self, conn: Connection, msg: p.Sdp) -> dict[str, Any]:
        pid = self._joined(conn)
        await self.rooms.answer(conn.case_id, pid, msg.sdp)
        return {"ok": True}

    async def _ice(self, conn: Connection, msg: p.Ice) -> dict[str, Any]:
        pid = self._joined(conn)
        await self.rooms.candidate(conn.case_id, pid, msg.model_dump())
        return {"ok": True}

    async def _chat(self, conn: Connection, msg: p.Chat) -> dict[str, Any]:
        pid = self._joined(conn)
        if not conn.chat.take():
            return _error("rate_limited", "Too many messages; slow down", "chat")
        line, audience = await self.rooms.chat(conn.case_id, pid, msg.text)
        for member in audience:
            sid = self.members.get((conn.case_id, member))
            if sid is not None:
                await self.sio.emit("chat", line, to=sid)
        return {"ok": True, "id": line["id"]}

    async def _leave(self, conn: Connection, _: BaseModel) -> dict[str, Any]:
        pid = self._joined(conn)
        self.members.pop((conn.case_id, pid), None)
        conn.participant_id = None
        await self.rooms.leave(conn.case_id, pid, conn.principal.actor)
        return {"ok": True}

    async def _control(self, conn: Connection, command: rm.RoomCommand) -> dict[str, Any]:
        self._joined(conn)
        await self.rooms.control(conn.principal, conn.case_id, command)
        return {"ok": True}

    async def _disconnect_later(self, sid: str, delay: float = 0.5) -> None:
        await asyncio.sleep(delay)
        await self.sio.disconnect(sid)

    # ------------------------------------------------------------------ RoomNotifier

    async def room_changed(self, live: LiveRoom) -> None:
        for pid in live.room.members:
            sid = self.members.get((live.room.case_id, pid))
            if sid is not None:
                await self.sio.emit("room", room_view(live, pid), to=sid)

    async def send(self, case_id: str, participant_id: str, event: str, data: dict[str, Any]) -> None:
        sid = self.members.get((case_id, participant_id))
        if sid is not None:
            await self.sio.emit(event, data, to=sid)

    async def disconnect(self, case_id: str, participant_id: str, event: str, data: dict[str, Any]) -> None:
        sid = self.members.pop((case_id, participant_id), None)
        if sid is None:
            return
        conn = self.conns.pop(sid, None)
        if conn is not None:
            conn.participant_id = None
        await self.sio.emit(event, data, to=sid)
        # not awaited here: this may run inside that very socket's event handler, whose
        # acknowledgement must still go out before the socket closes
        task = asyncio.ensure_future(self._disconnect_later(sid))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
