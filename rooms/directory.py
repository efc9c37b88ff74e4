"""Which node hosts a room: one node per room, so that a room's media never crosses nodes.

A single node needs nothing (:class:`LocalDirectory`). With several nodes,
:class:`RedisDirectory` keeps ``mediation:room:<case id> -> <node URL>`` in Redis:
the first node to claim a room hosts it, refreshes the claim while the room
lives and releases it when the session ends; if that node dies, the claim
expires after ``ttl`` seconds and the next join elsewhere takes the room over.
A join that reaches another node is answered with the owner's URL
(``other_node``) and the page reconnects there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from server.errors import InvalidCommand, MediationError

logger = logging.getLogger(__name__)


class OtherNode(MediationError):
    """The room is hosted by another node; connect there."""

    code = "other_node"
    status = 409

    def __init__(self, url: str) -> None:
        super().__init__("This session is hosted by another server; reconnecting there")
        self.url = url


class RoomDirectory(Protocol):
    """Claims rooms for this node."""

    async def claim(self, case_id: str) -> None:
        """Host this room here, or raise :class:`OtherNode` with the owner's URL."""
        ...

    async def release(self, case_id: str) -> None:
        """This node no longer hosts the room."""
        ...

    async def hosted_elsewhere(self, case_id: str) -> bool:
        """Whether another node holds the room now (its session is running there)."""
        ...

    async def close(self) -> None:
        """Stop refreshing and release everything."""
        ...


class LocalDirectory:
    """One node: every room is here."""

    async def claim(self, case_id: str) -> None:
        return None

    async def hosted_elsewhere(self, case_id: str) -> bool:
        return False

    async def release(self, case_id: str) -> None:
        return None

    async def close(self) -> None:
        return None


_REFRESH = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


class RedisDirectory:
    """Room claims in Redis, refreshed every ``ttl / 3`` seconds while held."""

    def __init__(self, url: str, node_url: str, ttl: int = 30) -> None:
        import redis.asyncio as aioredis

        if not node_url:
            raise InvalidCommand("Several nodes need MEDIATION_PUBLIC_URL set on each node")
        self.redis: Any = aioredis.from_url(url, decode_responses=True)
        self.node_url = node_url
        self.ttl = ttl
        self.owned: set[str] = set()
        self._refresher: asyncio.Task[None] | None = None

    @staticmethod
    def _key(case_id: str) -> str:
        return f"mediation:room:{case_id}"

    async def claim(self, case_id: str) -> None:
        key = self._key(case_id)
        if await self.redis.set(key, self.node_url, nx=True, ex=self.ttl):
            self._own(case_id)
            return
        owner = await self.redis.get(key)
        if owner is None:  # expired between the two calls: try once more
            if await self.redis.set(key, self.node_url, nx=True, ex=self.ttl):
                self._own(case_id)
                return
            owner = await self.redis.get(key)
        if owner == self.node_url:
            self._own(case_id)
            return
        raise OtherNode(str(owner))

    async def hosted_elsewhere(self, case_id: str) -> bool:
        owner = await self.redis.get(self._key(case_id))
        return owner is not None and owner != self.node_url

    def _own(self, case_id: str) -> None:
        self.owned.add(case_id)
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        while self.owned:
            await asyncio.sleep(self.ttl / 3)
            for case_id in list(self.owned):
                try:
                    held = await self.redis.eval(_REFRESH, 1, self._key(case_id), self.node_url, self.ttl)
                except Exception:  # noqa: BLE001 - Redis hiccup: try again next round
                    logger.warning("could not refresh the claim on a room; retrying")
                    continue
                if not held:
                    logger.warning("[case=%s] lost the claim on this room", case_id)
                    self.owned.discard(case_id)

    async def release(self, case_id: str) -> None:
        self.owned.discard(case_id)
        await self.redis.eval(_RELEASE, 1, self._key(case_id), self.node_url)

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        for case_id in list(self.owned):
            with contextlib.suppress(Exception):
                await self.release(case_id)
        await self.redis.aclose()
