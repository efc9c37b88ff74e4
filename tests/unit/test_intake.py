"""The intake document's validation (each refusal names its JSON path), its published JSON Schema, and the
request signature, without a server."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from server.http.problems import validation_errors
from server.intake import keys
from server.intake.client import signed_headers
from server.intake.document import (
    IntakeDocument,
    canonical,
    fingerprint,
    id_check_digit,
    json_schema,
    reference_errors,
)
from tests.builders import intake_document

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "intake.schema.json"
ORG = "0b6f3f3e-2f4c-4b53-9d55-6c1b7d7a9e10"


def fields(doc: dict[str, Any]) -> list[str]:
    """The paths a refused document's problem names (as the API's ``errors`` list does)."""
    with pytest.raises(ValidationError) as caught:
        IntakeDocument.model_validate_json(json.dumps(doc))
    return [e["field"] for e in validation_errors(caught.value)]


def test_the_sample_document_is_valid_and_its_fingerprint_ignores_key_order_and_base64_form() -> None:
    doc = intake_document(ORG, "公交认字[2026]第00012号")
    parsed = IntakeDocument.model_validate_json(json.dumps(doc))
    assert reference_errors(parsed) == []
    again = IntakeDocument.model_validate_json(json.dumps(dict(reversed(list(doc.items())))))
    assert fingerprint(canonical(parsed)) == fingerprint(canonical(again))
    assert "content" not in json.dumps(canonical(parsed))  # attachments kept by hash
    changed = copy.deepcopy(doc)
    changed["liability"]["reasons"] += "。"
    assert fingerprint(canonical(IntakeDocument.model_validate_json(json.dumps(changed)))) != fingerprint(
        canonical(parsed)
    )


def test_id_number_check_digit() -> None:
    assert id_check_digit("11010519491231002") == "X"  # GB 11643's worked example
    doc = intake_document(ORG, "A1")
    good = doc["parties"][1]["id_number"]
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    doc["parties"][1]["id_number"] = wrong
    assert fields(doc) == ["parties.1.id_number"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["liability"]["shares"][0].update(share_percent=60), "liability.shares"),
        (lambda d: d["parties"][0].update(nickname="三儿"), "parties.0.nickname"),
        (lambda d: d.update(agency_id=ORG), "agency_id"),
        (lambda d: d["parties"][0].update(mobile="1391111222"), "parties.0.mobile"),
        (lambda d: d["vehicles"][0].update(plate="ZJ-123"), "vehicles.0.plate"),
        (lambda d: d["liability"]["shares"][0].update(liability="most"), "liability.shares.0.liability"),
        (lambda d: d.update(police_case_number="x" * 41), "police_case_number"),
        (lambda d: d["accident"].update(occurred_at="2026-11-20T08:30:00"), "accident.occurred_at"),
        (lambda d: d["accident"].update(summary="a\x00b"), "accident.summary"),
        (lambda d: d.update(parties=d["parties"][:1]), "parties"),
        (
            lambda d: d["attachments"][1].update(content=base64.b64encode(b"just text, not a photo").decode()),
            "attachments.1.content",
        ),
        (lambda d: d["attachments"][0].update(content="%%%not base64%%%"), "attachments.0.content"),
        (lambda d: d["attachments"][0].update(media_type="text/plain"), "attachments.0.media_type"),
    ],
)
def test_a_wrong_field_is_refused_with_its_path(change: Any, path: str) -> None:
    doc = intake_document(ORG, "A1")
    change(doc)
    assert fields(doc) == [path]


def test_an_oversized_attachment_is_refused() -> None:
    doc = intake_document(ORG, "A1")
    doc["attachments"][0]["content"] = base64.b64encode(b"%PDF-" + b"0" * (5 * 1024 * 1024)).decode()
    assert fields(doc) == ["attachments.0.content"]


def test_references_between_parts_are_checked_with_their_paths() -> None:
    doc = intake_document(ORG, "A1")
    doc["vehicles"][1]["party"] = "P9"
    doc["insurers"][0]["party"] = "P7"
    doc["liability"]["shares"] = [
        {"party": "P2", "liability": "full", "share_percent": 100},
        doc["liability"]["shares"][0],
    ]
    doc["liability"]["shares"][1] = {"party": "P2", "liability": "none", "share_percent": 0}
    parsed = IntakeDocument.model_validate_json(json.dumps(doc))
    assert [e["field"] for e in reference_errors(parsed)] == [
        "vehicles.1.party",
        "insurers.0.party",
        "liability.shares.1.party",
        "liability.shares",
    ]
    doc = intake_document(ORG, "A1")
    doc["parties"][1]["role"] = "applicant"
    assert [e["field"] for e in reference_errors(IntakeDocument.model_validate_json(json.dumps(doc)))] == ["parties"]


def test_the_published_schema_is_the_model() -> None:
    """docs/intake.schema.json is generated from the model: regenerate it with
    ``.venv/bin/python -c 'import json; from server.intake.document import json_schema;
    print(json.dumps(json_schema(), ensure_ascii=False, indent=2))' > docs/intake.schema.json``."""
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == json_schema(), "docs/intake.schema.json drifted from server.intake.document: regenerate it"


def test_the_published_schema_accepts_the_sample_and_names_what_it_refuses() -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    doc = intake_document(ORG, "A1")
    assert list(validator.iter_errors(doc)) == []
    doc["parties"][0]["nickname"] = "x"
    assert [list(e.absolute_path) for e in validator.iter_errors(doc)] == [["parties", 0]]


def test_signature_covers_method_path_time_nonce_and_body() -> None:
    secret = keys.key_secret(b"k" * 32, "ik_" + "0" * 32)
    assert secret != keys.key_secret(b"k" * 32, "ik_" + "1" * 32) and len(secret) == 32
    body = b'{"a":1}'
    h = signed_headers("ik_" + "0" * 32, secret, body, timestamp=1700000000, nonce="n" * 16)
    sig = h[keys.SIGNATURE_HEADER]
    args = ("POST", "/api/v1/intake/cases", "1700000000", "n" * 16, body)
    assert keys.signature_matches(secret, *args, sig)
    for i in range(len(args)):
        other = list(args)
        other[i] = other[i] + (b"x" if isinstance(other[i], bytes) else "x")  # type: ignore[operator]
        assert not keys.signature_matches(secret, *other, sig)  # type: ignore[arg-type]
    assert not keys.signature_matches(keys.key_secret(b"j" * 32, "ik_" + "0" * 32), *args, sig)
