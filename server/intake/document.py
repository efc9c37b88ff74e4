"""The intake document: what a traffic police agency's system sends to file a case (its JSON Schema is the
request schema of ``fileIntakeCase`` in ``openapi.json`` and ``docs/intake.schema.json``).

Validation is strict: unknown fields, wrong types and control characters are refused by the model, with the
JSON path of each wrong field (``parties.1.id_number``); what JSON Schema cannot say (an ID number's check
digit, shares adding up to 100, an attachment whose bytes are not what it claims) is checked here too, by
validators that name the same paths. :func:`reference_errors` checks what the parts say of each other (a
vehicle, an insurer or a share naming a party that the document does not list).

Parties are named inside the document by a short ``ref`` of the agency's choice (``"P1"``), so that vehicles,
insurers and the liability finding can say whose they are without repeating personal data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, ValidationInfo, field_validator

from server.domain.documents import sniff
from server.domain.scene import Liability
from server.http import schemas as s

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
"""The most one attachment may weigh, decoded."""
MAX_ATTACHMENTS_BYTES = 20 * 1024 * 1024
"""The most all attachments of one document may weigh together, decoded (a case document's limit)."""
MAX_ATTACHMENTS = 10
MAX_BASE64 = (MAX_ATTACHMENT_BYTES + 2) // 3 * 4
"""Characters of base64 that carry :data:`MAX_ATTACHMENT_BYTES`."""
MAX_BODY = (MAX_ATTACHMENTS_BYTES + 2) // 3 * 4 + 256 * 1024
"""The most an intake request's body may weigh: every attachment's base64 and the rest (413 past it)."""

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """The check character of a resident identity number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def _resident_id(value: str) -> str:
    if id_check_digit(value[:17]) != value[17].upper():
        raise ValueError("The ID number's check digit does not match (GB 11643)")
    return value.upper()


def _base64(value: str) -> str:
    data = decode(value)
    if not data:
        raise ValueError("The attachment is empty")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise ValueError(f"An attachment may have at most {MAX_ATTACHMENT_BYTES} bytes")
    return value


def decode(value: str) -> bytes:
    """An attachment's bytes from its base64 (standard alphabet, padded); ValueError when it is not base64."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("The content is not base64 (RFC 4648, standard alphabet, padded)") from None


_TRIM = AfterValidator(str.strip)
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=s.NOT_BLANK), _TRIM]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=s.NOT_BLANK), _TRIM]
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=s.NOT_BLANK), _TRIM]
PartyRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,16}$")]
ResidentId = Annotated[
    str,
    StringConstraints(pattern=r"^[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]$"),
    AfterValidator(_resident_id),
]
MainlandMobile = Annotated[str, StringConstraints(pattern=r"^1[3-9][0-9]{9}$")]
Plate = Annotated[str, StringConstraints(pattern=r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{4,6}[\u4e00-\u9fa5]?$")]
PoliceCaseNumber = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z\u4e00-\u9fa5\[\]〔〕()（）-]{1,40}$")]
PolicyNumber = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z-]{1,40}$")]
FileName = Annotated[str, StringConstraints(pattern=r"^[^/\\\x00-\x1f]{1,100}$")]
Base64 = Annotated[str, StringConstraints(min_length=4, max_length=MAX_BASE64), AfterValidator(_base64)]


class IntakeAccident(s.Strict):
    """The accident: when, where, what happened."""

    occurred_at: AwareDatetime = Field(description="When it happened, with its offset (e.g. +08:00)")
    place: Text = Field(description="Where: road, direction, landmark")
    summary: LongText = Field(description="What happened, as the police recorded it (事故经过)")


class IntakeParty(s.Strict):
    """A party to the dispute: a driver, a passenger, a pedestrian, an owner."""

    ref: PartyRef = Field(description="The party's reference inside this document (e.g. P1)")
    role: Literal["applicant", "respondent"]
    name: PersonName
    id_number: ResidentId = Field(description="Resident identity number, 18 characters with its check digit")
    mobile: MainlandMobile = Field(description="Mainland mobile number: the mediator's invitation goes there")
    email: s.Email | None = None
    plate: Plate | None = Field(default=None, description="The plate of the party's vehicle, if any (浙A12345)")


class IntakeVehicle(s.Strict):
    """A vehicle in the accident."""

    plate: Plate
    party: PartyRef = Field(description="The ref of the party who drove (or owns) it")
    model: Text | None = Field(default=None, description="e.g. 小型轿车")
    damage: Text | None = Field(default=None, description="The damage as recorded")


class IntakeInsurer(s.Strict):
    """An insurer of a party (交强险 or 商业险): it joins the case as an insurer."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=s.NOT_BLANK), _TRIM]
    policy_number: PolicyNumber
    party: PartyRef = Field(description="The ref of the insured party")
    cover: Literal["compulsory", "commercial"] = Field(description="交强险 (compulsory) or 商业险 (commercial)")


class IntakeShare(s.Strict):
    """One party's liability in the finding."""

    party: PartyRef
    liability: Liability = Field(description="全部 full, 主要 major, 同等 equal, 次要 minor, 无 none")
    share_percent: s.Count = Field(ge=0, le=100, description="The share of the compensation this party bears")


class IntakeFinding(s.Strict):
    """The police's liability finding (交通事故认定): every party's liability and share, and the reasons."""

    shares: list[IntakeShare] = Field(min_length=2, max_length=10)
    reasons: LongText = Field(description="The reasons (认定理由), e.g. the rule broken")
    finding_number: PoliceCaseNumber | None = Field(default=None, description="The finding's own number, if any")

    @field_validator("shares")
    @classmethod
    def _add_up(cls, shares: list[IntakeShare]) -> list[IntakeShare]:
        if sum(x.share_percent for x in shares) != 100:
            raise ValueError("The shares must add up to 100")
        return shares


class IntakeAttachment(s.Strict):
    """A file of the case (the finding's PDF, photos, evidence), base64; its bytes must be what ``media_type``
    says (checked from the bytes, never from the name)."""

    kind: Literal["liability_finding", "evidence", "photo", "medical_record", "invoice"]
    title: Text
    filename: FileName
    media_type: Literal["application/pdf", "image/jpeg", "image/png"]
    content: Base64 = Field(description=f"Base64 of the file, at most {MAX_ATTACHMENT_BYTES} bytes decoded")

    @field_validator("content")
    @classmethod
    def _bytes_match(cls, value: str, info: ValidationInfo) -> str:
        claimed = info.data.get("media_type")
        shown = sniff(decode(value))
        if claimed is not None and shown != claimed:
            raise ValueError(f"The bytes are not a {claimed} file" + (f" (they look like {shown})" if shown else ""))
        return value


class IntakeDocument(s.Strict):
    """A case from a traffic police agency's system (公安交管部门委托调解), signed with the agency's intake key.

    **Authentication** (HMAC-SHA256, one key per agency, issued by ``mediation intake-key create``): send
    ``X-Intake-Key`` (the key id), ``X-Intake-Timestamp`` (Unix seconds, at most 300 s from the server's clock),
    ``X-Intake-Nonce`` (16–64 characters of ``[A-Za-z0-9_-]``, never reused) and ``X-Intake-Signature``: the
    lowercase hex HMAC-SHA256, under the key's secret, of ``METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n
    hex(SHA-256(body))``. Refusals are 401 with a code: ``intake_unsigned``, ``intake_bad_signature``,
    ``intake_unknown_key`` (unknown or revoked), ``stale_request``, ``replayed_request``.

    **Idempotent** per agency and police case number: the same document again answers 200 with the same case;
    another document under the same number is 409 ``intake_conflict``. The case arrives in the mediation
    organisation's queue; no links are sent by the intake (the mediator invites the parties)."""

    police_case_number: PoliceCaseNumber = Field(description="The agency's case number, e.g. 公交认字[2026]第00012号")
    mediation_organisation_id: s.Uuid = Field(description="The open mediation organisation the case goes to")
    accident: IntakeAccident
    parties: list[IntakeParty] = Field(min_length=2, max_length=10)
    vehicles: list[IntakeVehicle] = Field(default_factory=list, max_length=10)
    insurers: list[IntakeInsurer] = Field(default_factory=list, max_length=10)
    liability: IntakeFinding
    attachments: list[IntakeAttachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)

    @field_validator("attachments")
    @classmethod
    def _total(cls, attachments: list[IntakeAttachment]) -> list[IntakeAttachment]:
        if sum(len(a.content) // 4 * 3 for a in attachments) > MAX_ATTACHMENTS_BYTES + 2 * len(attachments):
            raise ValueError(f"The attachments may have at most {MAX_ATTACHMENTS_BYTES} bytes together")
        return attachments


def reference_errors(doc: IntakeDocument) -> list[dict[str, str]]:
    """What the parts of the document say of each other that is wrong, in the problem's ``errors`` shape."""
    errors: list[dict[str, str]] = []

    def wrong(field: str, message: str, kind: str) -> None:
        errors.append({"field": field, "message": message, "type": kind})

    refs: set[str] = set()
    for i, p in enumerate(doc.parties):
        if p.ref in refs:
            wrong(f"parties.{i}.ref", "Each party needs a ref of its own", "duplicate_ref")
        refs.add(p.ref)
    roles = {p.role for p in doc.parties}
    if roles != {"applicant", "respondent"}:
        wrong("parties", "Name at least one applicant and one respondent", "roles_missing")
    for name, owners in (
        ("vehicles", [v.party for v in doc.vehicles]),
        ("insurers", [x.party for x in doc.insurers]),
        ("liability.shares", [x.party for x in doc.liability.shares]),
    ):
        for i, party in enumerate(owners):
            if party not in refs:
                wrong(f"{name}.{i}.party", "No party of this document has this ref", "unknown_party")
    named: set[str] = set()
    for i, share in enumerate(doc.liability.shares):
        if share.party in named:
            wrong(f"liability.shares.{i}.party", "A party's share is given once", "duplicate_share")
        named.add(share.party)
    if refs and named <= refs and named != refs:
        wrong("liability.shares", "The finding gives every party's liability and share", "shares_missing")
    return errors


def canonical(doc: IntakeDocument) -> dict[str, Any]:
    """The document as kept: attachments by their SHA-256, not their bytes."""
    data = doc.model_dump(mode="json")
    for item in data["attachments"]:
        content = item.pop("content")
        item["sha256"] = hashlib.sha256(decode(content)).hexdigest()
    return data


def fingerprint(data: dict[str, Any]) -> str:
    """The SHA-256 of a canonical document (keys sorted): two sendings of one document have the same."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def json_schema() -> dict[str, Any]:
    """The document's JSON Schema (``docs/intake.schema.json`` is this, written out)."""
    schema = IntakeDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://mediation.invalid/schemas/intake.schema.json"
    return schema
