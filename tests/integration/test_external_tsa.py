"""An external RFC 3161 timestamp authority configured by URL: a second server's ``/api/v1/tsa``
over real HTTP stamps the signatures; its root is trusted only because it is configured; when it
is gone, signing answers 503 and stores nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from e_sign.verify import verify_pdf
from server.notify import OutboxNotifier
from server.signing.endpoints import SIGNING, SIGNINGS
from tests.builders import TERMS, code_for, mark
from tests.live import _live

pytestmark = pytest.mark.asyncio

CONTACTS = {"applicant": {"phone": "13912345678"}, "respondent": {"phone": "13987654321"}}


async def call(http: aiohttp.ClientSession, method: str, url: str, token: str, json: Any = None) -> tuple[int, Any]:
    async with http.request(method, url, json=json, headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.json() if "json" in resp.content_type else await resp.read()


async def test_signatures_are_stamped_by_the_configured_authority(tmp_path: Path) -> None:
    external = _live(tmp_path / "tsa", contacts=CONTACTS)
    tsa = await anext(external)
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(tsa.app[SIGNING].ca.certificate.public_bytes(serialization.Encoding.PEM))
    platform = _live(
        tmp_path / "platform",
        contacts=CONTACTS,
        signing_tsa_url=f"{tsa.base}/api/v1/tsa",
        signing_tsa_roots=roots,
    )
    live = await anext(platform)
    try:
        outbox = OutboxNotifier()
        live.app[SIGNINGS].notifier = outbox
        case = f"{live.base}/api/v1/cases/{live.case_id}"
        mediator = live.tokens["mediator"]
        async with aiohttp.ClientSession() as http:
            sid = (await call(http, "GET", case, mediator))[1]["sessions"][0]["id"]
            for step in ("start", "end"):
                assert (await call(http, "POST", f"{case}/sessions/{sid}/{step}", mediator))[0] == 200
            assert (await call(http, "POST", f"{case}/agreement/drafts", mediator, TERMS))[0] == 201
            assert (await call(http, "POST", f"{case}/signing", mediator, {"deadline_hours": 24}))[0] == 201

            async def sign(who: str) -> tuple[int, Any]:
                assert (await call(http, "POST", f"{case}/signing/code", live.tokens[who]))[0] == 201
                body = {"code": code_for(outbox, CONTACTS[who]["phone"]), "mark_png": mark()}
                return await call(http, "POST", f"{case}/signing/sign", live.tokens[who], body)

            status, signed = await sign("applicant")
            assert status == 201, signed
            pdf = (await call(http, "GET", f"{case}/documents/{signed['document']['id']}", live.tokens["applicant"]))[1]
            # the platform's report trusts the configured authority...
            status, report = await call(
                http, "GET", f"{case}/documents/{signed['document']['id']}/signatures", mediator
            )
            assert status == 200 and report["ok"], report
            # ...and the token really came from it: with the platform CA alone, the time-stamp does not chain
            alone = await asyncio.to_thread(verify_pdf, pdf, [live.app[SIGNING].ca.certificate])
            assert not alone.signatures[0].timestamp_ok and alone.signatures[0].valid
            both = await asyncio.to_thread(verify_pdf, pdf, live.app[SIGNING].trust_roots)
            assert both.ok, both.reasons

            # the authority goes away: a clear 503, nothing stored, the signer can try again later
            await anext(external, None)
            status, body = await sign("respondent")
            assert (status, body["code"]) == (503, "service_unavailable"), body
            status, state = await call(http, "GET", f"{case}/signing", mediator)
            assert state["document"]["id"] == signed["document"]["id"]
            assert [bool(s["signed_at"]) for s in state["signers"]] == [True, False, False, False]
    finally:
        await anext(platform, None)
        await anext(external, None)


async def test_a_bad_authority_setting_is_refused_at_start(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from server.app import signing_keys
    from server.config import Settings
    from server.errors import ConfigError

    def clock() -> datetime:
        return datetime.now(UTC)

    with pytest.raises(ConfigError, match="signing_tsa_url"):
        signing_keys(Settings(data_dir=tmp_path, signing_tsa_url="ftp://tsa.example.org"), clock)
    (tmp_path / "not-a-cert.pem").write_text("hello")
    with pytest.raises(ConfigError, match="signing_tsa_roots"):
        signing_keys(Settings(data_dir=tmp_path, signing_tsa_roots=tmp_path / "not-a-cert.pem"), clock)
    keys = signing_keys(Settings(data_dir=tmp_path, signing_tsa_url="http://127.0.0.1:9/tsr"), clock)
    assert type(keys.timestamper()).__name__ == "HTTPTimeStamper" and keys.trust_roots == [keys.ca.certificate]
