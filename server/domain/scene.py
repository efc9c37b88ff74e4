"""Scene reports (快处快赔): a minor accident reported by both drivers from their phones.

The first driver starts a report on the public page and gets a join code for the other driver.
Each driver gives the five items (driving licence number, plate number, insurer, a photo of
themselves with their vehicle, the damaged part) and takes the three scene photos (from the front,
from behind, the collision point). When both have completed their part, the report is submitted to
the traffic police unit the first driver chose. An officer accepts it (the drivers may leave the
scene) or returns it with a reason, then makes the liability finding; the electronic accident finding
(电子事故认定书) rendered from it is signed by both drivers on their phones. The drivers may then ask
for mediation: the report becomes a case.

Pure rules only: the store keeps the records, ``server.scene`` applies these rules to who is asking.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from server.errors import IllegalTransition, InvalidCommand


class SceneState(enum.StrEnum):
    """Where a scene report stands."""

    STARTED = "started"
    """The first driver started it; one or both drivers have not completed their part."""
    SUBMITTED = "submitted"
    """Both drivers completed their part: in the police unit's queue."""
    RETURNED = "returned"
    """An officer asked the drivers for more or for corrections (with a reason); they submit again."""
    ACCEPTED = "accepted"
    """An officer accepted it: the drivers may leave the scene."""
    FOUND = "found"
    """The liability finding is made; the electronic accident finding awaits both drivers' signatures."""
    SIGNED = "signed"
    """Both drivers signed the electronic accident finding."""
    MEDIATION = "mediation"
    """The drivers asked for mediation: it became a case (``SceneReport.case_id``)."""
    CLOSED = "closed"
    """Closed by the police unit (settled between the drivers, or handled off-line)."""


SCENE_STATE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        SceneState.STARTED: "填报中",
        SceneState.SUBMITTED: "已提交，等待交警受理",
        SceneState.RETURNED: "已退回补充",
        SceneState.ACCEPTED: "已受理，可撤离现场",
        SceneState.FOUND: "已认定责任，等待签字",
        SceneState.SIGNED: "双方已签字",
        SceneState.MEDIATION: "已转调解",
        SceneState.CLOSED: "已结案",
    }
)
"""Each state as the drivers' phones and the police desk show it."""

assert set(SCENE_STATE_NAMES) == set(SceneState), "every scene state needs its name"


class PhotoSlot(enum.StrEnum):
    """Which photo a driver took."""

    FRONT = "front"
    """The scene from the front (车前方全景)."""
    REAR = "rear"
    """The scene from behind (车后方全景)."""
    COLLISION = "collision"
    """The collision point of both vehicles (碰撞部位)."""
    DRIVER_WITH_VEHICLE = "driver_with_vehicle"
    """The driver with their vehicle (人车合影), one of the five items."""


PHOTO_SLOT_NAMES: Mapping[str, str] = MappingProxyType(
    {
        PhotoSlot.FRONT: "车前方全景",
        PhotoSlot.REAR: "车后方全景",
        PhotoSlot.COLLISION: "碰撞部位",
        PhotoSlot.DRIVER_WITH_VEHICLE: "人车合影",
    }
)

assert set(PHOTO_SLOT_NAMES) == set(PhotoSlot), "every photo slot needs its name"

SCENE_PHOTOS = (PhotoSlot.FRONT, PhotoSlot.REAR, PhotoSlot.COLLISION)
"""The three scene photos every driver takes."""

DRIVERS = (1, 2)
"""Driver numbers: 1 started the report, 2 joined it."""


class Liability(enum.StrEnum):
    """A driver's liability in the finding (责任), with its usual share of the compensation."""

    FULL = "full"
    MAJOR = "major"
    EQUAL = "equal"
    MINOR = "minor"
    NONE = "none"


LIABILITY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        Liability.FULL: "全部责任",
        Liability.MAJOR: "主要责任",
        Liability.EQUAL: "同等责任",
        Liability.MINOR: "次要责任",
        Liability.NONE: "无责任",
    }
)

assert set(LIABILITY_NAMES) == set(Liability), "every liability needs its name"

LIABILITY_SHARES: Mapping[str, int] = MappingProxyType(
    {Liability.FULL: 100, Liability.MAJOR: 70, Liability.EQUAL: 50, Liability.MINOR: 30, Liability.NONE: 0}
)
"""The usual share (percent) of each liability; the officer may set other shares that add up to 100."""


@dataclass(frozen=True)
class ScenePhoto:
    """One photo as stored: the bytes the phone uploaded (downscaled there) and what it said of the original."""

    id: str
    driver: int
    slot: PhotoSlot
    media_type: str
    """``image/jpeg``, ``image/png`` or ``image/heic``, as the bytes show."""
    sha256: str
    """Of the stored bytes."""
    size: int
    """Bytes stored."""
    width: int
    height: int
    original_sha256: str
    """Of the camera's original file, computed on the phone before downscaling."""
    original_size: int
    captured_at: datetime | None
    """When the phone says the original was taken (EXIF or the file's time); None if it could not tell."""
    uploaded_at: datetime


@dataclass(frozen=True)
class Driver:
    """One driver's part of the report. Personal data: never logged."""

    number: int
    """1 or 2 (:data:`DRIVERS`)."""
    id: str
    name: str = ""
    phone: str = ""
    """Mainland mobile number: the officer's call back and the signing code."""
    licence_number: str = ""
    """Driving licence number (驾驶证号)."""
    plate: str = ""
    """Plate number (号牌号码), e.g. 浙A12345."""
    insurer: str = ""
    """The insurer's name as the driver gives it (交强险承保公司)."""
    insurer_organisation_id: str | None = None
    """The insurer's organisation, where the driver picked one recorded on the platform."""
    damaged_part: str = ""
    """The damaged part of the vehicle (受损部位)."""
    joined_at: datetime | None = None
    completed_at: datetime | None = None
    """When the driver confirmed their part complete; None while they have not."""


@dataclass(frozen=True)
class LiabilityFinding:
    """The officer's liability finding: each driver's liability and share, the facts and the reasons."""

    liabilities: Mapping[int, Liability]
    """Per driver number."""
    shares: Mapping[int, int]
    """Per driver number, percent, adding up to 100."""
    facts: str
    """The facts of the accident (事故事实)."""
    reasons: str
    """The reasons for the finding (认定理由), e.g. the rule broken."""
    officer_account_id: str
    made_at: datetime
    agreed_amount: Decimal | None = None
    """The compensation both drivers agreed before the officer (协商赔偿金额, yuan), if any."""
    payer: int | None = None
    """The driver who pays the agreed amount (whose insurer a claim goes to)."""


@dataclass(frozen=True)
class SceneReport:
    """A scene report as the store keeps it."""

    id: str
    number: str
    """Its human number, e.g. KC-20261205-0001 (快处)."""
    police_unit_id: str
    """The police unit (an organisation of kind ``police``) it goes to."""
    state: SceneState
    started_at: datetime
    occurred_at: datetime
    """When the accident happened, as the first driver gives it."""
    place: str
    """Where (road, direction, landmark)."""
    drivers: tuple[Driver, ...]
    photos: tuple[ScenePhoto, ...] = ()
    submitted_at: datetime | None = None
    accepted_at: datetime | None = None
    officer_account_id: str | None = None
    """The officer who accepted (or returned) it."""
    returned_reason: str = ""
    finding: LiabilityFinding | None = None
    signed_by: Mapping[int, datetime] = field(default_factory=dict)
    """Driver number → when they signed the electronic accident finding."""
    case_id: str | None = None
    """The case it became, once the drivers asked for mediation."""
    version: int = 1

    def driver(self, number: int) -> Driver:
        for d in self.drivers:
            if d.number == number:
                return d
        raise InvalidCommand("No such driver on this report")


def missing_items(report: SceneReport, number: int) -> list[str]:
    """What driver ``number`` has not given yet, in Chinese, in the order the page asks for it."""
    d = report.driver(number)
    missing = [
        label
        for label, value in (
            ("姓名", d.name),
            ("手机号", d.phone),
            ("驾驶证号", d.licence_number),
            ("号牌号码", d.plate),
            ("保险公司", d.insurer),
            ("受损部位", d.damaged_part),
        )
        if not value
    ]
    taken = {p.slot for p in report.photos if p.driver == number}
    missing += [PHOTO_SLOT_NAMES[s] for s in (*SCENE_PHOTOS, PhotoSlot.DRIVER_WITH_VEHICLE) if s not in taken]
    return missing


def check_finding(report: SceneReport, finding: LiabilityFinding) -> None:
    """InvalidCommand unless the finding names every driver of the report once, with shares adding up to 100."""
    numbers = {d.number for d in report.drivers}
    if set(finding.liabilities) != numbers or set(finding.shares) != numbers:
        raise InvalidCommand("The finding must name the liability and share of every driver")
    if any(not 0 <= s <= 100 for s in finding.shares.values()) or sum(finding.shares.values()) != 100:
        raise InvalidCommand("The shares must be between 0 and 100 and add up to 100")
    if finding.payer is not None and finding.payer not in numbers:
        raise InvalidCommand("The payer must be a driver of this report")
    if (finding.agreed_amount is None) != (finding.payer is None):
        raise InvalidCommand("An agreed amount needs its payer, and a payer an agreed amount")


def require_state(report: SceneReport, command: str, *states: SceneState) -> None:
    """IllegalTransition (409) unless the report is in one of ``states``; ``command`` names what was tried."""
    if report.state not in states:
        raise IllegalTransition(command, report.state.value)
