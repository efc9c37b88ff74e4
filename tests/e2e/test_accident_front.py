"""Issue 15's "done when": the traffic-accident front played through the pages as their users reach them (headless
Chromium, the pages' own Content-Security-Policy in force). Every SMS goes over the real channel, to a loopback
SMS gateway (tests.channels.Gateway): the codes and links are read from what it took.

1. Two phones (360 px) report one minor accident on /scene: driver 1 from the home page, driver 2 from the join
   link driver 1's phone shows; each takes three generated scene photos, gives the items and the photo with the
   vehicle, and submits.
2. The officer reaches /police from the home page, sees the report in the queue, accepts it (both phones show
   已受理) and makes the liability finding: 70/30 with facts and reasons, an agreed amount and its payer.
3. Both phones sign the electronic accident finding with codes sent by SMS; the desk downloads the signed PDF and
   pdfsig validates the unit's certification and both drivers' signatures (trusted, through the platform's CA).
4. One-click claim: driver 2 (who does not pay) claims the agreed amount on driver 1's insurer with the phone's one
   button; the insurer's adjuster reaches /insurer from the home page, opens it (the signed finding) and pays it
   within the deadline, and the phone shows 已支付. A second report's claim (built over HTTP) passes its deadline
   (the deadline job's clock moved on): the insurer's administrator is told by SMS and the same desk shows it
   flagged, the paid one not.
5. A police agency's system files a case with a signed intake request; a mediator of the organisation hosts it from
   /console without typing a party's detail: takes it from the queue, sends both parties their links by SMS,
   schedules and opens the session; both parties join from the SMS links on phones (fake camera and microphone),
   are admitted and receive video; the mediator ends it.
6. On that case an appraisal runs from every party's consent (the two parties from their SMS links, the two
   insurers from links the mediator hands them from the console: the document names no contact of theirs) to the
   drawn institution, the
   fee, the police's finding sent as material, the signed opinion uploaded on /appraisal, the mediator's
   evaluation, a party's phone showing the notice and the opinion (downloaded byte for byte), and the justice
   bureau's view on /bureau.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from server.app import CLAIM_DEADLINES, build_app
from server.appraisal.store import AppraisalStore
from server.cases.endpoints import SERVICE
from server.config import Settings
from server.domain.organisations import Organisation, OrganisationKind
from server.domain.roles import AccountKind
from server.intake.client import IntakeClient
from server.intake.endpoints import INTAKE
from server.intake.store import IntakeStore
from server.intake.usecases import AgencyKeys
from server.organisations.store import OrganisationStore
from server.scene.finding_endpoints import FINDINGS
from server.signing.endpoints import SIGNING
from server.store import db
from tests.builders import (
    PASSWORD,
    SCENE_DRIVERS,
    authorise,
    intake_document,
    scene_photo,
    signed_opinion,
    signed_report,
    staff_account,
)
from tests.channels import KEY, Gateway, sms_gateway
from tests.conftest import Api, Clock
from tests.e2e.chromium import DESK, PHONE
from tests.e2e.steps import admit_participant, console_login, poll, scene_report_part, sign_finding
from tests.pdfs import make_nss_db, pdfsig, require_pdf_tools
from tests.processes import free_port

require_pdf_tools()  # skips the module without poppler-utils, OpenSSL or the CJK fonts (fails in CI)
pytestmark = pytest.mark.asyncio

BEIJING = ZoneInfo("Asia/Shanghai")
LINK = re.compile(r"https?://\S+/join#token=[A-Za-z0-9._-]+")
RECEIVING = """n => [...document.querySelectorAll('#tiles .tile video')]
  .filter(v => v.readyState >= 2 && v.videoWidth > 0).length >= n"""
INTAKE_PARTIES = (("张三", "13911112222"), ("李四", "13833334444"))  # tests.builders.intake_document's


class RealClock(Clock):
    """The server's clock is the real one (pdfsig judges the certificates at the real time); the builders read it
    through :class:`~tests.conftest.Api` as they read the fixture's."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)


@pytest_asyncio.fixture
async def front(tmp_path: Path) -> AsyncIterator[tuple[Api, Gateway]]:
    """The application on a real port whose links point at itself, its SMS to a loopback gateway, on SQLite."""
    async with sms_gateway() as gateway:
        url = f"sqlite+aiosqlite:///{tmp_path / 'front.db'}"
        await db.upgrade(url)
        port = free_port()
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=url,
            secret_key="k" * 48,
            public_url=f"http://127.0.0.1:{port}",
            auto_migrate=False,
            transcript_engine="off",
            media_stall_seconds=1.5,
            deadline_interval=3600,
            sms_gateway_url=gateway.url,
            sms_gateway_key=KEY.decode(),
        )
        clock = RealClock()
        app = build_app(settings, clock=clock)
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server()
        async with ClientSession() as http:
            base = str(server.make_url("")).rstrip("/")
            yield Api(base, http, clock, settings, app[SERVICE].repo, app), gateway
        await server.close()


def sms_to(gateway: Gateway, phone: str) -> list[str]:
    """The texts the gateway took for ``phone``, oldest first."""
    return [str(m["text"]) for m in gateway.received if m["to"] == phone]


def code_by_sms(gateway: Gateway, phone: str) -> str:
    """The six-digit code in the last SMS to ``phone``."""
    found = re.search(r"\b(\d{6})\b", sms_to(gateway, phone)[-1])
    assert found, sms_to(gateway, phone)
    return found.group(1)


async def link_by_sms(gateway: Gateway, phone: str) -> str:
    """The join link in the last SMS to ``phone`` that carries one."""

    async def arrived() -> str:
        links = [m.group(0) for t in sms_to(gateway, phone) if (m := LINK.search(t))]
        return links[-1] if links else ""

    return str(await poll(arrived, f"a link by SMS to {phone}"))


async def has(page: Any, selector: str, text: str) -> bool:
    return text in await page.inner_text(selector)


async def _told(gateway: Gateway, phone: str) -> list[str]:
    return sms_to(gateway, phone)


async def _contains(locator: Any, text: str) -> bool:
    return text in await locator.inner_text()


async def staff_login(page: Any, base: str, link: str, username: str) -> None:
    """From the home page, the staff page's link, the login form."""
    await page.goto(f"{base}/")
    await page.click(link)
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login button")


async def test_the_accident_front_from_the_scene_to_the_appraisal(
    browser: Any, front: tuple[Api, Gateway], tmp_path: Path
) -> None:
    api, gateway = front
    base = api.base
    tag = uuid.uuid4().hex[:4]
    laps: list[tuple[str, float]] = [("start", time.perf_counter())]
    errors: list[str] = []

    def lap(what: str) -> None:  # each part's time, printed at the end (pytest -s shows it)
        laps.append((what, time.perf_counter()))

    async def page_of(context: dict[str, Any]) -> Any:
        page = await (await browser.new_context(**context)).new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "console",
            lambda m: errors.append(m.text) if m.type == "error" and "Content Security Policy" in m.text else None,
        )
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
        return page

    # ---- 1. two phones report one accident on /scene
    unit = f"示范区公安局交通警察大队{tag}"
    officer, _, _ = await staff_account(api, AccountKind.POLICE_OFFICER, unit, "冯警官")
    insurer = SCENE_DRIVERS[0]["insurer"]  # driver 1's, as their phone gives it: driver 1 pays
    adjuster_username, _, adjuster_account = await staff_account(api, AccountKind.CLAIMS_ADJUSTER, insurer, "赵理赔员")
    _, insurer_admin, _ = await staff_account(api, AccountKind.ORG_ADMIN, insurer, "钱管理员", phone="13700000041")
    await authorise(
        api,
        {
            "adjuster_id": adjuster_account.id,
            "insurer_id": adjuster_account.organisation_id,
            "insurer_admin": insurer_admin,
        },
    )
    one, two = await page_of(PHONE), await page_of(PHONE)
    await one.goto(f"{base}/")
    await one.click("text=快处快赔")
    await one.wait_for_url(f"{base}/scene")
    await one.click("#go-start")
    await one.wait_for_selector("#unit option[value]:not([value=''])", state="attached")
    await one.select_option("#unit", label=unit)
    await one.fill("#place", "杭州市西湖区文一路与学院路口")
    await one.fill("#start-name", SCENE_DRIVERS[0]["name"])
    await one.fill("#start-phone", SCENE_DRIVERS[0]["phone"])
    await one.click("#s-start button")
    await one.wait_for_selector("#s-share:not([hidden])")
    number = await one.inner_text("#share-number")
    link = await one.get_attribute("#share-link", "href")
    assert link and link.startswith(f"{base}/scene#join={number}.")
    await one.click("#share-next")
    await two.goto(link)
    await two.wait_for_selector("#s-join:not([hidden])")
    await two.fill("#join-name", SCENE_DRIVERS[1]["name"])
    await two.fill("#join-phone", SCENE_DRIVERS[1]["phone"])
    await two.click("#s-join button")
    originals = {n: [scene_photo(n * 10 + i) for i in range(4)] for n in (1, 2)}
    await asyncio.gather(scene_report_part(one, 1, originals[1]), scene_report_part(two, 2, originals[2]))
    for phone in (one, two):
        await poll(lambda phone=phone: has(phone, "#state", "已提交，等待交警受理"), "the report submitted")
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 360  # fits the phone
    lap("scene reported")

    # ---- 2. the officer: queue, accept, the finding with an agreed amount
    desk = await page_of(DESK)
    await staff_login(desk, base, "text=交警快处工作台", officer)
    row = f"#rows tr:has-text('{number}')"
    await desk.wait_for_selector(row)
    await desk.click(f"{row} button.open")
    await desk.wait_for_selector("#detail:not([hidden])")
    assert len(await desk.eval_on_selector_all("#d-photos figcaption", "fs => fs")) == 8  # 3 + 1 photos each
    assert "证据链完整" in await desk.inner_text("#d-chain")
    await desk.click("#accept")
    for page in (desk, one, two):
        where = "#d-title" if page is desk else "#state"
        await poll(lambda page=page, where=where: has(page, where, "已受理"), "已受理 on every page")
    await desk.select_option("#f-liability-1", "major")
    await desk.select_option("#f-liability-2", "minor")
    assert await desk.input_value("#f-share-1") == "70" and await desk.input_value("#f-share-2") == "30"
    await desk.fill("#f-facts", "甲车变道时与乙车发生刮擦。")
    await desk.fill("#f-reasons", "甲变更车道未让正常行驶的车辆先行。")
    await desk.fill("#f-amount", "1800")
    await desk.select_option("#f-payer", "1")
    await desk.click("#finding-form button")
    await poll(lambda: has(desk, "#d-title", "已认定责任"), "the finding on the desk")
    finding = await desk.inner_text("#d-finding")
    assert "主要责任 70%" in finding and "次要责任 30%" in finding and "1800.00 元，司机 1 支付" in finding
    lap("accepted and found")

    # ---- 3. both phones sign with their SMS codes; pdfsig validates the three signatures
    await asyncio.gather(
        *(
            sign_finding(phone, lambda d=d: code_by_sms(gateway, d["phone"]))
            for phone, d in zip((one, two), SCENE_DRIVERS, strict=True)
        )
    )
    for phone in (one, two):
        await poll(lambda phone=phone: has(phone, "#state", "双方已签字"), "双方已签字 on the phone")
    await desk.click("#back")  # the desk opens the report again from the queue: the finding as both signed it
    await desk.click(f"{row} button.open")
    await poll(lambda: has(desk, ".finding-note", "双方已签字"), "the desk sees both signatures")
    async with desk.expect_download() as downloading:
        await desk.click(".finding-pdf")
    pdf = tmp_path / "finding.pdf"
    pdf.write_bytes(Path(await (await downloading.value).path()).read_bytes())
    found = pdfsig(pdf, make_nss_db(tmp_path / "nss", api.app[FINDINGS].keys.ca.certificate))
    assert [e["Signature Field Name"] for e in found][0] == "Signature_police"
    assert sorted(e["Signature Field Name"] for e in found[1:]) == ["Signature_driver1", "Signature_driver2"]
    for entry in found:
        assert entry["Signature Validation"] == "Signature is Valid.", entry
        assert entry["Certificate Validation"] == "Certificate is Trusted.", entry
    await desk.context.close()
    lap("finding signed")

    # ---- 4. one-click claims: driver 2 (who does not pay) claims the agreed amount on driver 1's insurer from the
    # phone; the adjuster pays it in time; a second report's claim passes its deadline and is flagged on the desk
    await two.click("#claim-scene:not([hidden]) #scene-claim-start")
    await two.wait_for_selector("#claim-scene .claim-state:has-text('已提交')")
    text = await two.inner_text("#claim-scene")
    assert "1800.00 元" in text and SCENE_DRIVERS[0]["insurer"] in text and "剩余 10 个工作日" in text
    await one.wait_for_selector("#claim-scene[hidden]", state="attached")  # the paying driver has nothing to claim
    assert await one.locator("#scene-claim-start").count() == 0
    adjuster = await page_of(DESK)
    await staff_login(adjuster, base, "a[href='/insurer']", adjuster_username)
    claim_row = adjuster.locator("#rows tr", has_text="1800.00")
    await claim_row.wait_for()
    paid_id = await claim_row.get_attribute("data-id")
    assert "剩余 10 个工作日" in await claim_row.inner_text()
    await claim_row.locator("button.open").click()
    await adjuster.wait_for_selector("#detail:not([hidden]) #pay:not([hidden])")
    assert "电子事故认定书" in await adjuster.inner_text("#d-agreement")
    await adjuster.fill("#pay-reference", f"TX-{tag}")
    await adjuster.fill("#pay-date", datetime.now(BEIJING).date().isoformat())
    assert await adjuster.input_value("#pay-amount") == "1800.00"
    await adjuster.click("#pay button")
    await adjuster.wait_for_selector("#d-claim .claim-state:has-text('已支付')")
    await two.wait_for_selector("#claim-scene .claim-state:has-text('已支付')")  # the phone's own poll
    for page in (one, two):
        await page.context.close()
    # another report, signed the same way (over HTTP), whose claim on the same insurer is never paid: thirty days
    # on, the job flags it (and not the paid one); the desk shows it in red
    late_report = await signed_report(api, f"示范区公安局交通警察大队二中队{tag}")
    status, late, _ = await api.call(
        "POST", f"/api/v1/scene-reports/{late_report['id']}/claims", late_report["tokens"][2]
    )
    assert status == 201, late
    deadlines = api.app[CLAIM_DEADLINES]
    await deadlines.close()  # the job runs when the test says, at the clock it is given
    deadlines.clock = lambda: datetime.now(UTC) + timedelta(days=30)
    assert await deadlines.run_round() == 1
    told = await poll(lambda: _told(gateway, "13700000041"), "the insurer's administrator told by SMS")
    assert late_report["number"] in told[-1] and "超期" in told[-1], told
    await adjuster.reload()
    await adjuster.wait_for_selector(f"#rows tr[data-id='{late['id']}'] .overdue-flag")
    assert "已超期" in await adjuster.inner_text(f"#rows tr[data-id='{late['id']}']")
    assert "付清" in await adjuster.inner_text(f"#rows tr[data-id='{paid_id}']")
    assert await adjuster.locator(f"#rows tr[data-id='{paid_id}'] .overdue-flag").count() == 0
    await adjuster.context.close()
    lap("claims paid and flagged")

    # ---- 5. a police intake document becomes a case a mediator hosts from /console
    mediator, _, account = await staff_account(api, AccountKind.MEDIATOR, f"城东人民调解委员会{tag}", "陈调解员")
    organisations = OrganisationStore(api.repo.engine)
    agency = Organisation(str(uuid.uuid4()), OrganisationKind.POLICE, f"示范区公安局{tag}", datetime.now(UTC))
    await organisations.create(agency)
    key_id, secret = await AgencyKeys(
        organisations, IntakeStore(api.repo.engine), api.app[INTAKE].intake_key
    ).create_key(agency.id, datetime.now(UTC))
    police_number = f"公交认字[2026]第{uuid.uuid4().int % 10**5:05d}号"
    status, answer = await IntakeClient(base, key_id, bytes.fromhex(secret)).file(
        intake_document(account.organisation_id, police_number)
    )
    assert status == 201, answer
    cid, case_number = answer["case"]["id"], answer["case"]["number"]

    console = await page_of(DESK)
    console.on("dialog", lambda d: asyncio.ensure_future(d.accept()))  # 确定结束本次调解？
    await console_login(console, base, mediator, PASSWORD)
    queued = f"#intake-queue li[data-case-id='{cid}']"
    await console.wait_for_selector(queued)
    await console.click(f"{queued} button.take")
    await console.wait_for_selector(f"button[data-progress-id='{cid}']")
    await console.click(f"button[data-progress-id='{cid}']")
    for name, _phone in INTAKE_PARTIES:
        await console.wait_for_selector(f"#progress:not([hidden]) #people-rows tr:has-text('{name}')")
    people = await console.inner_text("#people-rows")  # as the police's system sent them: nothing typed
    for shown in ("13911112222", "zhang.intake@example.org", "13833334444", "甲财产保险股份有限公司（交强险）"):
        assert shown in people, shown
    await console.wait_for_selector("#document-rows tr:has-text('道路交通事故认定书')")
    pids = {}
    for name, _phone in INTAKE_PARTIES:
        person = console.locator(f"#people-rows tr:has-text('{name}')")
        pids[name] = str(await person.get_attribute("data-participant-id"))
        await person.locator("button.invite-sms").click()
        sent = person.locator(".sent")
        await poll(lambda sent=sent: _contains(sent, "已发送"), f"the link sent to {name}")
    links = {name: await link_by_sms(gateway, phone_number) for name, phone_number in INTAKE_PARTIES}
    starts = datetime.now(BEIJING) + timedelta(minutes=10)
    await console.fill("#schedule-at", starts.strftime("%Y-%m-%dT%H:%M"))
    await console.click("#schedule button")
    await console.wait_for_selector("#sessions li")
    await console.click("#progress-back")
    await console.click(f"button[data-case-id='{cid}']")
    await console.wait_for_selector("#room:not([hidden])")
    parties = []
    for name, _phone in INTAKE_PARTIES:
        phone = await page_of(PHONE)
        await phone.goto(links[name])
        await phone.check("#consent")
        await phone.click("#join")
        await admit_participant(console, pids[name], phone)
        await console.wait_for_selector(f"#people li[data-pid='{pids[name]}'][data-presence='admitted']")
        parties.append(phone)
    for page in (console, *parties):
        await page.wait_for_function(RECEIVING, arg=2, timeout=30_000)
    await console.click("#end")
    for phone in parties:
        await phone.wait_for_selector("#gone:not([hidden])")
        await phone.context.close()
    await console.wait_for_selector(f"#case-rows tr:has(button[data-case-id='{cid}']):has-text('调解间歇')")
    lap("intake case hosted")

    # ---- 6. an appraisal on that case, from consent to the bureau's view of the evaluation
    institution_name = f"示范司法鉴定所{tag}"
    appraiser, _, appraiser_account = await staff_account(api, AccountKind.APPRAISER, institution_name, "褚鉴定人")
    await AppraisalStore(api.repo).set_specialties(appraiser_account.organisation_id, ["disability", "injury"])
    bureau, _, _ = await staff_account(api, AccountKind.BUREAU_OFFICER, f"示范区司法局{tag}", "蒋科员")
    await console.click(f"button[data-progress-id='{cid}']")
    await console.wait_for_selector("#appraisal-desk:not([hidden])")
    await console.select_option("#appraisal-subject", "disability")
    await console.fill("#appraisal-description", "左下肢损伤的伤残等级")
    await console.select_option("#appraisal-requested-by", pids["张三"])
    await console.click("#appraisal-start button")
    await console.wait_for_selector("article.appraisal[data-state='consenting']")
    # the police's document names no contact of the insurers (交强险, 商业险): the mediator hands each a new link
    # from their row (生成链接), as one would over the counter or a chat
    for row in await console.locator("#people-rows tr").all():
        if not (await row.inner_text()).startswith("保险公司"):
            continue
        await row.locator("button.invite-link").click()  # the page's confirm() is accepted by the handler above
        handed = row.locator("input.handed-link")
        await handed.wait_for()
        links[str(await row.get_attribute("data-participant-id"))] = await handed.input_value()
    assert len(links) == 4  # two drivers, two policies
    for join in links.values():
        phone = await page_of(PHONE)
        await phone.goto(join)
        await phone.wait_for_selector("#appraisal-party:not([hidden]) .appraisal-agree")
        await phone.click(".appraisal-agree")
        await phone.wait_for_selector(".appraisal-mine:has-text('您已同意')")
        await phone.context.close()
    await console.click("#progress-back")
    await console.click(f"button[data-progress-id='{cid}']")
    await console.wait_for_selector(".appraisal-consents li[data-answer='agree'] >> nth=3")
    await console.click(".appraisal-draw")
    await console.wait_for_selector("article.appraisal[data-state='chosen']")
    assert institution_name in await console.inner_text("article.appraisal")
    await console.fill(".appraisal-fee", "3000")
    await console.select_option(".appraisal-payer", "insurer")
    await console.click(".appraisal-appoint")
    await console.wait_for_selector("article.appraisal[data-state='appointed']")
    await console.locator(".appraisal-materials li", has_text="道路交通事故认定书").locator("input").check()
    await console.click(".appraisal-send")
    await console.wait_for_selector("#appraisal-desk-status:has-text('已送交 1 份')")

    institution = await page_of(DESK)
    await staff_login(institution, base, "a[href='/appraisal']", appraiser)
    await institution.wait_for_selector("#rows tr button.open")
    assert case_number in await institution.inner_text("#rows")
    await institution.click("#rows tr button.open")
    await institution.wait_for_selector("#d-materials li")
    assert await institution.locator("#d-materials li").count() == 1  # what was sent, the police's finding
    assert "道路交通事故认定书" in await institution.inner_text("#d-materials")
    opinion = await signed_opinion(api.app[SIGNING], case_number, institution_name, datetime.now(UTC))
    await institution.set_input_files(
        "#opinion-file", files=[{"name": "鉴定意见书.pdf", "mimeType": "application/pdf", "buffer": opinion}]
    )
    await institution.click("#opinion button")
    await institution.wait_for_selector("#d-opinion:has-text('有效签名 1')")
    await institution.context.close()

    await console.click("#progress-back")
    await console.click(f"button[data-progress-id='{cid}']")
    await console.wait_for_selector("article.appraisal[data-state='opinion'] .appraisal-check")
    assert "有效" in await console.inner_text(".appraisal-check")
    await console.select_option(".appraisal-score", "4")
    await console.fill(".appraisal-comment", "论证充分")
    await console.click(".appraisal-evaluate")
    await console.wait_for_selector(".appraisal-evaluation:has-text('4 分')")
    # the party sees the appointment notice and the opinion on the phone, from the link they were sent
    phone = await page_of(PHONE)
    await phone.goto(links["张三"])
    await phone.wait_for_selector("#appraisal-party article.appraisal[data-state='opinion']")
    buttons = await phone.locator("#appraisal-party .appraisal-download").all_inner_texts()
    assert any("鉴定委托通知书" in b for b in buttons) and any("鉴定意见书" in b for b in buttons), buttons
    async with phone.expect_download() as downloading:
        await phone.locator("#appraisal-party .appraisal-download", has_text="鉴定意见书").click()
    assert Path(await (await downloading.value).path()).read_bytes() == opinion
    await phone.context.close()
    office = await page_of(DESK)
    await staff_login(office, base, "a[href='/bureau']", bureau)
    org = appraiser_account.organisation_id
    await office.wait_for_selector(f"#rows tr[data-id='{org}']")
    assert institution_name in await office.inner_text(f"#rows tr[data-id='{org}']")
    assert "论证充分" in await office.inner_text(f"#details section[data-id='{org}']")
    lap("appraisal evaluated")

    print(" · ".join(f"{what} {at - laps[i][1]:.1f}s" for i, (what, at) in enumerate(laps[1:])))
    print(f"total {laps[-1][1] - laps[0][1]:.1f}s")
    assert not errors, errors
