"""Scene reports over real HTTP on SQLite and PostgreSQL: start, join with the code (and wrong codes), items, photos
(checked from their bytes; a photo taken again stays in the chain), complete, submit, the police desk (accept,
return, finding, close), and who may touch what (another unit's officer: 404; a driver's link opens no case)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest

from server.domain.roles import AccountKind
from server.scene.endpoints import SCENES
from tests.builders import (
    SCENE_DRIVERS,
    case_with_parties,
    forget_scene_starts,
    png_claiming,
    scene_photo,
    staff_of,
)
from tests.conftest import Api

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True),
]

UNIT = "示范区公安局交通警察大队一中队"
OTHER_UNIT = "另一区公安局交通警察大队"
SCENE = "/api/v1/scene-reports"
DESK = "/api/v1/police/scene-reports"
SLOTS = ("front", "rear", "collision", "driver_with_vehicle")


async def unit_id(api: Api, name: str = UNIT) -> tuple[str, str]:
    """(unit id, an officer's token): the unit is recorded with its first officer."""
    officer = await staff_of(api, AccountKind.POLICE_OFFICER, name, "冯警官")
    status, units, _ = await api.call("GET", "/api/v1/public/police-units")
    assert status == 200
    found = [u["id"] for u in units["units"] if u["name"] == name]
    assert len(found) == 1, units
    return found[0], officer


async def start(api: Api, unit: str) -> dict[str, Any]:
    await forget_scene_starts(api)
    d = SCENE_DRIVERS[0]
    status, out, _ = await api.call(
        "POST",
        "/api/v1/public/scene-reports",
        json={
            "police_unit_id": unit,
            "occurred_at": (api.clock() - timedelta(minutes=10)).isoformat(),
            "place": "杭州市西湖区文一路与学院路口",
            "name": d["name"],
            "phone": d["phone"],
        },
    )
    assert status == 201, out
    assert out["report"]["number"].startswith("KC-20261123-")
    assert out["join_url"] == f"https://mediation.test/scene#join={out['report']['number']}.{out['join_code']}"
    return out


async def join(api: Api, number: str, code: str) -> tuple[int, Any]:
    d = SCENE_DRIVERS[1]
    status, out, _ = await api.call(
        "POST",
        "/api/v1/public/scene-reports/join",
        json={"number": number, "code": code, "name": d["name"], "phone": d["phone"]},
    )
    return status, out


async def upload(api: Api, rid: str, token: str, slot: str, data: bytes, ctype: str = "image/jpeg") -> tuple[int, Any]:
    original = data + b"original"
    q = (
        f"slot={slot}&original_sha256={hashlib.sha256(original).hexdigest()}&original_size={len(original)}"
        "&captured_at=2026-11-23T08:50:00%2B08:00"
    )
    status, out, _ = await api.call(
        "POST", f"{SCENE}/{rid}/photos?{q}", token, data=data, headers={"Content-Type": ctype}
    )
    return status, out


async def fill(api: Api, rid: str, token: str, driver: int) -> None:
    status, out, _ = await api.call("PUT", f"{SCENE}/{rid}/items", token, json=SCENE_DRIVERS[driver - 1])
    assert status == 200, out
    for i, slot in enumerate(SLOTS):
        status, out = await upload(api, rid, token, slot, scene_photo(driver * 10 + i))
        assert status == 201, out


async def submitted(api: Api) -> dict[str, Any]:
    unit, officer = await unit_id(api)
    started = await start(api, unit)
    rid = started["report"]["id"]
    status, joined = await join(api, started["report"]["number"], started["join_code"])
    assert status == 201, joined
    tokens = {1: started["token"], 2: joined["token"]}
    await asyncio.gather(fill(api, rid, tokens[1], 1), fill(api, rid, tokens[2], 2))  # both phones at once
    for n in (1, 2):
        status, out, _ = await api.call("POST", f"{SCENE}/{rid}/complete", tokens[n])
        assert status == 200, out
    assert out["state"] == "submitted"
    return {"id": rid, "tokens": tokens, "officer": officer, "unit": unit, "number": started["report"]["number"]}


async def test_two_drivers_report_and_the_police_accept_and_find(api: Api) -> None:
    r = await submitted(api)
    rid, tokens, officer = r["id"], r["tokens"], r["officer"]

    # each driver sees the other's name and plate, never their phone or licence
    status, view, _ = await api.call("GET", f"{SCENE}/{rid}", tokens[1])
    assert status == 200
    assert view["state_name"] == "已提交，等待交警受理" and view["missing"] == []
    assert view["other"] == {"name": "周二", "plate": "浙AD12345", "completed": True}
    text = str(view)
    assert SCENE_DRIVERS[1]["phone"] not in text and SCENE_DRIVERS[1]["licence_number"] not in text

    # the queue: submitted first
    status, queue, _ = await api.call("GET", DESK, officer)
    assert status == 200 and queue["reports"][0]["id"] == rid and queue["reports"][0]["state"] == "submitted"

    status, desk, _ = await api.call("GET", f"{DESK}/{rid}", officer)
    assert status == 200
    assert {d["phone"] for d in desk["drivers"]} == {SCENE_DRIVERS[0]["phone"], SCENE_DRIVERS[1]["phone"]}
    assert len(desk["photos"]) == 8 and desk["chain"]["ok"] is True
    photo = desk["photos"][0]
    status, data, resp = await api.call("GET", f"{DESK}/{rid}/photos/{photo['id']}", officer)
    assert status == 200 and resp.content_type == "image/jpeg"
    assert hashlib.sha256(data).hexdigest() == photo["sha256"]
    events = [e["action"] for e in desk["chain"]["events"]]
    assert events.count("scene.photo_added") == 8 and events[-1] == "scene.submitted"

    # another unit's officer: 404; a mediator: 403
    other = (await unit_id(api, OTHER_UNIT))[1]
    assert (await api.call("GET", f"{DESK}/{rid}", other))[0] == 404
    assert (await api.call("POST", f"{DESK}/{rid}/accept", other))[0] == 404
    assert rid not in str((await api.call("GET", DESK, other))[1])
    mediator = await staff_of(api, AccountKind.MEDIATOR, "某调解委员会", "调解员")
    assert (await api.call("GET", f"{DESK}/{rid}", mediator))[0] == 403

    # the finding needs an accepted report
    finding = {
        "drivers": [
            {"number": 1, "liability": "major", "share": 70},
            {"number": 2, "liability": "minor", "share": 30},
        ],
        "facts": "甲车变道时与乙车刮擦。",
        "reasons": "甲变更车道未让行。",
        "agreed_amount": "1800.00",
        "payer": 1,
    }
    assert (await api.call("POST", f"{DESK}/{rid}/finding", officer, json=finding))[0] == 409
    status, out, _ = await api.call("POST", f"{DESK}/{rid}/accept", officer)
    assert status == 200 and out["state"] == "accepted"
    status, view, _ = await api.call("GET", f"{SCENE}/{rid}", tokens[2])
    assert view["state_name"] == "已受理，可撤离现场"
    assert (await api.call("POST", f"{DESK}/{rid}/accept", officer))[0] == 409

    bad = {
        **finding,
        "drivers": [{"number": 1, "liability": "major", "share": 70}, {"number": 2, "liability": "minor", "share": 20}],
    }
    status, out, _ = await api.call("POST", f"{DESK}/{rid}/finding", officer, json=bad)
    assert status == 422 and out["code"] == "invalid_command"
    status, out, _ = await api.call("POST", f"{DESK}/{rid}/finding", officer, json=finding)
    assert status == 200, out
    assert out["state"] == "found" and out["finding"]["drivers"][0]["liability_name"] == "主要责任"
    status, view, _ = await api.call("GET", f"{SCENE}/{rid}", tokens[1])
    assert view["finding"]["agreed_amount"] == "1800.00" and view["finding"]["payer"] == 1

    # H2's hook: both signatures move it to signed
    scenes = api.app[SCENES]
    await scenes.record_signed(rid, 1, "doc-1", api.clock())
    assert (await scenes.load(rid)).state.value == "found"
    await scenes.record_signed(rid, 2, "doc-1", api.clock())
    assert (await scenes.load(rid)).state.value == "signed"

    status, out, _ = await api.call("POST", f"{DESK}/{rid}/close", officer)
    assert status == 200 and out["state"] == "closed" and out["chain"]["ok"]
    assert [e["actor"] for e in out["chain"]["events"] if e["action"] == "scene.accepted"][0].startswith("account:")


async def test_return_reopens_both_parts(api: Api) -> None:
    r = await submitted(api)
    rid, tokens, officer = r["id"], r["tokens"], r["officer"]
    status, out, _ = await api.call("POST", f"{DESK}/{rid}/return", officer, json={"reason": "碰撞部位照片不清晰"})
    assert status == 200 and out["state"] == "returned"
    status, view, _ = await api.call("GET", f"{SCENE}/{rid}", tokens[1])
    assert view["state"] == "returned" and view["returned_reason"] == "碰撞部位照片不清晰"
    # driver 1 takes the collision photo again: the old one stays in the chain and the store
    status, again = await upload(api, rid, tokens[1], "collision", scene_photo(99))
    assert status == 201
    for n in (1, 2):
        assert (await api.call("POST", f"{SCENE}/{rid}/complete", tokens[n]))[0] == 200
    status, desk, _ = await api.call("GET", f"{DESK}/{rid}", officer)
    collisions = [p for p in desk["photos"] if p["driver"] == 1 and p["slot"] == "collision"]
    assert len(collisions) == 2 and [p["current"] for p in collisions] == [False, True]
    assert collisions[1]["sha256"] == again["sha256"]
    assert desk["state"] == "submitted" and desk["chain"]["ok"]


async def test_join_codes_refuse_wrong_guesses_and_void_after_five(api: Api) -> None:
    unit, _ = await unit_id(api)
    started = await start(api, unit)
    number, code = started["report"]["number"], started["join_code"]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    status, out = await join(api, number, wrong)
    assert status == 422 and out["code"] == "join_code_refused" and "4 tries left" in out["detail"]
    for _ in range(4):
        await join(api, number, wrong)
    status, out = await join(api, number, code)  # the right code, too late
    assert status == 422 and "no longer works" in out["detail"]

    second = await start(api, unit)
    api.clock.advance(timedelta(minutes=31))
    status, out = await join(api, second["report"]["number"], second["join_code"])
    assert status == 422 and "expired" in out["detail"]

    third = await start(api, unit)
    assert (await join(api, third["report"]["number"], third["join_code"]))[0] == 201
    status, out = await join(api, third["report"]["number"], third["join_code"])
    assert status == 409


async def test_items_and_photos_are_checked_and_nothing_is_stored_on_refusal(api: Api) -> None:
    unit, officer = await unit_id(api)
    started = await start(api, unit)
    rid, token = started["report"]["id"], started["token"]

    for field, value in (("licence_number", "33010219900101"), ("plate", "ZA12345"), ("insurer", "保" * 61)):
        status, out, _ = await api.call("PUT", f"{SCENE}/{rid}/items", token, json={**SCENE_DRIVERS[0], field: value})
        assert status == 422 and out["code"] == "validation_failed", field
    status, out, _ = await api.call("PUT", f"{SCENE}/{rid}/items", token, json={**SCENE_DRIVERS[0], "name": "甲\x00"})
    assert status == 422

    status, out = await upload(api, rid, token, "front", "不是照片 not a photo".encode() * 50)
    assert status == 422 and out["code"] == "not_an_image"
    status, out = await upload(api, rid, token, "front", png_claiming(10000, 10000), "image/png")  # 100 megapixels
    assert status == 422 and out["code"] == "image_size_refused"
    status, out = await upload(api, rid, token, "front", scene_photo(1), "text/plain")
    assert status == 415

    status, out, _ = await api.call("POST", f"{SCENE}/{rid}/complete", token)
    assert status == 422 and out["code"] == "items_missing" and "驾驶证号" in out["detail"]
    status, desk, _ = await api.call("GET", f"{DESK}/{rid}", officer)
    assert desk["photos"] == [] and [e["action"] for e in desk["chain"]["events"]] == ["scene.started"]


async def test_a_driver_link_opens_its_report_only_and_no_case(api: Api) -> None:
    unit, _ = await unit_id(api)
    one, two = await start(api, unit), await start(api, unit)
    assert (await api.call("GET", f"{SCENE}/{two['report']['id']}", one["token"]))[0] == 404
    c = await case_with_parties(api)
    for path in (f"/api/v1/cases/{c['case_id']}", "/api/v1/cases", "/api/v1/me", DESK):
        status, out, _ = await api.call("GET", path, one["token"])
        assert status == 401, (path, out)
    # a case's join link opens no scene report
    assert (await api.call("GET", f"{SCENE}/{one['report']['id']}", c["applicant"]))[0] == 401
    assert (await api.call("GET", f"{SCENE}/{one['report']['id']}"))[0] == 401


async def test_both_phones_writing_at_once_lose_nothing(api: Api) -> None:
    unit, officer = await unit_id(api)
    started = await start(api, unit)
    rid = started["report"]["id"]
    status, joined = await join(api, started["report"]["number"], started["join_code"])
    assert status == 201
    tokens = {1: started["token"], 2: joined["token"]}
    writes = [
        upload(api, rid, tokens[n], slot, scene_photo(n * 10 + i)) for n in (1, 2) for i, slot in enumerate(SLOTS)
    ]
    items = [api.call("PUT", f"{SCENE}/{rid}/items", tokens[n], json=SCENE_DRIVERS[n - 1]) for n in (1, 2)]
    answers = await asyncio.gather(*writes, *items)
    assert [a[0] for a in answers] == [201] * 8 + [200, 200], answers
    status, desk, _ = await api.call("GET", f"{DESK}/{rid}", officer)
    assert len(desk["photos"]) == 8 and {d["plate"] for d in desk["drivers"]} == {"浙A12345", "浙AD12345"}
    actions = [e["action"] for e in desk["chain"]["events"]]
    assert actions.count("scene.photo_added") == 8 and actions.count("scene.items_set") == 2
    assert desk["chain"]["ok"] and desk["chain"]["entries"] == 12


async def test_a_scene_link_lasts_72_hours_and_can_be_revoked(api: Api) -> None:
    unit, _ = await unit_id(api)
    one, two = await start(api, unit), await start(api, unit)
    status, view, _ = await api.call("GET", f"{SCENE}/{one['report']['id']}", one["token"])
    assert status == 200
    driver_id = (await api.app[SCENES].load(one["report"]["id"])).driver(1).id
    await api.app[SCENES].auth.revoke_subject(driver_id, api.clock())
    status, out, _ = await api.call("GET", f"{SCENE}/{one['report']['id']}", one["token"])
    assert status == 401 and out["code"] == "token_revoked"
    api.clock.advance(timedelta(hours=71, minutes=59))
    assert (await api.call("GET", f"{SCENE}/{two['report']['id']}", two["token"]))[0] == 200
    api.clock.advance(timedelta(minutes=1))
    status, out, _ = await api.call("GET", f"{SCENE}/{two['report']['id']}", two["token"])
    assert status == 401 and out["code"] == "token_expired"
