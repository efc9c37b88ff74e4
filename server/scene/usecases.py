"""The scene report's use-cases: the drivers' phone page (public, then a scene link) and the police desk.

Who may do what::

    anyone (no token)     listPublicPoliceUnits, startSceneReport (→ driver 1's scene link and the join code),
                          joinSceneReport (the report's number and the 6-digit code → driver 2's scene link)
    a driver (scene link) their report only: read it (the other driver's name and plate, never their phone or
                          licence number), set their items, upload photos, complete their part
    a police officer      the reports of their own unit only (any other caller with an account: 403; an officer
                          of another unit: 404): the queue, a report with both drivers and photos and the chain's
                          verdict, accept, return with a reason, the liability finding, close

A driver's scene link (``TokenKind.SCENE``, subject: the driver's id, ``ref``: the report's id, no case) opens that
report and nothing else; every case endpoint refuses it (401). It lasts :data:`SCENE_LINK_TTL`.

The join code: 6 digits, only its keyed HMAC stored (``server.identity.keys.SCENE_CODES``, with the report's id),
valid :data:`JOIN_CODE_TTL`; :data:`MAX_JOIN_ATTEMPTS` wrong guesses void it (one conditional UPDATE each); a
report has two drivers, so a second join is refused.

Evidence: every action is an event of the report's own hash chain (``scene_events``, ``server.domain.audit`` with
the report's id in place of the case's); a photo's event holds its sha256, the original's sha256 and size and its
capture time. Names, phones, licence numbers and plates never reach the chain or the log (ids only).

Concurrency: every write reloads and re-applies itself when the other driver (or an officer) wrote first
(:meth:`SceneService._write`): neither write is lost.

Hook for the electronic accident finding (``server.scene.finding*``, helper H2): once the finding is made the
report is ``found``; the finding's PDF is rendered from :meth:`SceneService.load` (``report.finding``,
``report.drivers``) and when a driver has signed it, the signing calls
:meth:`SceneService.record_signed` ``(report_id, driver_number, document_id, now)``: the report records it in its
chain, and when both drivers signed it moves to ``signed``. :meth:`SceneService.driver_claims` checks a driver's
scene link for the signing pages.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from server.domain.audit import verify
from server.domain.roles import AccountKind
from server.domain.scene import (
    DRIVERS,
    LIABILITY_NAMES,
    PHOTO_SLOT_NAMES,
    SCENE_STATE_NAMES,
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
from server.domain.time import BEIJING
from server.errors import (
    ConcurrentUpdate,
    Duplicate,
    Forbidden,
    InvalidCommand,
    ItemsMissing,
    JoinCodeRefused,
    NotFound,
    TooManyAttempts,
)
from server.identity.access import Authenticator, Principal
from server.identity.tokens import TokenClaims
from server.organisations.store import OrganisationStore
from server.scene.images import PhotoFacts, inspect_photo
from server.scene.store import Change, LoadedReport, SceneStore, finding_json, signed_json
from server.store.accounts import AccountStore
from server.store.blobs import BlobStore
from server.store.repository import AuditRecord

logger = logging.getLogger(__name__)

SCENE_LINK_TTL = timedelta(hours=72)
"""How long a driver's scene link works."""
JOIN_CODE_TTL = timedelta(minutes=30)
"""How long the join code works."""
MAX_JOIN_ATTEMPTS = 5
"""Wrong guesses that void the join code."""
STARTS_PER_CLIENT = 10
"""Reports one client address may start in :data:`START_WINDOW` (429 with Retry-After past it)."""
START_WINDOW = timedelta(hours=1)
"""The fixed window the starts of a client address are counted in (from the first of them)."""

ATTEMPTS = 10
"""Writes of one command, each from a fresh load, before it gives up with 409 ``concurrent_update`` (two phones and
an officer write one report: one round in practice)."""

EDITABLE = (SceneState.STARTED, SceneState.RETURNED)
"""States in which the drivers give or correct their part."""
QUEUE_STATES = (SceneState.SUBMITTED, SceneState.RETURNED, SceneState.ACCEPTED, SceneState.FOUND, SceneState.SIGNED)
"""What the police desk's queue shows (submitted first)."""


@dataclass(frozen=True)
class DriverItems:
    """What a driver gives (validated at the edge: lengths, the licence's and plate's patterns, the mobile)."""

    name: str
    phone: str
    licence_number: str
    plate: str
    insurer: str
    damaged_part: str


@dataclass(frozen=True)
class PhotoUpload:
    """A photo as the phone sends it, and what the phone says of the original."""

    slot: PhotoSlot
    data: bytes
    original_sha256: str
    original_size: int
    captured_at: datetime | None


@dataclass(frozen=True)
class FindingInput:
    """The officer's liability finding, as sent."""

    liabilities: dict[int, Liability]
    shares: dict[int, int]
    facts: str
    reasons: str
    agreed_amount: Decimal | None = None
    payer: int | None = None


def _driver_actor(driver_id: str) -> str:
    return f"driver:{driver_id}"


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def current_photos(report: SceneReport) -> dict[tuple[int, PhotoSlot], ScenePhoto]:
    """The newest photo of each driver's slot (an older one stays in the chain and the store)."""
    out: dict[tuple[int, PhotoSlot], ScenePhoto] = {}
    for p in report.photos:
        out[p.driver, p.slot] = p
    return out


def finding_out(finding: LiabilityFinding | None) -> dict[str, Any] | None:
    if finding is None:
        return None
    return {
        "drivers": [
            {
                "number": n,
                "liability": finding.liabilities[n].value,
                "liability_name": LIABILITY_NAMES[finding.liabilities[n]],
                "share": finding.shares[n],
            }
            for n in sorted(finding.liabilities)
        ],
        "facts": finding.facts,
        "reasons": finding.reasons,
        "agreed_amount": None if finding.agreed_amount is None else f"{finding.agreed_amount:.2f}",
        "payer": finding.payer,
        "made_at": finding.made_at.isoformat(),
    }


class SceneService:
    """Scene reports: the drivers' side and the police desk."""

    def __init__(
        self,
        store: SceneStore,
        auth: Authenticator,
        accounts: AccountStore,
        organisations: OrganisationStore,
        blobs: BlobStore,
        key: bytes,
        base_url: str,
    ) -> None:
        self.store = store
        self.auth = auth
        self.accounts = accounts
        self.organisations = organisations
        self.blobs = blobs
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.starts_per_client = STARTS_PER_CLIENT
        """Reports one client address may start in :data:`START_WINDOW`."""

    def _code_hash(self, report_id: str, code: str) -> str:
        return hmac.new(self.key, f"scene-join:{report_id}:{code}".encode(), hashlib.sha256).hexdigest()

    async def load(self, report_id: str) -> SceneReport:
        """The report as stored (for the finding's PDF); NotFound."""
        return (await self.store.load(report_id)).report

    async def _write(
        self, report_id: str, decide: Callable[[LoadedReport], Change | Awaitable[Change]], now: datetime
    ) -> SceneReport:
        """Load, decide, commit; again from a fresh load when someone else wrote first (at most :data:`ATTEMPTS`
        times)."""
        for attempt in range(ATTEMPTS):
            loaded = await self.store.load(report_id)
            change = decide(loaded)
            if not isinstance(change, Change):
                change = await change
            try:
                await self.store.commit(loaded, change, now)
            except ConcurrentUpdate:
                if attempt == ATTEMPTS - 1:
                    raise
                continue
            return (await self.store.load(report_id)).report
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ public: units, start, join

    async def police_units(self) -> list[dict[str, Any]]:
        """Open police units a driver may report to: id, name, region."""
        return [{"id": o.id, "name": o.name, "region": o.region} for o in await self.store.police_units()]

    async def _open_unit(self, police_unit_id: str) -> str:
        units = {o.id: o.name for o in await self.store.police_units()}
        if police_unit_id not in units:
            raise InvalidCommand("No such police unit, or it is closed")
        return units[police_unit_id]

    async def start(
        self,
        police_unit_id: str,
        occurred_at: datetime,
        place: str,
        name: str,
        phone: str,
        now: datetime,
        client: str = "-",
    ) -> dict[str, Any]:
        """Driver 1 starts a report: its id and number, their scene link, the join code for driver 2. At most
        :attr:`starts_per_client` (:data:`STARTS_PER_CLIENT`) per client address in :data:`START_WINDOW` (counted
        under a keyed hash of the address, never the address itself): TooManyAttempts (429 with Retry-After)."""
        if occurred_at > now + timedelta(minutes=5) or occurred_at < now - timedelta(days=3):
            raise InvalidCommand("The accident's time must be within the last three days")
        unit_name = await self._open_unit(police_unit_id)
        client_hash = hmac.new(self.key, f"scene-start-client:{client}".encode(), hashlib.sha256).hexdigest()
        bucket = f"scene-start:{client_hash}"
        full_until = await self.store.count_start(bucket, self.starts_per_client, START_WINDOW, now)
        if full_until is not None:
            wait = max(1, int((full_until - now).total_seconds()) + 1)
            raise TooManyAttempts(
                f"At most {self.starts_per_client} scene reports an hour from one address: try again later",
                retry_after=wait,
            )
        report_id = str(uuid.uuid4())
        driver = Driver(number=1, id=str(uuid.uuid4()), name=name, phone=phone, joined_at=now)
        code = f"{secrets.randbelow(10**6):06d}"
        day = now.astimezone(BEIJING).strftime("%Y%m%d")
        for _attempt in range(5):
            number = f"KC-{day}-{await self.store.count_numbered(f'KC-{day}-') + 1:04d}"
            report = SceneReport(
                id=report_id,
                number=number,
                police_unit_id=police_unit_id,
                state=SceneState.STARTED,
                started_at=now,
                occurred_at=occurred_at,
                place=place,
                drivers=(driver,),
            )
            events = [
                AuditRecord(
                    _driver_actor(driver.id),
                    "scene.started",
                    {"police_unit_id": police_unit_id, "number": number, "driver": 1, "driver_id": driver.id},
                )
            ]
            try:
                await self.store.create(report, self._code_hash(report_id, code), now + JOIN_CODE_TTL, events)
                break
            except Duplicate:
                continue  # another report took the number in the same moment
        else:
            raise ConcurrentUpdate("Could not number the report; try again")
        link = await self.auth.issue_scene_link(driver.id, report_id, SCENE_LINK_TTL, now)
        logger.info("[scene=%s] started (unit %s)", report_id, police_unit_id)
        return {
            "report": {"id": report_id, "number": number, "police_unit": {"id": police_unit_id, "name": unit_name}},
            "driver": 1,
            "token": link.token,
            "expires_at": link.expires_at.isoformat(),
            "join_code": code,
            "join_url": f"{self.base_url}/scene#join={number}.{code}",
            "join_expires_at": (now + JOIN_CODE_TTL).isoformat(),
        }

    async def join(self, number: str, code: str, name: str, phone: str, now: datetime) -> dict[str, Any]:
        """Driver 2 joins with the report's number and the join code: their scene link."""
        report_id = await self.store.report_id_by_number(number)
        if report_id is None:
            raise JoinCodeRefused("No report has this number, or the code is wrong")
        loaded = await self.store.load(report_id)
        if loaded.join_attempts >= MAX_JOIN_ATTEMPTS:
            raise JoinCodeRefused("Too many wrong codes: this code no longer works; start a report of your own")
        if loaded.join_expires_at <= now:
            raise JoinCodeRefused("The join code has expired")
        if not hmac.compare_digest(loaded.join_code_hash, self._code_hash(report_id, code)):
            if not await self.store.count_join_attempt(report_id, MAX_JOIN_ATTEMPTS):
                raise JoinCodeRefused("Too many wrong codes: this code no longer works")
            left = MAX_JOIN_ATTEMPTS - loaded.join_attempts - 1
            raise JoinCodeRefused(f"The join code is wrong ({left} tries left)")
        driver = Driver(number=2, id=str(uuid.uuid4()), name=name, phone=phone, joined_at=now)

        def decide(current: LoadedReport) -> Change:
            report = current.report
            if any(d.number == 2 for d in report.drivers):
                raise Duplicate("The other driver already joined this report")
            require_state(report, "join the report", *EDITABLE)
            return Change(
                new_driver=driver,
                events=[AuditRecord(_driver_actor(driver.id), "scene.joined", {"driver": 2, "driver_id": driver.id})],
            )

        try:
            await self._write(report_id, decide, now)
        except ConcurrentUpdate:
            raise Duplicate("The other driver already joined this report") from None
        link = await self.auth.issue_scene_link(driver.id, report_id, SCENE_LINK_TTL, now)
        logger.info("[scene=%s] driver 2 joined", report_id)
        return {
            "report": {"id": report_id, "number": loaded.report.number},
            "driver": 2,
            "token": link.token,
            "expires_at": link.expires_at.isoformat(),
        }

    # ------------------------------------------------------------------ the drivers

    async def driver_claims(self, token: str, report_id: str, now: datetime) -> TokenClaims:
        """A driver's scene link for this report (401 for any other token; 404 for another report)."""
        claims = await self.auth.authenticate_scene(token, now)
        if claims.ref != report_id:
            raise NotFound("No such scene report")
        return claims

    @staticmethod
    def _number_of(report: SceneReport, driver_id: str) -> int:
        for d in report.drivers:
            if d.id == driver_id:
                return d.number
        raise NotFound("No such scene report")

    def driver_view(self, report: SceneReport, number: int) -> dict[str, Any]:
        """The report as a driver sees it: their own part, the other driver's name and plate only."""
        me = report.driver(number)
        other = next((d for d in report.drivers if d.number != number), None)
        photos = current_photos(report)
        return {
            "id": report.id,
            "number": report.number,
            "state": report.state.value,
            "state_name": SCENE_STATE_NAMES[report.state],
            "occurred_at": report.occurred_at.isoformat(),
            "place": report.place,
            "driver": number,
            "me": {
                "name": me.name,
                "phone": me.phone,
                "licence_number": me.licence_number,
                "plate": me.plate,
                "insurer": me.insurer,
                "damaged_part": me.damaged_part,
                "completed": me.completed_at is not None,
            },
            "photos": [
                {"slot": slot.value, "slot_name": PHOTO_SLOT_NAMES[slot], "sha256": p.sha256}
                for (n, slot), p in sorted(photos.items(), key=lambda kv: kv[1].uploaded_at)
                if n == number
            ],
            "missing": missing_items(report, number),
            "other": None
            if other is None
            else {"name": other.name, "plate": other.plate, "completed": other.completed_at is not None},
            "returned_reason": report.returned_reason if report.state is SceneState.RETURNED else "",
            "finding": finding_out(report.finding),
            "signed": sorted(report.signed_by),
        }

    async def set_items(self, claims: TokenClaims, report_id: str, items: DriverItems, now: datetime) -> dict[str, Any]:
        """A driver gives (or corrects) their items; a completed part is reopened."""

        def decide(loaded: LoadedReport) -> Change:
            report = loaded.report
            number = self._number_of(report, claims.subject)
            require_state(report, "change the items", *EDITABLE)
            values: dict[str, Any] = {
                "name": items.name,
                "phone": items.phone,
                "licence_number": items.licence_number,
                "plate": items.plate,
                "insurer": items.insurer,
                "damaged_part": items.damaged_part,
                "completed_at": None,
            }
            return Change(
                drivers={number: values},
                events=[AuditRecord(_driver_actor(claims.subject), "scene.items_set", {"driver": number})],
            )

        report = await self._write(report_id, decide, now)
        return self.driver_view(report, self._number_of(report, claims.subject))

    async def add_photo(
        self, claims: TokenClaims, report_id: str, upload: PhotoUpload, now: datetime
    ) -> dict[str, Any]:
        """Check a photo from its bytes (refused: nothing stored), keep it, chain its hashes; the newest of a slot
        counts, the older stay."""
        report = await self.load(report_id)
        number = self._number_of(report, claims.subject)
        require_state(report, "add a photo", *EDITABLE)
        facts: PhotoFacts = await inspect_photo(upload.data)
        blob = await self.blobs.put(upload.data)
        photo = ScenePhoto(
            id=str(uuid.uuid4()),
            driver=number,
            slot=upload.slot,
            media_type=facts.media_type,
            sha256=blob.sha256,
            size=blob.size,
            width=facts.width,
            height=facts.height,
            original_sha256=upload.original_sha256,
            original_size=upload.original_size,
            captured_at=upload.captured_at,
            uploaded_at=now,
        )

        def decide(loaded: LoadedReport) -> Change:
            require_state(loaded.report, "add a photo", *EDITABLE)
            details = {
                "photo_id": photo.id,
                "driver": number,
                "slot": photo.slot.value,
                "sha256": photo.sha256,
                "size": photo.size,
                "media_type": photo.media_type,
                "width": photo.width,
                "height": photo.height,
                "original_sha256": photo.original_sha256,
                "original_size": photo.original_size,
                "captured_at": _iso(photo.captured_at),
            }
            return Change(
                drivers={number: {"completed_at": None}},
                photos=[photo],
                events=[AuditRecord(_driver_actor(claims.subject), "scene.photo_added", details)],
            )

        await self._write(report_id, decide, now)
        logger.info("[scene=%s] photo %s (%s) from driver %d", report_id, photo.id, photo.slot.value, number)
        return {
            "id": photo.id,
            "slot": photo.slot.value,
            "media_type": photo.media_type,
            "sha256": photo.sha256,
            "size": photo.size,
            "width": photo.width,
            "height": photo.height,
        }

    async def complete(self, claims: TokenClaims, report_id: str, now: datetime) -> dict[str, Any]:
        """A driver completes their part (ItemsMissing names what is missing); both completed: submitted."""

        def decide(loaded: LoadedReport) -> Change:
            report = loaded.report
            number = self._number_of(report, claims.subject)
            require_state(report, "complete the report", *EDITABLE)
            missing = missing_items(report, number)
            if missing:
                raise ItemsMissing("Still missing: " + "、".join(missing))
            events = [AuditRecord(_driver_actor(claims.subject), "scene.completed", {"driver": number})]
            change = Change(drivers={number: {"completed_at": now}}, events=events)
            others_done = [d for d in report.drivers if d.number != number and d.completed_at is not None]
            if len(report.drivers) == len(DRIVERS) and others_done:
                change.report = {"state": SceneState.SUBMITTED.value, "submitted_at": now, "returned_reason": ""}
                events.append(AuditRecord("system", "scene.submitted", {"from": report.state.value}))
            return change

        report = await self._write(report_id, decide, now)
        if report.state is SceneState.SUBMITTED:
            logger.info("[scene=%s] submitted", report_id)
        return self.driver_view(report, self._number_of(report, claims.subject))

    async def record_signed(self, report_id: str, driver: int, document_id: str, now: datetime) -> SceneReport:
        """H2's hook: driver ``driver`` signed the electronic accident finding ``document_id``; both: ``signed``."""

        def decide(loaded: LoadedReport) -> Change:
            report = loaded.report
            require_state(report, "sign the finding", SceneState.FOUND)
            report.driver(driver)
            signed = dict(report.signed_by)
            signed[driver] = now
            change = Change(
                report={"signed_by": signed_json(signed)},
                events=[AuditRecord("system", "scene.finding_signed", {"driver": driver, "document_id": document_id})],
            )
            if set(signed) >= {d.number for d in report.drivers}:
                change.report["state"] = SceneState.SIGNED.value
            return change

        return await self._write(report_id, decide, now)

    # ------------------------------------------------------------------ the police desk

    async def _officer(self, principal: Principal) -> tuple[str, str]:
        """(account id, unit id) of a police officer; Forbidden for anyone else."""
        if not principal.is_account or principal.account_kind is not AccountKind.POLICE_OFFICER:
            raise Forbidden("Only traffic police officers use the scene-report desk")
        account = await self.accounts.account(principal.subject_id)
        return account.id, account.organisation_id

    async def _of_unit(self, principal: Principal, report_id: str) -> tuple[str, SceneReport]:
        account_id, unit = await self._officer(principal)
        report = await self.load(report_id)
        if not unit or report.police_unit_id != unit:
            raise NotFound("No such scene report")
        return account_id, report

    async def queue(self, principal: Principal) -> list[dict[str, Any]]:
        _, unit = await self._officer(principal)
        return [
            {
                "id": i.id,
                "number": i.number,
                "state": i.state.value,
                "state_name": SCENE_STATE_NAMES[i.state],
                "started_at": i.started_at.isoformat(),
                "submitted_at": _iso(i.submitted_at),
                "place": i.place,
            }
            for i in await self.store.queue(unit, QUEUE_STATES)
        ]

    async def read_as_officer(self, principal: Principal, report_id: str) -> dict[str, Any]:
        """Both drivers' items and every photo (the newest of each slot marked), the chain and its verdict."""
        _, report = await self._of_unit(principal, report_id)
        loaded = await self.store.load(report_id)
        entries = await self.store.events(report_id)
        verdict = verify(entries, loaded.head)
        current = {p.id for p in current_photos(report).values()}
        return {
            "id": report.id,
            "number": report.number,
            "state": report.state.value,
            "state_name": SCENE_STATE_NAMES[report.state],
            "started_at": report.started_at.isoformat(),
            "occurred_at": report.occurred_at.isoformat(),
            "place": report.place,
            "submitted_at": _iso(report.submitted_at),
            "accepted_at": _iso(report.accepted_at),
            "returned_reason": report.returned_reason,
            "drivers": [
                {
                    "number": d.number,
                    "name": d.name,
                    "phone": d.phone,
                    "licence_number": d.licence_number,
                    "plate": d.plate,
                    "insurer": d.insurer,
                    "damaged_part": d.damaged_part,
                    "completed": d.completed_at is not None,
                    "missing": missing_items(report, d.number),
                }
                for d in report.drivers
            ],
            "photos": [
                {
                    "id": p.id,
                    "driver": p.driver,
                    "slot": p.slot.value,
                    "slot_name": PHOTO_SLOT_NAMES[p.slot],
                    "media_type": p.media_type,
                    "sha256": p.sha256,
                    "size": p.size,
                    "width": p.width,
                    "height": p.height,
                    "original_sha256": p.original_sha256,
                    "original_size": p.original_size,
                    "captured_at": _iso(p.captured_at),
                    "uploaded_at": p.uploaded_at.isoformat(),
                    "current": p.id in current,
                }
                for p in report.photos
            ],
            "finding": finding_out(report.finding),
            "signed": sorted(report.signed_by),
            "chain": {
                "ok": verdict.ok,
                "entries": verdict.entries,
                "verdict": verdict.describe(),
                "head": loaded.head.hash,
                "events": [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action} for e in entries],
            },
        }

    async def photo(self, principal: Principal, report_id: str, photo_id: str) -> tuple[bytes, str]:
        """A photo's bytes and media type, for the unit's officers only."""
        _, report = await self._of_unit(principal, report_id)
        for p in report.photos:
            if p.id == photo_id:
                return await self.blobs.get(p.sha256), p.media_type
        raise NotFound("No such photo")

    async def _decide(
        self,
        principal: Principal,
        report_id: str,
        now: datetime,
        what: Callable[[SceneReport, str], Change],
    ) -> dict[str, Any]:
        account_id, _ = await self._of_unit(principal, report_id)
        await self._write(report_id, lambda loaded: what(loaded.report, account_id), now)
        return await self.read_as_officer(principal, report_id)

    async def accept(self, principal: Principal, report_id: str, now: datetime) -> dict[str, Any]:
        """Accept a submitted report: the drivers may leave the scene."""

        def what(report: SceneReport, officer: str) -> Change:
            require_state(report, "accept the report", SceneState.SUBMITTED)
            return Change(
                report={"state": SceneState.ACCEPTED.value, "accepted_at": now, "officer_account_id": officer},
                events=[AuditRecord(f"account:{officer}", "scene.accepted", {})],
            )

        return await self._decide(principal, report_id, now, what)

    async def return_(self, principal: Principal, report_id: str, reason: str, now: datetime) -> dict[str, Any]:
        """Return a submitted report to the drivers with a reason: both complete their part again."""

        def what(report: SceneReport, officer: str) -> Change:
            require_state(report, "return the report", SceneState.SUBMITTED)
            return Change(
                report={"state": SceneState.RETURNED.value, "returned_reason": reason, "officer_account_id": officer},
                drivers={d.number: {"completed_at": None} for d in report.drivers},
                events=[AuditRecord(f"account:{officer}", "scene.returned", {"reason_chars": len(reason)})],
            )

        return await self._decide(principal, report_id, now, what)

    async def make_finding(
        self, principal: Principal, report_id: str, given: FindingInput, now: datetime
    ) -> dict[str, Any]:
        """The liability finding on an accepted report: ``found`` (the electronic finding awaits both signatures)."""

        def what(report: SceneReport, officer: str) -> Change:
            require_state(report, "make the liability finding", SceneState.ACCEPTED)
            finding = LiabilityFinding(
                liabilities=given.liabilities,
                shares=given.shares,
                facts=given.facts,
                reasons=given.reasons,
                officer_account_id=officer,
                made_at=now,
                agreed_amount=given.agreed_amount,
                payer=given.payer,
            )
            check_finding(report, finding)
            details = {
                "liabilities": {str(k): v.value for k, v in sorted(finding.liabilities.items())},
                "shares": {str(k): v for k, v in sorted(finding.shares.items())},
                "agreed_amount": None if finding.agreed_amount is None else f"{finding.agreed_amount:.2f}",
                "payer": finding.payer,
            }
            return Change(
                report={"state": SceneState.FOUND.value, "finding": finding_json(finding)},
                events=[AuditRecord(f"account:{officer}", "scene.finding_made", details)],
            )

        return await self._decide(principal, report_id, now, what)

    async def close(self, principal: Principal, report_id: str, now: datetime) -> dict[str, Any]:
        """Close a report (settled between the drivers, or handled off-line)."""

        def what(report: SceneReport, officer: str) -> Change:
            require_state(
                report,
                "close the report",
                SceneState.SUBMITTED,
                SceneState.RETURNED,
                SceneState.ACCEPTED,
                SceneState.FOUND,
                SceneState.SIGNED,
            )
            return Change(
                report={"state": SceneState.CLOSED.value},
                events=[AuditRecord(f"account:{officer}", "scene.closed", {"from": report.state.value})],
            )

        return await self._decide(principal, report_id, now, what)
