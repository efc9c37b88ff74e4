"""Tables of the case store (SQLAlchemy Core); Alembic migrations create them.

``tests/integration/test_migrations.py`` checks that the migrations produce
exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the case store")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(200), nullable=False, unique=True),
    Column("region", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled", Boolean(), nullable=False),
)
"""Courts, mediation organisations, appraisal institutions, insurers (``server.domain.organisations``)."""

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("organization", String(200), nullable=False),  # its organisation's name (organisations are not renamed)
    Column("password_hash", String(256), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled", Boolean(), nullable=False),
    Column("phone", String(32), nullable=True),
    Column("email", String(254), nullable=True),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", String(64), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("title", String(200), nullable=False),
    Column("state", String(32), nullable=False, index=True),
    Column("version", Integer(), nullable=False),
    Column("filed_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("created_by", String(36), ForeignKey("accounts.id"), nullable=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=True, index=True),
    Column("lifecycle", Text(), nullable=False),
    # derived from the case value on every write (server.store.repository.index_columns), so that lists,
    # queues and statistics are answered by SQL without decoding ``lifecycle``
    Column("court_id", String(36), ForeignKey("organisations.id"), nullable=True, index=True),
    Column("referral_kind", String(16), nullable=False, server_default="own"),
    Column("holder_account_id", String(36), ForeignKey("accounts.id"), nullable=True, index=True),
    Column("referred_at", UTCDateTime(), nullable=True),
    Column("accepted_at", UTCDateTime(), nullable=True),
    Column("agreement_at", UTCDateTime(), nullable=True),
    Column("confirmed_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("period_deadline", UTCDateTime(), nullable=True),
    Column("overdue", Boolean(), nullable=False, server_default=false()),
    Column("court_case_number", String(64), nullable=False, server_default=""),
    Column("audit_seq", Integer(), nullable=False),
    Column("audit_head", String(64), nullable=False),
)

participants = Table(
    "participants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("phone", String(32), nullable=True),
    Column("email", String(254), nullable=True),
    Column("id_number", String(32), nullable=True),
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=True, index=True),
    Column("represents", String(36), ForeignKey("participants.id"), nullable=True),
    Column("added_at", UTCDateTime(), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("scheduled_start", UTCDateTime(), nullable=False),
    Column("duration_s", Integer(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
)

documents = Table(
    "documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("title", String(200), nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size", BigInteger(), nullable=False),
    Column("media_type", String(127), nullable=False),
    Column("visibility", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(80), nullable=False),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("seq", Integer(), primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(64), nullable=False),
    Column("details", Text(), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("subject_id", String(36), nullable=False, index=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=True),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("session_id", String(36), nullable=False),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("text", Text(), nullable=False),
    Column("audience", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)

case_keys = Table(
    "case_keys",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("wrapped", LargeBinary(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

transcript_lines = Table(
    "transcript_lines",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("session_id", String(36), nullable=False),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=False),
    Column("text", Text(), nullable=False),
    Column("language", String(16), nullable=False),
    Column("engine", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
"""What the recogniser heard, as it heard it: never updated (corrections live beside it)."""

record_edits = Table(
    "record_edits",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("session_id", String(36), nullable=False),
    Column("line_id", String(36), ForeignKey("transcript_lines.id"), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("text", Text(), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
"""Corrections of transcript lines and the mediator's notes, in the order they were made."""

agreement_comments = Table(
    "agreement_comments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("version", Integer(), nullable=False),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("text", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
"""What parties and the mediator said about a draft of the agreement, per version."""

signing_codes = Table(
    "signing_codes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    Column("document_sha256", String(64), nullable=True),
)
"""One-time codes that prove a signer controls their phone or e-mail (only a keyed hash is kept), each
bound to the SHA-256 of the signing file it was sent for (``document_sha256``; None before 0014)."""

signing_code_limits = Table(
    "signing_code_limits",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), primary_key=True),
    Column("last_sent_at", UTCDateTime(), nullable=True),
    Column("day", String(10), nullable=False),
    Column("codes_sent", Integer(), nullable=False),
    Column("wrong_guesses", Integer(), nullable=False),
)
"""One row per signer that the one-time code limits are decided on, by conditional UPDATEs (the row
lock orders concurrent requests on every node): when the code that holds the one-minute wait was sent
(None: none holds it), and on ``day`` (Beijing date) how many codes were sent and guessed wrong."""

service_consents = Table(
    "service_consents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("channels", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(80), nullable=False),
)
"""Consent to electronic service, append-only: a participant's newest row is their consent now
(``channels``: comma-separated ``email``, ``sms``, ``inbox``; empty: consent withdrawn)."""

services = Table(
    "services",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("document_id", String(36), ForeignKey("documents.id"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("title", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
)
"""One act of electronic service: a document served on some recipients by a deadline."""

service_recipients = Table(
    "service_recipients",
    metadata,
    Column("service_id", String(36), ForeignKey("services.id"), primary_key=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("effective_at", UTCDateTime(), nullable=True),
    Column("effective_channel", String(16), nullable=True),
    Column("opened_at", UTCDateTime(), nullable=True),
    Column("downloaded_at", UTCDateTime(), nullable=True),
    Column("flagged_at", UTCDateTime(), nullable=True),
)
"""Each recipient of a service: when it took effect (first channel accepted), was opened, downloaded,
or flagged to the mediator as unserved at the deadline."""

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("service_id", String(36), ForeignKey("services.id"), nullable=False, index=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("to_masked", String(80), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("last_error", String(200), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("accepted_at", UTCDateTime(), nullable=True),
    Column("failed_at", UTCDateTime(), nullable=True),
)
"""One channel to one recipient: ``pending`` → ``accepted``, or ``retrying`` (a failure, tried again
later with back-off) → ``failed`` (given up). Never the address itself: only its masked form."""

Index("ix_deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)
Index("ix_cases_filed_at", cases.c.filed_at)

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer(), nullable=False),
    Column("action", String(64), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(16), nullable=False, server_default="webhook"),
)
"""Events for the outside world, written in the same transaction as the audit entry they announce
(``seq``: that entry's number); ``server.outbound.webhooks`` delivers them. Never personal data. ``kind``:
``webhook`` (a state change, the webhooks' body) or ``feed`` (the aggregation feed's document,
``server.outbound.feed``); one audit entry may have one event of each kind."""

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("event_id", BigInteger(), ForeignKey("outbox_events.id"), primary_key=True, autoincrement=False),
    Column("endpoint", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("last_status", Integer(), nullable=True),
)
"""One event to one webhook URL (``endpoint``: SHA-256 hex of the URL, never the URL itself):
``pending`` (due at ``next_attempt_at``; a sender leases a row by moving it) → ``delivered`` or ``failed``."""

Index(
    "ix_outbox_events_case_id_kind_seq", outbox_events.c.case_id, outbox_events.c.kind, outbox_events.c.seq, unique=True
)
Index("ix_webhook_deliveries_due", webhook_deliveries.c.status, webhook_deliveries.c.next_attempt_at)

confirmation_applications = Table(
    "confirmation_applications",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("court", String(200), nullable=False, index=True),
    Column("prepared_at", UTCDateTime(), nullable=False),
    Column("prepared_by", String(80), nullable=False),
    Column("submitted_at", UTCDateTime(), nullable=True),
    Column("review_deadline", UTCDateTime(), nullable=True),
    Column("packet_document_id", String(36), nullable=True),
    Column("judge_account_id", String(36), ForeignKey("accounts.id"), nullable=True),
    Column("ruling_document_id", String(36), nullable=True),
)
"""A case's application for judicial confirmation: the court it goes to, when it was submitted to that
court's queue (once every party confirmed), its packet, the judge who took it, and the ruling."""

confirmation_consents = Table(
    "confirmation_consents",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), primary_key=True),
    Column("confirmed_at", UTCDateTime(), nullable=False),
)
"""Each party's own confirmation that they apply (the application is joint)."""

deadlines = Table(
    "deadlines",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("due_at", UTCDateTime(), primary_key=True),
    Column("claimed_by", String(80), nullable=False),
    Column("lease_until", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("outcome", String(16), nullable=True),
)
"""Each life-cycle deadline that came due (``server.outbound.deadlines``): the node that claimed it and until
when (a lease a dead node's claim runs out of), and once settled, when and how: ``issued`` (its
command was applied), ``moot`` (the case had moved on) or ``refused`` (the life cycle refused it)."""


organisation_events = Table(
    "organisation_events",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(40), nullable=False),
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=True),
)
"""What was done to an organisation's accounts, by whom and when (never a password, a phone or an e-mail)."""


session_ratings = Table(
    "session_ratings",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("session_id", String(36), ForeignKey("sessions.id"), nullable=False),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("score", Integer(), nullable=False),
    Column("comment", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint("session_id", "participant_id", name="uq_session_ratings_session_id"),
)
"""Each party's satisfaction with a session (1 to 5) and comment: private from the mediator (``server.assessment``)."""


roster_entries = Table(
    "roster_entries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("court_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=True),
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=True),
    Column("specialties", String(200), nullable=False),
    Column("term_start", UTCDateTime(), nullable=False),
    Column("term_end", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("added_at", UTCDateTime(), nullable=False),
    Column("added_by", String(80), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("court_id", "organisation_id", "account_id", name="uq_roster_entries_court_id"),
)
"""A court's roster of invited mediation organisations and mediators (特邀调解组织和调解员名册): one row per
member (an organisation, or one mediator: exactly one of ``organisation_id`` and ``account_id``), with its
specialties (comma-separated, e.g. ``traffic,finance``), term and status (``active``, ``suspended``,
``removed``). A court refers cases only to an organisation that is active and in its term on its roster."""

Index(
    "ix_roster_entries_court_organisation",
    roster_entries.c.court_id,
    roster_entries.c.organisation_id,
    unique=True,
    sqlite_where=roster_entries.c.organisation_id.isnot(None),
    postgresql_where=roster_entries.c.organisation_id.isnot(None),
)
Index(
    "ix_roster_entries_court_account",
    roster_entries.c.court_id,
    roster_entries.c.account_id,
    unique=True,
    sqlite_where=roster_entries.c.account_id.isnot(None),
    postgresql_where=roster_entries.c.account_id.isnot(None),
)
"""A member is on a court's roster once, even when two administrators add it at the same moment (the
unique constraint above cannot say so: the absent id is NULL, and NULLs never clash)."""

mediator_profiles = Table(
    "mediator_profiles",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.id"), primary_key=True),
    Column("qualification", Text(), nullable=False),
    Column("specialties", String(200), nullable=False),
    Column("introduction", Text(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
"""A mediator's profile as a roster shows it: qualification (e.g. 律师、退休法官), specialties, a short
introduction. The figures beside it (cases handled, success rate) are computed from ``cases``."""


fact_records = Table(
    "fact_records",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("version", Integer(), nullable=False),
    Column("items", Text(), nullable=False),
    Column("drafted_at", UTCDateTime(), nullable=False),
    Column("drafted_by", String(80), nullable=False),
    UniqueConstraint("case_id", "version", name="uq_fact_records_case_id"),
)
"""The record of undisputed facts (无争议事实记载) the mediator drafts when mediation is failing: one row per
version, ``items`` a JSON list of ``{"kind": "fact" | "dispute", "text"}`` (``server.failure``)."""

fact_confirmations = Table(
    "fact_confirmations",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("version", Integer(), nullable=False),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("answer", String(16), nullable=False),
    Column("note", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
"""Each party's answer to one version of the record (``confirm`` or ``object``, with a note); a party may answer
again, the newest answer counts. A new version starts with none."""


service_addresses = Table(
    "service_addresses",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("phone", String(32), nullable=True),
    Column("email", String(254), nullable=True),
    Column("postal_address", String(200), nullable=True),
    Column("postal_recipient", String(200), nullable=True),
    Column("channels", String(64), nullable=False),
    Column("document_id", String(36), ForeignKey("documents.id"), nullable=False),
    Column("confirmed_at", UTCDateTime(), nullable=False),
    Column("actor", String(80), nullable=False),
)
"""Each party's address for service (送达地址确认书), append-only: the newest row of a participant is their
confirmation now (``channels``: comma-separated ``email``, ``sms``, ``inbox``; empty: no electronic service,
documents go by post; ``document_id``: the confirmation's PDF; ``id`` orders them). ``server.e_service.addresses``."""


application_codes = Table(
    "application_codes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("phone_hash", String(64), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
)
"""One-time codes that prove a party applying on the public page (/apply) holds the mobile they gave: only keyed
hashes are kept, of the code and of the number (``server.referrals.applications``); a newer code voids the older
ones of the same number; ``used_at`` is set by the one submission that wins (or when voided)."""

application_limits = Table(
    "application_limits",
    metadata,
    Column("bucket", String(80), primary_key=True),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("count", Integer(), nullable=False),
)
"""The sending limits of application codes, one row per bucket (``phone-minute:<hash>``, ``phone-day:<hash>``,
``client-hour:<hash>``; the hash keyed, never the number or address): codes sent in the window that began at
``window_start``, decided by conditional UPDATEs (the row lock orders concurrent requests on every node)."""

applications = Table(
    "applications",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("code_id", String(36), ForeignKey("application_codes.id"), nullable=False, unique=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False),
    Column("description", Text(), nullable=False),
    Column("submitted_at", UTCDateTime(), nullable=False),
)
"""A party's own application from the public page: the case it filed, the code that proved the applicant's mobile
(once: a code files one case), and the dispute as the applicant described it (personal free text)."""
