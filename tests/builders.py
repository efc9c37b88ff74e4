"""Builders the integration and end-to-end tests share: sample parties and agreement terms, accounts,
and cases brought over the real HTTP API to a given stage (parties added, a session held, the agreement
signed, the agreement served), plus what a signer sends (a drawn mark, the code from the text message).

Each builder drives the running application through :class:`tests.conftest.Api`, as a client would; none
writes past the API except where an account has no HTTP route to create it (the store's ``create_account``).
"""

from __future__ import annotations

import base64
import io
import re
import struct
import uuid
import zlib
from datetime import datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw

from server.app import DELIVERIES
from server.domain.roles import AccountKind
from server.identity.access import new_id
from server.identity.passwords import hash_password
from server.notify import OutboxNotifier
from server.signing.endpoints import SIGNINGS
from server.store.accounts import Account, AccountStore
from tests.conftest import Api

# ------------------------------------------------------------------ sample data

PASSWORD = "correct horse battery staple"  # of every account that account() and judge_of() create

APPLICANT = {"role": "applicant", "display_name": "张三", "phone": "13912345678", "id_number": "110101199001011234"}
RESPONDENT = {"role": "respondent", "display_name": "李四", "phone": "13987654321", "email": "li@example.org"}

COURT = "某某法院"  # the court of the accounts that account() creates

CLAIM = {
    "items": [
        {"kind": "医疗费", "amount": "30000.00", "note": "住院 15 天"},
        {"kind": "误工费", "amount": "20000"},
        {"kind": "财产损失", "amount": "5,000.00", "note": "电动车修理"},
    ],
    "vehicles": [
        {
            "party": "李四",
            "liability_share": 100,
            "compulsory": {"insurer": "甲保险公司"},
            "commercial": {"insurer": "乙保险公司", "limit": "1000000"},
        }
    ],
}

TERMS = {
    "facts": "2026年10月3日，李四驾驶小型轿车在环城路与张三驾驶的电动自行车相撞，交警认定李四负全部责任。",
    "claim": CLAIM,
    "obligations": [
        {"payer": "乙保险公司", "payee": "张三", "amount": "15000.00", "due": "2026-12-31", "method": "银行转账"}
    ],
    "other_terms": ["张三放弃其他诉讼请求。"],
}

# the parties of a case to be served: both reachable by text message and e-mail; the respondent's
# mail server bounces
SERVICE_APPLICANT = {
    "role": "applicant",
    "display_name": "张三",
    "phone": "13912345678",
    "email": "zhang@example.org",
    "id_number": "110101199001011234",
}
SERVICE_RESPONDENT = {
    "role": "respondent",
    "display_name": "李四",
    "phone": "13987654321",
    "email": "li@bounce.example",
}

# ------------------------------------------------------------------ accounts and cases


async def account(api: Api, kind: AccountKind, name: str = "", phone: str | None = None) -> tuple[str, str]:
    """Create an account of the court every builder uses (:data:`COURT`) and log in over HTTP; return (username, token)."""
    username, token, _ = await staff_account(api, kind, COURT, name, phone)
    return username, token


async def case_with_parties(api: Api) -> dict[str, Any]:
    _, mediator = await account(api, AccountKind.MEDIATOR, "王调解员")
    status, case, resp = await api.call(
        "POST", "/api/v1/cases", mediator, json={"kind": "traffic_accident", "title": "追尾事故赔偿"}
    )
    assert status == 201, case
    assert resp.headers["Location"] == f"/api/v1/cases/{case['id']}"
    cid = case["id"]
    out: dict[str, Any] = {"mediator": mediator, "case_id": cid}
    for key, person in (("applicant", APPLICANT), ("respondent", RESPONDENT)):
        status, added, _ = await api.call("POST", f"/api/v1/cases/{cid}/participants", mediator, json=person)
        assert status == 201, added
        assert added["link"]["join_url"].startswith("https://mediation.test/join#token=m1.")
        out[key] = added["link"]["token"]
        out[key + "_id"] = added["participant"]["id"]
    return out


async def staff_account(
    api: Api, kind: AccountKind, organisation: str, name: str = "", phone: str | None = None
) -> tuple[str, str, Account]:
    """An account of ``kind`` in the named organisation (recorded on the spot if new), logged in over HTTP;
    returns (username, token, the stored account)."""
    username = f"{kind.value}-{uuid.uuid4().hex[:8]}"
    store = AccountStore(api.repo.engine)
    account_id = new_id()
    await store.create_account(
        Account(
            account_id,
            username,
            name or username,
            kind,
            organisation,
            hash_password(PASSWORD, log2_n=12),
            api.clock(),
            phone=phone,
        )
    )
    status, body, _ = await api.call("POST", "/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert status == 200, body
    return username, str(body["token"]), await store.account(account_id)


async def staff_of(api: Api, kind: AccountKind, organisation: str, name: str) -> str:
    """The token of a new account of ``kind`` in the named organisation."""
    return (await staff_account(api, kind, organisation, name))[1]


async def judge_of(api: Api, court: str, name: str) -> str:
    """The token of a new judge of the named court."""
    return await staff_of(api, AccountKind.JUDGE, court, name)


async def between_sessions(api: Api) -> dict[str, Any]:
    c = await case_with_parties(api)
    cid, med = c["case_id"], c["mediator"]
    starts = (api.clock() + timedelta(hours=1)).isoformat()
    _, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions", med, json={"starts_at": starts})
    sid = body["session_id"]
    for step in ("start", "end"):
        status, body, _ = await api.call("POST", f"/api/v1/cases/{cid}/sessions/{sid}/{step}", med)
        assert status == 200, body
    return c


async def signed_case(
    api: Api,
    people: tuple[dict[str, str], ...] = (SERVICE_APPLICANT, SERVICE_RESPONDENT),
    mediator_phone: str | None = None,
    terms: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A case whose agreement everyone has signed: the parties with codes, the mediator last (with a code
    when their account has a phone, else with the password). ``terms``: the agreement's (default :data:`TERMS`)."""
    username, med = await account(api, AccountKind.MEDIATOR, "王调解员", phone=mediator_phone)
    status, case, _ = await api.call("POST", "/api/v1/cases", med, json={"kind": "traffic_accident", "title": "追尾"})
    assert status == 201
    base = f"/api/v1/cases/{case['id']}"
    out: dict[str, Any] = {"mediator": med, "mediator_username": username, "case_id": case["id"], "base": base}
    for person in people:
        status, added, _ = await api.call("POST", f"{base}/participants", med, json=person)
        assert status == 201, added
        out[person["role"]], out[person["role"] + "_id"] = added["link"]["token"], added["participant"]["id"]
    starts = (api.clock() + timedelta(hours=1)).isoformat()
    sid = (await api.call("POST", f"{base}/sessions", med, json={"starts_at": starts}))[1]["session_id"]
    for step in ("start", "end"):
        assert (await api.call("POST", f"{base}/sessions/{sid}/{step}", med))[0] == 200
    assert (await api.call("POST", f"{base}/agreement/drafts", med, json=terms or TERMS))[0] == 201
    assert (await api.call("POST", f"{base}/signing", med, json={"deadline_hours": 48}))[0] == 201
    outbox = OutboxNotifier()
    api.app[SIGNINGS].notifier = outbox
    for person in people:
        role = person["role"]
        assert (await api.call("POST", f"{base}/signing/code", out[role]))[0] == 201
        body = {"code": code_for(outbox, person["phone"]), "mark_png": mark()}
        status, signed, _ = await api.call("POST", f"{base}/signing/sign", out[role], json=body)
        assert status == 201, signed
    if mediator_phone:
        assert (await api.call("POST", f"{base}/signing/code", med))[0] == 201
        body = {"code": code_for(outbox, mediator_phone), "mark_png": mark()}
    else:
        body = {"password": PASSWORD, "mark_png": mark()}
    status, done, _ = await api.call("POST", f"{base}/signing/sign", med, json=body)
    assert status == 201 and done["state"] == "signed", done
    out["agreement"] = done["document"]
    return out


async def by_hand(api: Api) -> Any:
    """The delivery worker with its background loop stopped: the test runs each round itself."""
    worker = api.app[DELIVERIES]
    await worker.close()
    return worker


async def served_case(api: Api) -> dict[str, Any]:
    """A signed agreement served on both parties through their platform inboxes."""
    worker = await by_hand(api)
    c = await signed_case(api)
    for who in ("applicant", "respondent"):
        assert (await api.call("POST", f"{c['base']}/service/consent", c[who], json={"channels": ["inbox"]}))[0] == 201
    body = {"document_id": c["agreement"]["id"], "deadline_hours": 24}
    assert (await api.call("POST", f"{c['base']}/service", c["mediator"], json=body))[0] == 201
    await worker.tick()
    assert (await api.call("GET", c["base"], c["mediator"]))[1]["state"] == "served"
    c["worker"] = worker
    return c


# ------------------------------------------------------------------ what a signer sends


def mark() -> str:
    image = Image.new("RGBA", (300, 120), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(10, 100), (80, 20), (150, 90), (290, 15)], fill=(20, 30, 120, 255), width=6)
    out = io.BytesIO()
    image.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def code_for(outbox: OutboxNotifier, phone: str) -> str:
    message = [m for m in outbox.sent if m.to == phone][-1]
    found = re.search(r"\b(\d{6})\b", message.text)
    assert found, message.text
    return found.group(1)


# ------------------------------------------------------------------ a scene report with its finding (issue 15, H2)


def found_scene_report(number: str = "KC-20261205-0001", unit: str = "unit-1") -> Any:
    """A scene report in state FOUND (``server.domain.scene``): two drivers, the officer's finding
    (driver 1 major 70 %, driver 2 minor 30 %, 1,800 yuan agreed, paid by driver 1)."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from server.domain.scene import Driver, Liability, LiabilityFinding, SceneReport, SceneState

    at = datetime(2026, 12, 5, 1, 30, tzinfo=UTC)
    drivers = (
        Driver(
            1, str(uuid.uuid4()), "赵一", "13900000001", "330102199001011111", "浙A12345", "中国人保", None, "左前门"
        ),
        Driver(
            2, str(uuid.uuid4()), "钱二", "13900000002", "330102199202022222", "浙B67890", "平安产险", None, "右后灯"
        ),
    )
    finding = LiabilityFinding(
        {1: Liability.MAJOR, 2: Liability.MINOR},
        {1: 70, 2: 30},
        "甲车变道时未让乙车先行，两车在文一路发生刮擦。",
        "甲违反《道路交通安全法实施条例》第四十四条变更车道未让行。",
        "officer-1",
        at + timedelta(hours=1),
        Decimal("1800.00"),
        1,
    )
    return SceneReport(
        str(uuid.uuid4()),
        number,
        unit,
        SceneState.FOUND,
        at,
        at,
        "杭州市西湖区文一路与学院路口",
        drivers,
        finding=finding,
    )


# ------------------------------------------------------------------ scene reports (快处快赔, the phones' side)

SCENE_DRIVERS = (
    {
        "name": "孙一",
        "phone": "13900000011",
        "licence_number": "330102199001011111",
        "plate": "浙A12345",
        "insurer": "中国人保财险",
        "damaged_part": "左前门",
    },
    {
        "name": "周二",
        "phone": "13900000022",
        "licence_number": "330102199202022222",
        "plate": "浙AD12345",
        "insurer": "平安产险",
        "damaged_part": "右后灯",
    },
)
"""Both drivers' items as the phone page sends them (driver 2's plate a new-energy one)."""


def scene_photo(seed: int, size: tuple[int, int] = (800, 600)) -> bytes:
    """A camera-like JPEG, different for each ``seed`` (the phone's downscaled upload)."""
    img = Image.new("RGB", size, ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    draw = ImageDraw.Draw(img)
    for i in range(12):
        draw.line(
            (0, i * 50 + seed % 50, size[0], (i * 37 + seed) % size[1]), fill=(255 - i * 20, i * 20, 128), width=5
        )
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return out.getvalue()


# ------------------------------------------------------------------ cases from the police's systems (issue 15)

INTAKE_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def resident_id(first17: str) -> str:
    """An 18-character resident identity number with its check digit."""
    from server.intake.document import id_check_digit

    return first17 + id_check_digit(first17)


def intake_document(organisation_id: str, number: str, **changes: Any) -> dict[str, Any]:
    """A police agency's intake document (two drivers, their vehicles and insurers, a finding, the finding's PDF
    and a scene photo) for the mediation organisation ``organisation_id``; ``changes`` replace top-level fields."""
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(photo, "JPEG")
    doc: dict[str, Any] = {
        "police_case_number": number,
        "mediation_organisation_id": organisation_id,
        "accident": {
            "occurred_at": "2026-11-20T08:30:00+08:00",
            "place": "杭州市西湖区文三路与学院路交叉口",
            "summary": "李四驾驶浙A12345小型轿车右转时与直行的张三驾驶的浙B67890小型轿车相撞，两车受损，张三受伤。",
        },
        "parties": [
            {
                "ref": "P1",
                "role": "applicant",
                "name": "张三",
                "id_number": resident_id("33010619850312002"),
                "mobile": "13911112222",
                "email": "zhang.intake@example.org",
                "plate": "浙B67890",
            },
            {
                "ref": "P2",
                "role": "respondent",
                "name": "李四",
                "id_number": resident_id("33010219900705151"),
                "mobile": "13833334444",
                "plate": "浙A12345",
            },
        ],
        "vehicles": [
            {"plate": "浙B67890", "party": "P1", "model": "小型轿车", "damage": "左前部受损"},
            {"plate": "浙A12345", "party": "P2", "model": "小型轿车", "damage": "右前部受损"},
        ],
        "insurers": [
            {
                "name": "甲财产保险股份有限公司",
                "policy_number": "PDZA202633010000001",
                "party": "P2",
                "cover": "compulsory",
            },
            {
                "name": "甲财产保险股份有限公司",
                "policy_number": "PDAA202633010000002",
                "party": "P2",
                "cover": "commercial",
            },
        ],
        "liability": {
            "shares": [
                {"party": "P2", "liability": "major", "share_percent": 70},
                {"party": "P1", "liability": "minor", "share_percent": 30},
            ],
            "reasons": "李四右转未让直行车辆先行，违反《道路交通安全法实施条例》第五十二条；张三未减速慢行。",
            "finding_number": "公交认字[2026]第00012号",
        },
        "attachments": [
            {
                "kind": "liability_finding",
                "title": "道路交通事故认定书",
                "filename": "认定书.pdf",
                "media_type": "application/pdf",
                "content": base64.b64encode(INTAKE_PDF).decode(),
            },
            {
                "kind": "photo",
                "title": "现场照片",
                "filename": "scene.jpg",
                "media_type": "image/jpeg",
                "content": base64.b64encode(photo.getvalue()).decode(),
            },
        ],
    }
    doc.update(changes)
    return doc


# ------------------------------------------------------------------ online appraisal (stage H5)


async def appraisal_institution(api: Api, name: str, specialties: list[str]) -> tuple[str, str]:
    """An appraisal institution with one appraiser and an administrator who sets its specialties over HTTP;
    returns (the appraiser's token, the institution's id)."""
    appraiser = await staff_of(api, AccountKind.APPRAISER, name, "褚鉴定人")
    admin = await staff_of(api, AccountKind.ORG_ADMIN, name, "卫管理员")
    status, mine, _ = await api.call("GET", "/api/v1/organisations/mine", admin)
    assert status == 200 and mine["organisation"]["kind"] == "appraisal", mine
    org_id = str(mine["organisation"]["id"])
    path = f"/api/v1/appraisal/institutions/{org_id}/specialties"
    status, body, _ = await api.call("PUT", path, admin, json={"specialties": specialties})
    assert status == 200, body
    return appraiser, org_id


async def signed_opinion(keys: Any, case_number: str, institution: str, now: datetime) -> bytes:
    """An appraisal opinion (鉴定意见书) signed by the institution with a certificate of the platform's CA
    (``keys``: the running application's ``SIGNING``)."""
    from server.documents.pdf import DocumentBuilder, SignatureBox
    from server.documents.sealed import render_sealed

    def render(_: None) -> tuple[bytes, SignatureBox]:
        doc = DocumentBuilder("司法鉴定意见书", created_at=now, case_number=case_number)
        doc.paragraph("鉴定意见：被鉴定人之损伤构成十级伤残。")
        box = doc.signature_block("institution", f"{institution}（鉴定专用章）")
        return doc.render(), box

    signer = ("institution", institution, "司法鉴定机构")
    return await render_sealed(render, None, keys, case_number, "鉴定意见", now, signer)


async def insured_case(api: Api, qualifier: str = "") -> dict[str, Any]:
    """One-click claims' world: a signed case whose agreement obliges its insurer participant to pay the
    applicant 15,000 yuan (the terms' 5,000 of property loss is vehicle damage); the insurer is an organisation
    of kind insurer of the same name, with a claims adjuster and an administrator (who has a phone). Keys as
    :func:`signed_case`'s, plus ``insurer_name``, ``insurer_id``, ``adjuster`` (token), ``adjuster_id``, ``adjuster_username``, ``insurer_admin_username``,
    ``insurer_admin`` (token); ``insurer`` is the insurer participant's join token. ``qualifier`` follows the
    insurer's name on the case (e.g. ``（交强险）``, as the police's intake names insurers): the participant and the
    agreement's payer, not the organisation."""
    name = f"乙保险公司{uuid.uuid4().hex[:6]}"
    adjuster_username, adjuster, adjuster_account = await staff_account(
        api, AccountKind.CLAIMS_ADJUSTER, name, "赵理赔员"
    )
    admin_username, admin, _ = await staff_account(api, AccountKind.ORG_ADMIN, name, "钱管理员", phone="13700000001")
    payer = name + qualifier
    obligation = {"payer": payer, "payee": "张三", "amount": "15000.00", "due": "2026-12-31", "method": "银行转账"}
    insurer = {"role": "insurer", "display_name": payer, "phone": "13800000009"}
    c = await signed_case(
        api,
        (SERVICE_APPLICANT, SERVICE_RESPONDENT, insurer),
        mediator_phone="13600000002",
        terms={**TERMS, "obligations": [obligation]},
    )
    c.update(
        insurer_name=name,
        insurer_id=adjuster_account.organisation_id,
        adjuster=adjuster,
        adjuster_id=adjuster_account.id,
        adjuster_username=adjuster_username,
        insurer_admin=admin,
        insurer_admin_username=admin_username,
    )
    return c


PDF_BYTES = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
"""A PDF's bytes, enough for an upload checked by its first bytes (an authorisation's signed document)."""


async def authorise(api: Api, c: dict[str, Any], limit: str = "50000", **extra: Any) -> dict[str, Any]:
    """The insurer's administrator of :func:`insured_case` authorises its adjuster (any region unless told)."""
    today = api.clock().date()
    body = {
        "account_id": c["adjuster_id"],
        "any_region": True,
        "limit": limit,
        "valid_from": (today - timedelta(days=30)).isoformat(),
        "valid_to": (today + timedelta(days=365)).isoformat(),
        "document_pdf": base64.b64encode(PDF_BYTES).decode(),
        **extra,
    }
    status, out, _ = await api.call(
        "POST", f"/api/v1/organisations/{c['insurer_id']}/authorisations", c["insurer_admin"], json=body
    )
    assert status == 201, out
    return dict(out)


# ------------------------------------------------------------------ a scene report the police found on (issue 15, H2)


async def forget_scene_starts(api: Api) -> None:
    """Empty the per-address counts of scene report starts (every test starts from 127.0.0.1 at the same clock,
    and the PostgreSQL database is shared by the run's tests: without this the run's eleventh start is 429)."""
    from sqlalchemy import delete

    from server.store import schema as t

    lim = t.application_limits
    async with api.repo.engine.begin() as conn:
        await conn.execute(delete(lim).where(lim.c.bucket.like("scene-start:%")))


async def found_report(api: Api, unit_name: str = "示范区公安局交通警察大队二中队") -> dict[str, Any]:
    """A scene report taken over HTTP to ``found``: both drivers' items and photos, accepted and found by an officer
    of ``unit_name`` (driver 1 major 70 %, driver 2 minor 30 %, 1,800 yuan paid by driver 1). Its id, number, the
    drivers' scene tokens (``tokens[1]``, ``tokens[2]``) and the officer's token."""
    import hashlib

    await forget_scene_starts(api)
    officer = await staff_of(api, AccountKind.POLICE_OFFICER, unit_name, "冯警官")
    units = (await api.call("GET", "/api/v1/public/police-units"))[1]["units"]
    unit = next(u["id"] for u in units if u["name"] == unit_name)
    first, second = SCENE_DRIVERS
    start = {
        "police_unit_id": unit,
        "occurred_at": (api.clock() - timedelta(minutes=10)).isoformat(),
        "place": "杭州市西湖区文一路与学院路口",
        "name": first["name"],
        "phone": first["phone"],
    }
    status, started, _ = await api.call("POST", "/api/v1/public/scene-reports", json=start)
    assert status == 201, started
    rid, number = started["report"]["id"], started["report"]["number"]
    join = {"number": number, "code": started["join_code"], "name": second["name"], "phone": second["phone"]}
    status, joined, _ = await api.call("POST", "/api/v1/public/scene-reports/join", json=join)
    assert status == 201, joined
    tokens = {1: started["token"], 2: joined["token"]}
    base = f"/api/v1/scene-reports/{rid}"
    for n, items in ((1, first), (2, second)):
        assert (await api.call("PUT", f"{base}/items", tokens[n], json=items))[0] == 200
        for i, slot in enumerate(("front", "rear", "collision", "driver_with_vehicle")):
            photo = scene_photo(n * 10 + i)
            original = photo + b"original"
            q = f"slot={slot}&original_sha256={hashlib.sha256(original).hexdigest()}&original_size={len(original)}"
            headers = {"Content-Type": "image/jpeg"}
            status, out, _ = await api.call("POST", f"{base}/photos?{q}", tokens[n], data=photo, headers=headers)
            assert status == 201, out
        assert (await api.call("POST", f"{base}/complete", tokens[n]))[0] == 200
    desk = f"/api/v1/police/scene-reports/{rid}"
    assert (await api.call("POST", f"{desk}/accept", officer))[0] == 200
    finding = {
        "drivers": [{"number": 1, "liability": "major", "share": 70}, {"number": 2, "liability": "minor", "share": 30}],
        "facts": "甲车变道时未让乙车先行，两车在文一路发生刮擦。",
        "reasons": "甲变更车道未让行。",
        "agreed_amount": "1800.00",
        "payer": 1,
    }
    status, out, _ = await api.call("POST", f"{desk}/finding", officer, json=finding)
    assert status == 200 and out["state"] == "found", out
    return {"id": rid, "number": number, "tokens": tokens, "officer": officer, "unit": unit}


async def signed_report(api: Api, unit_name: str = "示范区公安局交通警察大队二中队") -> dict[str, Any]:
    """:func:`found_report` taken to ``signed``: both drivers signed the electronic accident finding from their
    phones with their codes (the finding's notifier is an outbox)."""
    from server.scene.finding_endpoints import FINDINGS

    report = await found_report(api, unit_name)
    rid, tokens = report["id"], report["tokens"]
    outbox = OutboxNotifier()
    api.app[FINDINGS].notifier = outbox
    for n, d in zip((1, 2), SCENE_DRIVERS, strict=True):
        status, sent, _ = await api.call("POST", f"/api/v1/scene-reports/{rid}/finding/code", tokens[n])
        assert status == 201, sent
        body = {"code": code_for(outbox, d["phone"]), "mark": mark()}
        status, out, _ = await api.call("POST", f"/api/v1/scene-reports/{rid}/finding/signature", tokens[n], json=body)
        assert status == 201, out
    status, view, _ = await api.call("GET", f"/api/v1/scene-reports/{rid}", tokens[1])
    assert view["state"] == "signed", view
    return report


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` (one short compressed row): a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


async def scene_world(api: Api, unit_name: str) -> dict[str, str]:
    """A scene report just started at the police unit ``unit_name`` (recorded with its officers): driver 1's scene
    link (``token``), the report's ids, a wrong join code, the unit's id and a time an accident may be reported at."""
    await forget_scene_starts(api)
    status, units, _ = await api.call("GET", "/api/v1/public/police-units")
    assert status == 200, units
    unit = next(u["id"] for u in units["units"] if u["name"] == unit_name)
    occurred = (api.clock() - timedelta(minutes=10)).isoformat()
    d = SCENE_DRIVERS[0]
    body = {"police_unit_id": unit, "occurred_at": occurred, "place": "文一路", "name": d["name"], "phone": d["phone"]}
    status, out, _ = await api.call("POST", "/api/v1/public/scene-reports", json=body)
    assert status == 201, out
    return {
        "token": out["token"],
        "report_id": out["report"]["id"],
        "report_number": out["report"]["number"],
        "wrong_join_code": f"{(int(out['join_code']) + 1) % 10**6:06d}",
        "photo_id": str(uuid.uuid4()),
        "police_unit_id": unit,
        "scene_occurred_at": occurred,
    }
