"""The scene report's pure rules as the scene stage uses them: what a driver still lacks, the finding's checks, the
states' guard, the newest photo of a slot, and the finding's stored form."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from server.domain.scene import (
    Driver,
    Liability,
    LiabilityFinding,
    PhotoSlot,
    ScenePhoto,
    SceneReport,
    SceneState,
    check_finding,
    missing_items,
    require_state,
)
from server.errors import IllegalTransition, InvalidCommand
from server.scene.store import _finding, finding_json
from server.scene.usecases import current_photos

AT = datetime(2026, 12, 5, 1, 30, tzinfo=UTC)
FULL = Driver(1, "d1", "孙一", "13900000011", "330102199001011111", "浙A12345", "人保", None, "左前门")


def photo(slot: PhotoSlot, n: int, driver: int = 1) -> ScenePhoto:
    return ScenePhoto(f"p{n}", driver, slot, "image/jpeg", f"{n:064x}", 10, 800, 600, "0" * 64, 20, None, AT)


def report(*photos: ScenePhoto, drivers: tuple[Driver, ...] = (FULL, Driver(2, "d2"))) -> SceneReport:
    return SceneReport("r", "KC-20261205-0001", "u", SceneState.STARTED, AT, AT, "文一路", drivers, photos)


def test_missing_items_name_items_then_photos_in_the_pages_order() -> None:
    assert missing_items(report(), 2)[:6] == ["姓名", "手机号", "驾驶证号", "号牌号码", "保险公司", "受损部位"]
    assert missing_items(report(), 1) == ["车前方全景", "车后方全景", "碰撞部位", "人车合影"]
    every = report(*(photo(s, i) for i, s in enumerate(PhotoSlot)))
    assert missing_items(every, 1) == []
    assert missing_items(every, 2)[-4:] == ["车前方全景", "车后方全景", "碰撞部位", "人车合影"]  # driver 1's photos


def test_a_photo_taken_again_replaces_the_slot_but_not_the_record() -> None:
    r = report(photo(PhotoSlot.FRONT, 1), photo(PhotoSlot.REAR, 2), photo(PhotoSlot.FRONT, 3))
    current = current_photos(r)
    assert current[1, PhotoSlot.FRONT].id == "p3" and len(current) == 2 and len(r.photos) == 3


def finding(**changes: object) -> LiabilityFinding:
    base = LiabilityFinding(
        {1: Liability.MAJOR, 2: Liability.MINOR}, {1: 70, 2: 30}, "刮擦", "未让行", "officer", AT, Decimal("1800"), 1
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"shares": {1: 70, 2: 20}},
        {"shares": {1: 110, 2: -10}},
        {"liabilities": {1: Liability.FULL}},
        {"payer": 3},
        {"payer": None},
        {"agreed_amount": None},
    ],
)
def test_a_finding_is_refused_unless_it_names_both_drivers_with_shares_adding_to_100(changes: object) -> None:
    check_finding(report(), finding())
    with pytest.raises(InvalidCommand):
        check_finding(report(), finding(**changes))  # type: ignore[arg-type]


def test_the_finding_is_stored_and_read_back_unchanged() -> None:
    made = finding(made_at=AT + timedelta(hours=1))
    assert _finding(finding_json(made)) == made
    assert _finding(finding_json(finding(agreed_amount=None, payer=None))) == finding(agreed_amount=None, payer=None)


def test_each_command_names_the_state_that_refused_it() -> None:
    require_state(report(), "add a photo", SceneState.STARTED, SceneState.RETURNED)
    with pytest.raises(IllegalTransition, match='Cannot accept the report in state "started"'):
        require_state(report(), "accept the report", SceneState.SUBMITTED)
