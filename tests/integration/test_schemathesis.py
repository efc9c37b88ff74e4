"""Schemathesis against the live server: generated requests for every operation of ``openapi.json``.

The server runs on a real port in a thread of its own (schemathesis' pytest API calls it with
``requests``, synchronously); the requests carry a valid mediator token, and path parameters are
often the ids of a real case, its people, its session and a document, so the handlers are
reached, not just the 404 of an unknown id. Every default check runs: no 5xx, status codes,
content types, headers and bodies as documented, 405 with ``Allow`` for undocumented methods,
refused requests that the schema calls invalid, and accepted ones it calls valid.

Bounded for CI: :data:`MAX_EXAMPLES` per operation, derandomised (the same requests each run),
no example database, and no stateful phase. ``logout`` is left to the access matrix (it would end
the token every other request uses).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import schemathesis.engine
from aiohttp import web
from asn1crypto import tsp
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from server.app import ROOMS, build_app
from server.config import Settings
from server.store import db
from tests.live import prepare_case

MAX_EXAMPLES = 8
"""Generated examples per operation (the coverage phase adds its boundary cases on top)."""

KNOWN_GAPS = {
    "calculateCompensation": "the claim's items and vehicles are free-form objects in the schema",
    "draftAgreement": "the claim and the obligations are free-form objects in the schema",
}
"""Operations whose request schema does not yet say all the server checks: the check above is not
applied to them (every other check is). Remove a line when its schema describes its objects."""

SCHEMA_REFUSALS = frozenset({"validation_failed", "malformed_json", "unsupported_media_type", "bad_request"})
"""Problem codes that say "the request does not match the schema"; ``invalid_command`` (422) says a
well-formed request breaks a rule of the case (an unknown court, a case not yet closed)."""


@schemathesis.check
def schema_valid_requests_pass_validation(ctx: Any, response: Any, case: Any) -> bool | None:
    """What the schema calls valid, the server does not refuse as invalid.

    Schemathesis' own ``positive_data_acceptance`` counts every 422 as a refusal; this API answers
    422 ``invalid_command`` for well-formed requests that break a rule of the case, so only the
    problem codes of a schema refusal count here.
    """
    meta = case.meta
    if case.operation.definition.raw.get("operationId") in KNOWN_GAPS:
        return None
    if meta is None or not meta.generation.mode.is_positive or response.status_code not in (400, 415, 422):
        return None
    if "problem+json" not in response.headers.get("content-type", [""])[0]:
        return None
    code = response.json().get("code")
    if code in SCHEMA_REFUSALS:
        raise AssertionError(f"Schema-valid request refused: {response.status_code} {code}")
    return None


def _timestamp_query() -> bytes:
    digest = hashlib.sha256(b"schemathesis").digest()
    request = tsp.TimeStampReq(
        {"version": 1, "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest}}
    )
    return bytes(request.dump())


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
MEDIA = {
    "application/pdf": st.sampled_from([PDF]) | st.binary(max_size=512).map(lambda b: b"%PDF-1.7\n" + b),
    "application/timestamp-query": st.sampled_from([_timestamp_query()]) | st.binary(min_size=1, max_size=256),
    "text/plain": st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1).map(str.encode),
}
"""Bodies of the raw media types schemathesis cannot make by itself: valid ones and fuzzed ones."""


@dataclass
class Running:
    base: str
    token: str
    ids: dict[str, str]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The application on a free port, its own event loop in a thread, with a case ready."""
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="server", daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=120)

    async def start() -> tuple[web.AppRunner, str, Any]:
        url = f"sqlite+aiosqlite:///{folder / 'api.db'}"
        await db.upgrade(url)
        settings = Settings(
            data_dir=folder, database_url=url, secret_key="s" * 40, auto_migrate=False, transcript_engine="off"
        )
        app = build_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return runner, f"http://127.0.0.1:{port}", app

    runner, base, app = run(start())
    try:
        case_id, tokens, ids, _ = run(prepare_case(base, app[ROOMS].cases.repo))
        view = run(_view(base, case_id, tokens["mediator"]))
        yield Running(
            base,
            tokens["mediator"],
            {
                "case_id": case_id,
                "participant_id": ids["applicant"],
                "session_id": view["sessions"][0]["id"],
            },
        )
    finally:
        run(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


async def _view(base: str, case_id: str, token: str) -> Any:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}) as resp:
            return await resp.json()


def describe(recorder: Any, case_id: str, check: Any) -> str:
    """One failure: the operation, the check, the request to reproduce it and what the server said."""
    info = check.failure_info
    interaction = recorder.interactions.get(case_id)
    said = ""
    if interaction is not None and interaction.response is not None:
        said = f"{interaction.response.status_code} {interaction.response.content[:300]!r}"
    return f"{recorder.label}: {check.name}: {info.failure.title}\n{info.code_sample}\n-> {said}"


def test_the_api_keeps_its_contract(running: Running) -> None:
    names = ("case_id", "participant_id", "session_id")
    config = SchemathesisConfig.from_dict(
        {
            "headers": {"Authorization": f"Bearer {running.token}"},
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {"positive_data_acceptance": {"enabled": False}},
            "dictionaries": {name: {"values": [running.ids[name]]} for name in names},
            "parameters": {f"path.{name}": {"dictionary": name, "probability": 0.75} for name in names},
        }
    )
    for media_type, strategy in MEDIA.items():
        schemathesis.openapi.media_type(media_type, strategy)
    schema = schemathesis.openapi.from_url(f"{running.base}/api/v1/openapi.json", config=config)
    schema = schema.exclude(operation_id="logout")
    failures: list[str] = []
    scenarios = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        failures.append(describe(event.recorder, case_id, check))
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"{getattr(event, 'label', 'engine')}: {event}")
    assert scenarios > 60
    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} failures:\n" + "\n\n".join(unique)
