"""Request and response shapes of the HTTP API (pydantic: strict, no unknown fields).

These models validate what arrives and generate the OpenAPI schemas; the
domain never sees them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from server.domain.documents import UPLOAD_KINDS
from server.domain.lifecycle import CaseState
from server.domain.roles import Role


def _trimmed(value: str) -> str:
    """White space off both ends, after the checks: the documented ``maxLength`` is the raw length."""
    return value.strip()


_TRIM = AfterValidator(_trimmed)
NOT_BLANK = r"\S"
"""At least one character that is not white space (so the trimmed text is never empty)."""


def _whole(value: Any) -> Any:
    """A JSON number without a fraction (``2.0``) is the integer it names, as JSON Schema's ``integer`` says."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Count = Annotated[int, BeforeValidator(_whole)]
"""An integer in a request body: ``2`` or ``2.0``, never ``"2"`` or ``true``."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK), _TRIM]
Reason = Annotated[str, StringConstraints(max_length=2000), _TRIM]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{5,20}$")]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")]
IdNumber = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{6,32}$")]
Kind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
CaseNumber = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NOT_BLANK), _TRIM]
Username = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufff9-\ufffb]")
"""Characters no request text may carry: NUL and the other controls (tab and line breaks aside)."""


def refuse_controls(value: Any) -> Any:
    """Refuse control characters anywhere in a request's text, however deeply nested.

    A NUL reached PostgreSQL's driver and its error (with the parameters) reached the log;
    other controls corrupt PDFs and pages. Refused here, they never reach the store.
    """
    if isinstance(value, str):
        if _CONTROL.search(value):
            raise ValueError("Text must not contain control characters")
    elif isinstance(value, BaseModel):
        pass  # checked by its own validators
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_controls(key)
            refuse_controls(item)
    elif isinstance(value, list | tuple):
        for item in value:
            refuse_controls(item)
    return value


class Strict(BaseModel):
    """Base of request bodies: strict types, unknown fields refused, no control characters."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_controls(cls, value: Any) -> Any:
        return refuse_controls(value)


class Open(BaseModel):
    """Base of response shapes (documentation only)."""

    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------- requests


class LoginRequest(Strict):
    """Log in as a mediator or judge."""

    username: Username
    password: Password


class CreateCaseRequest(Strict):
    """File a new case."""

    kind: Kind = Field(description="Dispute type, e.g. traffic_accident")
    title: Name
    number: CaseNumber | None = Field(default=None, description="Case number; generated when absent")


class AddParticipantRequest(Strict):
    """Add a person to a case."""

    role: Role
    display_name: Name
    phone: Phone | None = None
    email: Email | None = None
    id_number: IdNumber | None = None
    account_username: Username | None = Field(default=None, description="For mediators and judges")
    represents: Uuid | None = Field(default=None, description="For agents: the party they act for")


class ScheduleSessionRequest(Strict):
    """Put a session on the calendar."""

    starts_at: AwareDatetime
    duration_minutes: Count = Field(default=60, ge=1, le=720)


class ReasonRequest(Strict):
    """A state change with an optional reason."""

    reason: Reason = ""


class ListCasesQuery(Strict):
    """Filters for the case list (query string)."""

    model_config = ConfigDict(extra="forbid", strict=False)

    state: list[CaseState] = Field(default_factory=list)
    kind: Kind | None = None
    q: Annotated[str, StringConstraints(max_length=100)] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class DocumentQuery(Strict):
    """Metadata of an uploaded document (query string; the body is the bytes)."""

    model_config = ConfigDict(extra="forbid", strict=False)

    kind: Kind = Field(
        description="What the upload is (the platform's own kinds are refused)",
        json_schema_extra={"enum": list(UPLOAD_KINDS)},
    )
    title: Name
    visibility: Literal["parties", "staff"] = "staff"


# ---------------------------------------------------------------- responses


class Problem(Open):
    """An error (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None


class Health(Open):
    """Liveness and database reachability."""

    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    transcript: Literal["off", "loading", "ready", "unavailable"]
    """The live transcript: its engine still loading, ready, failed to load (no captions), or off."""
    version: str


class LoginResponse(Open):
    """A session token for the Authorization header."""

    token: str
    expires_at: AwareDatetime
    account: dict[str, Any]


class Me(Open):
    """Who the caller is."""

    kind: Literal["account", "participant"]
    display_name: str


class ParticipantOut(Open):
    """A participant as the caller may see them (contact fields only where allowed)."""

    id: str
    role: Role
    display_name: str
    represents: str | None
    added_at: AwareDatetime
    has_account: bool
    phone: str | None = None
    email: str | None = None
    id_number: str | None = None


class SessionOut(Open):
    """A mediation session."""

    id: str
    scheduled_start: AwareDatetime
    duration_minutes: int
    status: str
    started_at: AwareDatetime | None
    ended_at: AwareDatetime | None


class CaseView(Open):
    """A case as the caller's role may see it."""

    id: str
    number: str
    kind: str
    title: str
    state: CaseState
    filed_at: AwareDatetime
    version: int
    your_role: Role
    your_participant_id: str | None
    participants: list[ParticipantOut]
    sessions: list[SessionOut]
    documents: list[dict[str, Any]] | None = None


class CaseSummaryOut(Open):
    """One row of the case list."""

    id: str
    number: str
    kind: str
    title: str
    state: CaseState
    filed_at: AwareDatetime
    updated_at: AwareDatetime
    your_role: Role


class CaseList(Open):
    """A page of cases."""

    items: list[CaseSummaryOut]
    total: int
    limit: int
    offset: int


class JoinLink(Open):
    """A participant's personal link (give it to them only)."""

    join_url: str
    token: str
    expires_at: AwareDatetime


class AddedParticipant(Open):
    """A participant just added; parties come with their join link."""

    participant: ParticipantOut
    link: JoinLink | None


class Revoked(Open):
    """How many links were revoked."""

    revoked: int


class ScheduledSession(Open):
    """A session just scheduled and the case after it."""

    session_id: str
    case: CaseView


class DocumentOut(Open):
    """A stored case document."""

    id: str
    kind: str
    title: str
    sha256: str
    size: int
    media_type: str
    visibility: str
    created_at: AwareDatetime


class AuditEntryOut(Open):
    """One audit-trail entry, exactly as hashed."""

    seq: int
    at: str
    actor: str
    action: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditTrail(Open):
    """A case's audit trail and its verification."""

    entries: list[AuditEntryOut]
    verification: dict[str, Any]


class ChatLine(Open):
    """One chat line as kept in the case record."""

    id: str
    session_id: str
    participant_id: str
    text: str
    audience: list[str]
    at: AwareDatetime


class ChatLog(Open):
    """A case's chat lines, oldest first."""

    lines: list[ChatLine]


class SessionRecordingVerdict(Open):
    """One session's recording check: every segment the audit trail or a manifest lists.

    ``status``: ``sealed`` (its manifest was written when it ended), ``sealed_after_interruption``
    (a restart sealed what the interrupted session had left) or ``unsealed`` (running, or
    interrupted and not yet sealed: ``unsealed`` names the segments no manifest covers).
    ``signature_ok`` is null when the session has no manifest.
    """

    session_id: str
    ok: bool
    status: Literal["sealed", "sealed_after_interruption", "unsealed"]
    sealed: bool
    signature_ok: bool | None
    manifests: int
    segments: int
    unsealed: list[str]
    problems: list[str]


class RecordingVerification(Open):
    """Every recorded session of a case, verified."""

    ok: bool
    sessions: list[SessionRecordingVerdict]
