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
import uuid
from datetime import timedelta
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
) -> dict[str, Any]:
    """A case whose agreement everyone has signed: the parties with codes, the mediator last (with a code
    when their account has a phone, else with the password)."""
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
    assert (await api.call("POST", f"{base}/agreement/drafts", med, json=TERMS))[0] == 201
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
