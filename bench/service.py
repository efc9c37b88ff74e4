"""Latency of electronic service and of judicial confirmation, end to end over the real server.

Each run takes a fresh case whose agreement everyone has signed (set-up, not measured), on SQLite,
the real HTTP server and a real SMTP server on loopback (aiosmtpd), and measures:

* ``serve``: from ``POST …/service`` (the signed agreement, both parties by e-mail with the PDF
  attached) until the case is ``served``, i.e. the delivery worker sent both mails and the SMTP
  server accepted them. The baseline, in the same run: one ``SmtpNotifier.send`` of the same mail
  straight to the same server (the floor for one delivery).
* ``submit``: the last party's ``POST …/confirmation/confirm``: the sealed application, the packet
  index, the life-cycle change and the court's queue.
* ``rule``: the judge's ``POST …/confirmation/ruling``: the ruling rendered, signed with the court's
  key, stored, and served on both parties. The baselines: sealing that kind of document alone
  (``server.signing.usecases.seal``: one PAdES certifying signature with a timestamp) and
  rendering it alone (fpdf2 with the embedded CJK font subset: most of the cost).

    .venv/bin/python bench/service.py --quick
    .venv/bin/python bench/service.py --runs 10

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from server.app import build_app  # noqa: E402
from server.config import Settings  # noqa: E402
from server.confirmation.documents import RulingFacts, render_ruling  # noqa: E402
from server.documents.sealed import seal  # noqa: E402
from server.e_service.endpoints import SERVING  # noqa: E402
from server.http.kit import SERVICE  # noqa: E402
from server.notify import Attachment, ChannelNotifier, LogNotifier, Message, SmtpNotifier  # noqa: E402
from server.signing.endpoints import SIGNING  # noqa: E402
from server.store import db  # noqa: E402
from tests.builders import COURT, judge_of, signed_case  # noqa: E402
from tests.channels import Mailbox, smtp_server  # noqa: E402
from tests.conftest import Api, Clock  # noqa: E402


async def until(check: Any, limit: float = 30.0) -> None:
    deadline = time.perf_counter() + limit
    while not await check():
        if time.perf_counter() > deadline:
            raise TimeoutError("the service did not take effect")
        await asyncio.sleep(0.005)


async def one_run(api: Api, smtp: SmtpNotifier, judge: str) -> dict[str, float]:
    c = await signed_case(api)
    base, med = c["base"], c["mediator"]
    for who in ("applicant", "respondent"):
        await api.call("POST", f"{base}/service/consent", c[who], json={"channels": ["email"]})

    async def served() -> bool:
        return bool((await api.call("GET", base, med))[1]["state"] == "served")

    started = time.perf_counter()
    status, _, _ = await api.call("POST", f"{base}/service", med, json={"document_id": c["agreement"]["id"]})
    assert status == 201
    await until(served)
    serve = time.perf_counter() - started

    pdf = (await api.call("GET", f"{base}/documents/{c['agreement']['id']}", med))[1]
    message = Message(
        "email",
        "bench@example.org",
        "【电子送达】bench",
        "正文" * 200,
        api.clock(),
        (Attachment("a.pdf", "application/pdf", pdf),),
    )
    started = time.perf_counter()
    await smtp.send(message)
    raw_smtp = time.perf_counter() - started

    await api.call("POST", f"{base}/confirmation", med, json={"court": COURT})
    await api.call("POST", f"{base}/confirmation/confirm", c["applicant"])
    started = time.perf_counter()
    status, body, _ = await api.call("POST", f"{base}/confirmation/confirm", c["respondent"])
    submit = time.perf_counter() - started
    assert status == 200 and body["submitted_at"], body

    await api.call("POST", f"/api/v1/court/applications/{c['case_id']}/take", judge)
    started = time.perf_counter()
    status, body, _ = await api.call(
        "POST", f"{base}/confirmation/ruling", judge, json={"confirmed": True, "reasons": "协议不违反法律规定。"}
    )
    rule = time.perf_counter() - started
    assert status == 201, body

    keys = api.app[SIGNING]
    now = api.clock()
    started = time.perf_counter()
    unsigned, box = render_ruling(
        RulingFacts(
            COURT,
            "TJ-1",
            [("张三", "申请人"), ("李四", "被申请人")],
            "调解协议书",
            "a" * 64,
            now,
            now,
            True,
            "",
            "赵法官",
            now,
        )
    )
    raw_render = time.perf_counter() - started
    started = time.perf_counter()
    await seal(keys, unsigned, box, "TJ-1", "民事裁定", now)
    raw_seal = time.perf_counter() - started
    return {
        "serve": serve,
        "raw_smtp": raw_smtp,
        "submit": submit,
        "rule": rule,
        "raw_seal": raw_seal,
        "raw_render": raw_render,
    }


async def main(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, smtp_server(Mailbox()) as controller:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await db.upgrade(url)
        clock = Clock(datetime.now(UTC))
        settings = Settings(
            data_dir=Path(folder),
            database_url=url,
            secret_key="b" * 48,
            public_url="https://mediation.bench",
            auto_migrate=False,
            transcript_engine="off",
        )
        app = build_app(settings, clock=clock)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        smtp = SmtpNotifier("127.0.0.1", controller.port, "service@bench.test", timeout=10)
        app[SERVING].notifier = ChannelNotifier(smtp, None, LogNotifier())
        try:
            async with aiohttp.ClientSession() as http:
                api = Api(str(server.make_url("")).rstrip("/"), http, clock, settings, app[SERVICE].repo, app)
                judge = await judge_of(api, COURT, "赵法官")
                results = [await one_run(api, smtp, judge) for _ in range(runs)]
        finally:
            await server.close()
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    worst = {k: max(r[k] for r in results) for k in results[0]}
    print(f"{runs} runs (median / worst, seconds)")
    print(f"  serve on 2 parties by e-mail, until 'served':  {med['serve']:.3f} / {worst['serve']:.3f}")
    print(f"  baseline: one SMTP send of that mail:          {med['raw_smtp']:.3f} / {worst['raw_smtp']:.3f}")
    print(f"  joint application submitted (last confirm):    {med['submit']:.3f} / {worst['submit']:.3f}")
    print(f"  ruling signed with the court's key and served: {med['rule']:.3f} / {worst['rule']:.3f}")
    print(f"  baseline: sealing a ruling alone:              {med['raw_seal']:.3f} / {worst['raw_seal']:.3f}")
    print(f"  baseline: rendering a ruling alone (fpdf2):    {med['raw_render']:.3f} / {worst['raw_render']:.3f}")
    return {
        "bench": "service",
        "runs": runs,
        "serve_p50_s": round(med["serve"], 4),
        "serve_max_s": round(worst["serve"], 4),
        "baseline_smtp_send_s": round(med["raw_smtp"], 4),
        "serve_ratio": round(med["serve"] / med["raw_smtp"], 1),
        "submit_p50_s": round(med["submit"], 4),
        "rule_p50_s": round(med["rule"], 4),
        "baseline_seal_s": round(med["raw_seal"], 4),
        "rule_ratio": round(med["rule"] / med["raw_seal"], 1),
        "baseline_render_s": round(med["raw_render"], 4),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 runs (well under a minute)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(3 if args.quick else args.runs))))
