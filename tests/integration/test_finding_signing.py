"""Both drivers sign the electronic accident finding: the certified PDF, codes by SMS through a real gateway,
both at the same moment on SQLite and PostgreSQL, and poppler's pdfsig validating the three signatures.

The scene stage's report service is reached through :class:`server.scene.finding_signing.SceneAccess`;
``Reports`` here answers for one report as that service does (a driver by their id, an officer of the
unit by their account), until the stage's own service is wired to it in the application.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from sqlalchemy import insert

from e_sign.ca import PlatformCA
from e_sign.tsa import TimestampAuthority
from e_sign.verify import async_verify_pdf
from server.domain.organisations import Organisation, OrganisationKind
from server.domain.scene import SceneReport, SceneState
from server.errors import Forbidden, IllegalTransition, InvalidCommand, NotFound, TooManyAttempts
from server.notify import HttpSmsGateway
from server.organisations.store import OrganisationStore
from server.scene.finding import driver_field
from server.scene.finding_signing import Asker, FindingService
from server.scene.finding_store import FindingFile, FindingStore
from server.signing.usecases import Keys
from server.store import db
from server.store import schema as t
from server.store.blobs import LocalBlobStore
from tests.builders import found_scene_report
from tests.channels import KEY, Gateway
from tests.pdfs import make_nss_db, pdf_text, pdfsig, require_pdf_tools, scribble

require_pdf_tools()

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)]

VALID = "Signature Validation: Signature is Valid."
TRUSTED = "Certificate Validation: Certificate is Trusted."


@dataclass
class Reports:
    """One scene report, kept as the scene stage keeps it (``SceneAccess`` and ``Names``)."""

    report: SceneReport
    recorded: list[int] = field(default_factory=list)

    async def load(self, report_id: str) -> SceneReport:
        if report_id != self.report.id:
            raise NotFound("No such scene report")
        return self.report

    async def record_signed(self, report_id: str, driver: int, document_id: str, now: datetime) -> SceneReport:
        if self.report.state is not SceneState.FOUND:
            raise IllegalTransition("sign the finding", self.report.state.value)
        signed = {**self.report.signed_by, driver: now}
        state = SceneState.SIGNED if set(signed) == {1, 2} else SceneState.FOUND
        self.recorded.append(driver)
        self.report = replace(self.report, state=state, signed_by=signed)
        return self.report

    async def names(self, report: SceneReport) -> tuple[str, str]:
        return "杭州市公安局交通警察支队西湖大队", "孙警官"


@dataclass
class World:
    service: FindingService
    other_node: FindingService
    """A second node: its own lock, the same database and blobs."""
    reports: Reports
    gateway: Gateway
    ca: PlatformCA
    folder: Path

    def driver(self, number: int) -> Asker:
        return Asker(self.reports.report, number)

    @property
    def officer(self) -> Asker:
        return Asker(self.reports.report, None)

    def code_for(self, number: int) -> str:
        phone = self.reports.report.driver(number).phone
        text = [m["text"] for m in self.gateway.received if m["to"] == phone][-1]
        found = re.search(r"\b(\d{6})\b", text)
        assert found, "no code in the message"
        return found.group(1)


def mark(seed: int = 0) -> str:
    return base64.b64encode(scribble(seed)).decode()


def now() -> datetime:
    return datetime.now(UTC)


async def keep_report_row(engine: Any, report: SceneReport) -> None:
    """The report's row (its police unit's too), which the finding's rows belong to; the scene stage's own use-cases
    are the double above (``Reports``), so that this test drives the finding alone."""
    unit = Organisation(
        str(uuid.uuid4()), OrganisationKind.POLICE, f"交警大队{uuid.uuid4().hex[:8]}", report.started_at
    )
    await OrganisationStore(engine).create(unit)
    at = report.started_at
    async with engine.begin() as conn:
        await conn.execute(
            insert(t.scene_reports).values(
                id=report.id,
                number=report.number,
                police_unit_id=unit.id,
                state=report.state.value,
                started_at=at,
                occurred_at=report.occurred_at,
                place=report.place,
                returned_reason="",
                signed_by="{}",
                join_code_hash="0" * 64,
                join_expires_at=at,
                join_attempts=0,
                version=1,
                updated_at=at,
                chain_seq=0,
                chain_head="0" * 64,
            )
        )


@pytest_asyncio.fixture
async def world(db_url: str, tmp_path: Path, gateway: Gateway) -> AsyncIterator[World]:
    engine = db.create_engine(db_url)
    ca = PlatformCA.load_or_create(tmp_path / "ca", now())
    tsa = TimestampAuthority.load_or_create(tmp_path / "ca", ca, now)
    reports = Reports(found_scene_report(number=f"KC-{uuid.uuid4().hex[:12]}"))
    await keep_report_row(engine, reports.report)
    service = FindingService(
        reports,
        reports,
        FindingStore(engine),
        LocalBlobStore(tmp_path / "blobs"),
        Keys(ca, tsa),
        HttpSmsGateway(gateway.url, KEY),
        b"k" * 32,
    )
    other_node = FindingService(
        reports, reports, FindingStore(engine), service.blobs, service.keys, service.notifier, service.secret
    )
    yield World(service, other_node, reports, gateway, ca, tmp_path)
    await engine.dispose()


async def test_both_drivers_sign_at_the_same_moment_and_pdfsig_validates_all_three(world: World) -> None:
    s = world.service
    status = await s.status(world.officer, now())
    assert status["complete"] is False and [d["signed_at"] for d in status["drivers"]] == [None, None]
    for number in (1, 2):
        sent = await s.send_code(world.driver(number), now())
        assert sent["to"].startswith("139") and "****" in sent["to"]
    codes = {n: world.code_for(n) for n in (1, 2)}
    first, second = await asyncio.gather(  # on two nodes: only the store's version check orders them
        s.sign(world.driver(1), codes[1], mark(1), now()),
        world.other_node.sign(world.driver(2), codes[2], mark(2), now()),
    )
    assert first["complete"] or second["complete"]
    assert world.reports.report.state is SceneState.SIGNED
    assert sorted(world.reports.recorded) == [1, 2]
    final = await s.status(world.officer, now())
    assert final["complete"] and final["state"] == "signed" and final["document"]["seq"] == 2
    doc, pdf = await s.document(world.driver(1), now())
    assert hashlib.sha256(pdf).hexdigest() == doc.sha256 == final["document"]["sha256"]

    path = world.folder / "finding.pdf"
    path.write_bytes(pdf)
    found = pdfsig(path, make_nss_db(world.folder / "nss", world.ca.certificate))
    assert len(found) == 3
    assert found[0]["Signature Field Name"] == "Signature_police"
    assert {e["Signature Field Name"] for e in found[1:]} == {driver_field(1), driver_field(2)}
    for entry in found:
        assert entry["Signature Validation line"] == VALID, entry
        assert entry["Certificate Validation line"] == TRUSTED, entry
    names = {e["Signature Field Name"]: e["Signer Certificate Common Name"] for e in found}
    assert names[driver_field(1)] == "赵一" and names[driver_field(2)] == "钱二"
    assert names["Signature_police"] == "杭州市公安局交通警察支队西湖大队"
    # the last signature made (either driver's: they signed at once) covers the whole file, the others a revision
    assert sorted(e["coverage"] for e in found) == ["Not total document signed"] * 2 + ["Total document signed"]

    report = await async_verify_pdf(pdf, [world.ca.certificate])
    assert report.ok, report.reasons
    reader = PdfFileReader(io.BytesIO(pdf))
    embedded = reader.embedded_regular_signatures
    assert [e.field_name for e in embedded][0] == "Signature_police"
    # the unit certified it (the catalogue's /Perms /DocMDP): only the drivers' fields may be filled in
    certification = reader.root["/Perms"]["/DocMDP"].get_object()
    assert certification["/Contents"] == embedded[0].sig_object["/Contents"]
    assert embedded[0].docmdp_level == MDPPerm.FILL_FORMS
    assert "主要责任" in pdf_text(pdf)


async def test_wrong_expired_and_replayed_codes_sign_nothing(world: World) -> None:
    s = world.service
    t0 = now()
    await s.send_code(world.driver(1), t0)
    with pytest.raises(TooManyAttempts):  # one code a minute
        await s.send_code(world.driver(1), t0 + timedelta(seconds=30))
    code = world.code_for(1)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with pytest.raises(Forbidden, match="wrong"):
        await s.sign(world.driver(1), wrong, mark(), t0)
    with pytest.raises(Forbidden, match="expired"):
        await s.sign(world.driver(1), code, mark(), t0 + timedelta(minutes=6))
    status = await s.status(world.driver(1), t0)
    assert status["document"]["seq"] == 0 and status["drivers"][0]["signed_at"] is None

    t1 = t0 + timedelta(minutes=7)
    await s.send_code(world.driver(1), t1)
    code = world.code_for(1)
    await s.sign(world.driver(1), code, mark(), t1)
    with pytest.raises(IllegalTransition) as replay:  # the same request again: 409, nothing signed twice
        await s.sign(world.driver(1), code, mark(), t1)
    assert replay.value.status == 409
    with pytest.raises(IllegalTransition):
        await s.send_code(world.driver(1), t1 + timedelta(minutes=2))
    status = await s.status(world.driver(2), t1)
    assert status["document"]["seq"] == 1 and status["complete"] is False
    assert world.reports.report.state is SceneState.FOUND


async def test_five_wrong_codes_spend_the_code(world: World) -> None:
    s = world.service
    t0 = now()
    await s.send_code(world.driver(2), t0)
    code = world.code_for(2)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        with pytest.raises(Forbidden):
            await s.sign(world.driver(2), wrong, mark(), t0)
    with pytest.raises(TooManyAttempts):
        await s.sign(world.driver(2), code, mark(), t0)


async def test_officers_do_not_sign_and_a_mark_must_be_a_png(world: World) -> None:
    s = world.service
    with pytest.raises(Forbidden):
        await s.send_code(world.officer, now())
    with pytest.raises(Forbidden):
        await s.sign(world.officer, "123456", mark(), now())
    with pytest.raises(InvalidCommand):
        await s.sign(world.driver(1), "123456", base64.b64encode(b"GIF89a").decode(), now())


async def test_no_finding_before_the_officer_made_it(world: World) -> None:
    world.reports.report = replace(world.reports.report, state=SceneState.ACCEPTED, finding=None)
    with pytest.raises(NotFound):
        await world.service.status(world.driver(1), now())
    with pytest.raises(IllegalTransition):
        await world.service.send_code(world.driver(1), now())


async def test_the_chain_refuses_a_taken_place_and_a_drivers_second_signature(world: World) -> None:
    """The store's version check that orders two drivers signing at once on different nodes."""
    store, report_id = world.service.store, world.reports.report.id
    await world.service.status(world.officer, now())  # issues the finding: seq 0
    t = now()
    assert await store.add_file(report_id, FindingFile(1, "a" * 64, 10, 1, t))
    assert not await store.add_file(report_id, FindingFile(1, "b" * 64, 10, 2, t))  # the place is taken: re-read
    assert not await store.add_file(report_id, FindingFile(2, "c" * 64, 10, 1, t))  # driver 1 signed already
    assert await store.add_file(report_id, FindingFile(2, "d" * 64, 10, 2, t), signed_at=t)
    record = await store.finding(report_id)
    assert record is not None
    assert [f.sha256[0] for f in record.files[1:]] == ["a", "d"] and record.signed_sha256 == "d" * 64
