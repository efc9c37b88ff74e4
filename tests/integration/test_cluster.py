"""Several nodes on one PostgreSQL and one Redis: each room is hosted by one node, and a page that
reaches another node is sent to the host (same link, same identity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio  # type: ignore[import-untyped]

from server.app import ROOMS
from tests.live import Cluster
from tests.media import make_clip
from tests.peers import ClientPeer

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]


async def test_a_room_is_hosted_by_one_node_and_pages_are_sent_there(
    cluster: Cluster, redis_client: Any, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "clip.webm")
    a_url, b_url = cluster.urls
    mediator = ClientPeer(b_url, cluster.tokens["mediator"], case_id=cluster.case_id, clip=clip)
    applicant = ClientPeer(a_url, cluster.tokens["applicant"])
    try:
        await mediator.connect()
        assert (await mediator.join())["ok"]
        assert await redis_client.get(f"mediation:room:{cluster.case_id}") == b_url
        await mediator.publish()
        await applicant.connect()
        ack = await applicant.join()
        assert ack["ok"] and ack["presence"] == "waiting", ack
        assert (applicant.moved_from, applicant.base_url) == (a_url, b_url)
        assert (await mediator.emit("admit", {"participant_id": cluster.ids["applicant"]}))["ok"]
        await applicant.publish()
        mid = next(iter(cluster.apps[1][ROOMS].rooms[cluster.case_id].room.members))
        await applicant.wait_for(lambda p: p.frames_from(mid) >= 10, what="media from the host node")
        assert cluster.case_id not in cluster.apps[0][ROOMS].rooms  # node A hosts nothing of it
        # the session ends: the claim is released and the next session may start anywhere
        assert (await mediator.emit("end"))["ok"]
        await mediator.wait_for(lambda p: any(e == "ended" for e, _ in p.events), what="ended")
        assert await redis_client.get(f"mediation:room:{cluster.case_id}") is None
    finally:
        await applicant.close()
        await mediator.close()


async def test_other_origins_are_refused(cluster: Cluster) -> None:
    a_url, b_url = cluster.urls
    ok = socketio.AsyncClient(reconnection=False)
    await ok.connect(
        b_url, auth={"token": cluster.tokens["applicant"]}, headers={"Origin": a_url}, transports=["websocket"]
    )
    await ok.disconnect()
    async with aiohttp.ClientSession() as http:
        evil = socketio.AsyncClient(reconnection=False, http_session=http)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await evil.connect(
                b_url,
                auth={"token": cluster.tokens["applicant"]},
                headers={"Origin": "http://evil.example"},
                transports=["websocket"],
            )
