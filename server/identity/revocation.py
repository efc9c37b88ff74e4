"""Revocation pushed to whoever holds a live connection: this node's listeners, and every node.

A revoked token is refused by the store on its next use, but a socket authenticates once,
when it opens. So every revocation (a link revoked or reissued, a logout, an account
disabled) is also *published*: the signaling edge subscribes and closes the sockets (and
their media) of that credential at once. :class:`LocalRevocations` reaches this process;
:class:`RedisRevocations` also reaches every other node (and is how a command-line process
reaches the servers) through a Redis channel. A message lost on the way is caught by the
signaling edge's periodic re-check against the store, so the push is about speed, the store
about truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

CHANNEL = "mediation:revocations"
"""The Redis channel revocations travel on."""


@dataclass(frozen=True)
class Revoked:
    """Credentials that stopped working."""

    subject_id: str
    """The participant or account whose credentials they are."""
    token_id: str | None = None
    """One credential (a logout), or None for every credential of the subject."""

    def covers(self, subject_id: str, token_id: str) -> bool:
        """Whether a connection authenticated with this subject and token is affected."""
        return subject_id == self.subject_id and self.token_id in (None, token_id)


Listener = Callable[[Revoked], Awaitable[None]]
"""Told of each revocation (on this node, whichever node it happened on)."""


class RevocationBus(Protocol):
    """Where revocations are announced."""

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` for every revocation from now on."""
        ...

    async def publish(self, revoked: Revoked) -> None:
        """Announce a revocation that the store already holds."""
        ...

    async def start(self) -> None:
        """Begin hearing other nodes (a no-op for one node)."""
        ...

    async def close(self) -> None:
        """Stop hearing other nodes and release connections."""
        ...


class LocalRevocations:
    """One process: publishing calls the listeners directly."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    async def _deliver(self, revoked: Revoked) -> None:
        for listener in list(self.listeners):
            try:
                await listener(revoked)
            except Exception as exc:  # noqa: BLE001 - one failing listener must not stop the others
                logger.error("a revocation listener failed: %s", type(exc).__name__)

    async def publish(self, revoked: Revoked) -> None:
        await self._deliver(revoked)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisRevocations(LocalRevocations):
    """Several nodes: revocations also go out on a Redis channel, and come in from it."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as aioredis

        self.redis: Any = aioredis.from_url(url, decode_responses=True)
        self.node = uuid.uuid4().hex
        """Messages this process sent come back on the channel: they are skipped."""
        self._listening: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def publish(self, revoked: Revoked) -> None:
        await self._deliver(revoked)
        message = json.dumps({"node": self.node, "subject": revoked.subject_id, "token": revoked.token_id})
        try:
            await self.redis.publish(CHANNEL, message)
        except Exception as exc:  # noqa: BLE001 - the store holds the revocation; other nodes re-check it
            logger.warning("could not announce a revocation to other nodes: %s", type(exc).__name__)

    async def start(self) -> None:
        if self._listening is None:
            self._listening = asyncio.ensure_future(self._listen())
            # wait (bounded) until subscribed, so that nothing published after start is missed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), 5)

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = self.redis.pubsub()
                try:
                    await pubsub.subscribe(CHANNEL)
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._received(message.get("data"))
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: listen again shortly
                logger.warning("revocation channel lost (%s); listening again", type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _received(self, data: Any) -> None:
        try:
            body = json.loads(data)
            node, subject, token = body["node"], body["subject"], body["token"]
        except (TypeError, ValueError, KeyError):
            logger.warning("ignored a malformed message on the revocation channel")
            return
        if node == self.node or not isinstance(subject, str) or not isinstance(token, str | None):
            return
        await self._deliver(Revoked(subject, token))

    async def close(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
            self._listening = None
        await self.redis.aclose()
