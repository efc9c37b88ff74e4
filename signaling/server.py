"""Signaling over python-socketio, attached to the aiohttp application.

A connection is refused without a valid token (a party's join link, or a
mediator's or judge's login plus the case id), and beyond a few sockets per
participant and a bounded number per client address (:class:`SocketLimits`).
Every event goes through one dispatcher (:meth:`SignalingServer._dispatch`)
that checks the credential's expiry, applies the rate limit, validates the
payload against ``signaling.protocol.EVENTS``, runs the handler and turns
every failure into an ``error`` event with a stable code (and the same object
as the acknowledgement), never a crash. Events are handled one at a time per
connection (``async_handlers=False``), so SDP and ICE arrive in the order the
page sent them.

A credential revoked anywhere (a link revoked or reissued, a logout, an account
disabled) ends its sockets and their media at once: revocations are pushed
(:mod:`server.identity.revocation`, through Redis to every node), and every live
socket's credential is also re-checked against the store every
``SocketLimits.recheck_seconds``.

Nothing of an SDP, a candidate or a chat line is ever logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
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
from server.errors import InvalidCommand, MediationError, TokenRevoked
from server.identity.access import Authenticator, Principal
from server.identity.revocation import Revoked
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


@dataclass(frozen=True)
class SocketLimits:
    """How many sockets one node accepts, and how often it re-checks their credentials."""

    per_participant: int = 4
    """Live sockets of one participant (or account) on one case; a reconnecting page holds two a moment."""
    per_address: int = 64
    """Live sockets from one client address (several people may share one network)."""
    recheck_seconds: float = 30.0
    """Period of the re-check of every live socket's credential against the store."""


@dataclass
class Connection:
    """One page's socket."""

    sid: str
    """socket.io session id."""
    principal: Principal
    """Who authenticated."""
    case_id: str
    """The case this socket is about."""
    address: str = ""
    """The client's address (for the per-address cap)."""
    participant_id: str | None = None
    """Set once joined."""
    events: TokenBucket = field(default_factory=lambda: TokenBucket(rate=20, capacity=80))
    """All events."""
    chat: TokenBucket = field(default_factory=lambda: TokenBucket(rate=1, capacity=5))
    """Chat lines."""


def _error(code: str, message: str, event: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message, "event": event}


def _refused(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    """A refused connection; the page's ``connect_error`` carries ``{"code", "message"}`` as its ``data``."""
    return socketio.exceptions.ConnectionRefusedError(message, {"code": code, "message": message})


class SignalingServer:
    """The socket.io server of one node, and the room notifier."""

    def __init__(
        self,
        rooms: RoomService,
        auth: Authenticator,
        clock: Callable[[], datetime],
        allowed_origins: list[str] | None = None,
        limits: SocketLimits | None = None,
    ) -> None:
        self.rooms = rooms
        self.auth = auth
        self.clock = clock
        self.limits = limits or SocketLimits()
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
        self._connecting: Counter[str] = Counter()
        """Sockets per address still authenticating (they count towards the cap)."""
        self._recheck: asyncio.Task[None] | None = None
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
        auth.revocations.subscribe(self.revoked)

    def attach(self, app: web.Application) -> None:
        """Serve socket.io at ``/socket.io/`` on the application."""
        self.sio.attach(app, socketio_path="socket.io")

    async def start(self) -> None:
        """Hear revocations from other nodes, and re-check live credentials periodically."""
        await self.auth.revocations.start()
        if self._recheck is None:
            self._recheck = asyncio.ensure_future(self._recheck_forever())

    async def close(self) -> None:
        """Stop the re-checks and the revocation channel."""
        if self._recheck is not None:
            self._recheck.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recheck
            self._recheck = None
        await self.auth.revocations.close()

    # ------------------------------------------------------------------ connection

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        request = environ.get("aiohttp.request")
        address = str(getattr(request, "remote", None) or environ.get("REMOTE_ADDR") or "-")
        held = sum(1 for c in self.conns.values() if c.address == address) + self._connecting[address]
        if held >= self.limits.per_address:
            logger.warning("refused a socket: %d already open from one address", held)
            raise _refused("too_many_connections", "Too many connections from this network")
        if not isinstance(auth, dict) or not isinstance(auth.get("token"), str):
            raise _refused("unauthenticated", "Send a token")
        self._connecting[address] += 1
        try:
            principal = await self.auth.authenticate(auth["token"], self.clock())
        except MediationError as exc:
            raise _refused(exc.code, str(exc)) from exc
        finally:
            self._connecting[address] -= 1
            if self._connecting[address] <= 0:
                del self._connecting[address]
        case_id = principal.case_id if not principal.is_account else auth.get("case_id")
        if not isinstance(case_id, str) or not 0 < len(case_id) <= 64:
            raise _refused("validation_failed", "Logged-in staff must name the case (case_id)")
        mine = sum(
            1 for c in self.conns.values() if (c.principal.subject_id, c.case_id) == (principal.subject_id, case_id)
        )
        if mine >= self.limits.per_participant:
            logger.warning("[case=%s] refused a socket: %d already open for one participant", case_id, mine)
            raise _refused("too_many_connections", "Too many connections with this link or login")
        self.conns[sid] = Connection(sid, principal, case_id, address)

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
        expires = conn.principal.expires_at
        if expires is not None and self.clock() >= expires:
            # answered first, then closed: the page learns why
            await self._end(conn, "token_expired", "The link or login has expired", at_once=False)
            return _error("token_expired", "The link or login has expired", event)
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
        if self.conns.get(conn.sid) is not conn:  # revoked while joining: out again at once
            await self.rooms.leave(conn.case_id, joined.participant_id, "system")
            raise TokenRevoked("This link or login has been revoked")
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

    def _close_soon(self, sid: str) -> None:
        """Close a socket after its current acknowledgement has gone out."""
        task = asyncio.ensure_future(self._disconnect_later(sid))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ revocation

    async def _end(self, conn: Connection, code: str, message: str, at_once: bool = True) -> None:
        """End a socket whose credential no longer holds: it leaves the room (its media stop), hears
        why (an ``error`` event with ``code``), and is closed. Its events are refused from now on."""
        if self.conns.get(conn.sid) is not conn:
            return  # already ended
        del self.conns[conn.sid]
        pid, conn.participant_id = conn.participant_id, None
        if pid is not None and self.members.get((conn.case_id, pid)) == conn.sid:
            del self.members[(conn.case_id, pid)]
            await self.rooms.leave(conn.case_id, pid, "system")
        logger.info("[case=%s] ended a socket: %s", conn.case_id, code)
        await self.sio.emit("error", _error(code, message, "connection"), to=conn.sid)
        if at_once:
            await self.sio.disconnect(conn.sid)
        else:
            self._close_soon(conn.sid)

    async def revoked(self, revoked: Revoked) -> None:
        """A credential was revoked (here or on another node): end every socket that uses it."""
        for conn in list(self.conns.values()):
            if revoked.covers(conn.principal.subject_id, conn.principal.token_id):
                await self._end(conn, "token_revoked", "This link or login has been revoked")

    async def recheck(self) -> int:
        """Re-check every live socket's credential against the store; end those that no longer hold.

        Returns how many were ended. One look-up per credential, however many sockets use it.
        """
        now = self.clock()
        verdicts: dict[str, MediationError | None] = {}
        ended = 0
        for conn in list(self.conns.values()):
            token_id = conn.principal.token_id
            if token_id not in verdicts:
                try:
                    await self.auth.authenticate_again(conn.principal, now)
                    verdicts[token_id] = None
                except MediationError as exc:
                    verdicts[token_id] = exc
                except Exception as exc:  # noqa: BLE001 - the store is away: keep the socket, try next round
                    logger.warning("re-checking a socket's credential failed: %s", type(exc).__name__)
                    return ended
            verdict = verdicts[token_id]
            if verdict is not None and self.conns.get(conn.sid) is conn:
                await self._end(conn, verdict.code, str(verdict))
                ended += 1
        return ended

    async def _recheck_forever(self) -> None:
        while True:
            await asyncio.sleep(self.limits.recheck_seconds)
            try:
                await self.recheck()
            except Exception as exc:  # noqa: BLE001 - keep re-checking
                logger.error("the socket re-check failed: %s", type(exc).__name__)

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
        self._close_soon(sid)
