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
    Column("heard", Text(), nullable=True),
)
"""What the recogniser heard: never updated (corrections live beside it). ``text`` is the line as the record shows
it (Mandarin: misheard mediation words repaired, amounts and dates written out); ``heard`` the engine's own
text when that differs (NULL: the same)."""

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


# ---- stage H6 (issue 15): relief fund advances (救助基金垫付) and recovery (追偿), server.relief, migration 0029

relief_applications = Table(
    "relief_applications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("fund_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("ground", String(16), nullable=False),
    Column("advance_kind", String(16), nullable=False),
    Column("asked_fen", BigInteger(), nullable=False),
    Column("payee", Text(), nullable=False),
    Column("description", Text(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("note", Text(), nullable=False),
    Column("approved_fen", BigInteger(), nullable=True),
    Column("payment_reference", String(100), nullable=True),
    Column("paid_on", String(10), nullable=True),
    Column("liable_participant_id", String(36), ForeignKey("participants.id"), nullable=True),
    Column("written_off_reason", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
"""A party's application to a relief fund (``server.relief``): the ground, the kind of advance, the amount asked
(fen), the payee (hospital or person: personal text), the state (``server.domain.relief.ReliefState``), the fund's
latest note (reasons or what more it needs), the approved amount and payment, and for recovery the liable party
(null: unknown, fled) and a write-off's reason. ``paid_on`` is a Beijing date, ``YYYY-MM-DD``."""

relief_evidence = Table(
    "relief_evidence",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("application_id", String(36), ForeignKey("relief_applications.id"), nullable=False, index=True),
    Column("document_id", String(36), ForeignKey("documents.id"), nullable=False),
    Column("added_at", UTCDateTime(), nullable=False),
    UniqueConstraint("application_id", "document_id", name="uq_relief_evidence_application_id"),
)
"""The case documents attached to an application: the only documents of the case the fund's officers read."""

relief_steps = Table(
    "relief_steps",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("application_id", String(36), ForeignKey("relief_applications.id"), nullable=False, index=True),
    Column("action", String(24), nullable=False),
    Column("note", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(80), nullable=False),
)
"""Each step of an application (submitted, more asked, resubmitted, approved, paid, refused, recovery steps), as the
applicant's phone and the mediator show it."""

relief_recoveries = Table(
    "relief_recoveries",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("application_id", String(36), ForeignKey("relief_applications.id"), nullable=False, index=True),
    Column("amount_fen", BigInteger(), nullable=False),
    Column("received_on", String(10), nullable=False),
    Column("reference", String(100), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(80), nullable=False),
)
"""Each sum the fund recovered from the liable party (追偿): amount (fen), Beijing date, reference."""


# ------------------------------------------------------------------ online appraisal (issue 15, stage H5, 0028)

appraisal_specialties = Table(
    "appraisal_specialties",
    metadata,
    Column("organisation_id", String(36), ForeignKey("organisations.id"), primary_key=True),
    Column("specialty", String(32), primary_key=True),
)
"""What each appraisal institution appraises (``server.domain.appraisal.SPECIALTIES``); its administrator sets them."""

appraisals = Table(
    "appraisals",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("round", Integer(), nullable=False),
    Column("subject", String(32), nullable=False),
    Column("description", Text(), nullable=False),
    Column("requested_by", String(36), nullable=True),
    Column("state", String(16), nullable=False),
    Column("institution_id", String(36), ForeignKey("organisations.id"), nullable=True, index=True),
    Column("choice", String(8), nullable=True),
    Column("draw", Text(), nullable=True),
    Column("fee", String(16), nullable=True),
    Column("fee_payer", String(16), nullable=True),
    Column("notice_document_id", String(36), ForeignKey("documents.id"), nullable=True),
    Column("opinion_document_id", String(36), ForeignKey("documents.id"), nullable=True),
    Column("opinion_check", Text(), nullable=True),
    Column("previous_id", String(36), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
"""One round of a forensic appraisal inside a case (``server.appraisal``): the subject and the party who asked
(``requested_by``, a participant id), the state, the institution and how it was chosen (``agreed``/``drawn``; the
draw as JSON: candidates, seed, result, who, when), the fee and its payer, the notice and the opinion (documents of
the case), what the opinion's signature check found (JSON), the round it replaced (``previous_id``)."""

appraisal_consents = Table(
    "appraisal_consents",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("appraisal_id", String(36), ForeignKey("appraisals.id"), nullable=False, index=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("agree", Boolean(), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
"""Each party's answers to an appraisal, append-only: the newest row of a participant counts (``id`` orders them)."""

appraisal_materials = Table(
    "appraisal_materials",
    metadata,
    Column("appraisal_id", String(36), ForeignKey("appraisals.id"), primary_key=True),
    Column("document_id", String(36), ForeignKey("documents.id"), primary_key=True),
)
"""The case documents the mediator sent to the institution: its appraisers see these and nothing else of the case."""

appraisal_reappraisals = Table(
    "appraisal_reappraisals",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("appraisal_id", String(36), ForeignKey("appraisals.id"), nullable=False, index=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=False),
    Column("reasons", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("decision", String(8), nullable=True),
    Column("decision_reasons", Text(), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("next_appraisal_id", String(36), nullable=True),
)
"""A party's application for a new appraisal (重新鉴定) with reasons, and the mediator's decision (``granted``: the
new round's id; ``refused``: with reasons)."""

appraisal_evaluations = Table(
    "appraisal_evaluations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("appraisal_id", String(36), ForeignKey("appraisals.id"), nullable=False),
    Column("institution_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("evaluator", String(36), nullable=False),
    Column("evaluator_role", String(16), nullable=False),
    Column("score", Integer(), nullable=False),
    Column("comment", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint("appraisal_id", "evaluator", name="uq_appraisal_evaluations_appraisal_id"),
)
"""Each evaluation of an opinion (score 1-5, a comment), once per evaluator (a participant id) and opinion; the
justice bureau reads them per institution, without the evaluators' names."""


# ------------------------------------------------------------------ stage: scene reports (快处快赔, 0024)

scene_reports = Table(
    "scene_reports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", String(32), nullable=False),
    Column("police_unit_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("place", String(200), nullable=False),
    Column("submitted_at", UTCDateTime(), nullable=True),
    Column("accepted_at", UTCDateTime(), nullable=True),
    Column("officer_account_id", String(36), ForeignKey("accounts.id"), nullable=True),
    Column("returned_reason", Text(), nullable=False),
    Column("finding", Text(), nullable=True),
    Column("signed_by", Text(), nullable=False),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=True),
    Column("join_code_hash", String(64), nullable=False),
    Column("join_expires_at", UTCDateTime(), nullable=False),
    Column("join_attempts", Integer(), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("chain_seq", Integer(), nullable=False),
    Column("chain_head", String(64), nullable=False),
    UniqueConstraint("number", name="uq_scene_reports_number"),
)
"""A scene report (``server.scene``): its state, the police unit it goes to, the officer's decisions (``finding``:
the liability finding as JSON; ``signed_by``: JSON driver number → time), the join code's keyed hash (its tries and
expiry), the optimistic ``version`` every write bumps, and the head of its evidence chain (``scene_events``)."""

scene_drivers = Table(
    "scene_drivers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), ForeignKey("scene_reports.id"), nullable=False),
    Column("number", Integer(), nullable=False),
    Column("name", String(40), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("licence_number", String(18), nullable=False),
    Column("plate", String(16), nullable=False),
    Column("insurer", String(60), nullable=False),
    Column("insurer_organisation_id", String(36), ForeignKey("organisations.id"), nullable=True),
    Column("damaged_part", String(60), nullable=False),
    Column("joined_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime(), nullable=True),
    UniqueConstraint("report_id", "number", name="uq_scene_drivers_report_id"),
)
"""Each driver of a scene report (1 started it, 2 joined it) and their items (personal data: never logged)."""

scene_photos = Table(
    "scene_photos",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), ForeignKey("scene_reports.id"), nullable=False, index=True),
    Column("driver", Integer(), nullable=False),
    Column("slot", String(32), nullable=False),
    Column("media_type", String(32), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("width", Integer(), nullable=False),
    Column("height", Integer(), nullable=False),
    Column("original_sha256", String(64), nullable=False),
    Column("original_size", BigInteger(), nullable=False),
    Column("captured_at", UTCDateTime(), nullable=True),
    Column("uploaded_at", UTCDateTime(), nullable=False),
    Column("seq", Integer(), nullable=False),
)
"""Every photo uploaded (append-only: a photo taken again adds a row, the newest of a driver's slot counts); the
bytes live in the blob store under ``sha256``; ``seq`` is the chain entry that recorded it (orders them)."""

scene_events = Table(
    "scene_events",
    metadata,
    Column("report_id", String(36), ForeignKey("scene_reports.id"), primary_key=True),
    Column("seq", Integer(), primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(64), nullable=False),
    Column("details", Text(), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
"""A scene report's append-only hash chain (``server.domain.audit`` with the report's id in place of a case's):
each photo's hashes and capture time, each driver's and officer's action."""

# ------------------------------------------------------------------ end of stage: scene reports


# ---- stage H2 of issue 15: the electronic accident finding (电子事故认定书) and its signatures (0025) ----

liability_findings = Table(
    "liability_findings",
    metadata,
    Column("report_id", String(36), ForeignKey("scene_reports.id"), primary_key=True),
    Column("rendered_sha256", String(64), nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("signed_sha256", String(64), nullable=True),
    Column("signed_at", UTCDateTime(), nullable=True),
)
"""The electronic accident finding of a scene report: the SHA-256 of the PDF as rendered (before its fields and
the unit's certification), when it was issued, and the file both drivers signed (None until both have).
``report_id`` is a scene report's id."""

liability_finding_files = Table(
    "liability_finding_files",
    metadata,
    Column("report_id", String(36), ForeignKey("liability_findings.report_id"), primary_key=True),
    Column("seq", Integer(), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer(), nullable=False),
    Column("driver", Integer(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("report_id", "driver", name="uq_liability_finding_files_report_id"),
)
"""Each file of the finding, in order: ``seq`` 0 the certified PDF with both drivers' fields, then one per
driver's signature (``driver``), each an incremental update of the one before (blobs by content address).
The primary key is the version check: two drivers signing at once both try ``seq`` n+1, one wins, the other
re-reads the newest file and signs that; the unique (report, driver) keeps a driver from signing twice."""

liability_finding_codes = Table(
    "liability_finding_codes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("report_id", String(36), nullable=False, index=True),
    Column("driver", Integer(), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    Column("document_sha256", String(64), nullable=False),
)
"""One-time codes sent by SMS to a driver to sign the finding (only a keyed hash), each bound to the file it
was sent for."""

liability_finding_code_limits = Table(
    "liability_finding_code_limits",
    metadata,
    Column("report_id", String(36), primary_key=True),
    Column("driver", Integer(), primary_key=True),
    Column("last_sent_at", UTCDateTime(), nullable=True),
    Column("day", String(10), nullable=False),
    Column("codes_sent", Integer(), nullable=False),
    Column("wrong_guesses", Integer(), nullable=False),
)
"""One row per driver of a finding that the code limits are decided on by conditional UPDATEs (as
``signing_code_limits``): one code a minute, codes and wrong guesses per Beijing day."""

# ------------------------------------------------------------------ one-click claims (一键理赔), issue 15 stage H4

claim_authorisations = Table(
    "claim_authorisations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False),
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("regions", Text(), nullable=False),
    Column("any_region", Boolean(), nullable=False),
    Column("limit_fen", BigInteger(), nullable=False),
    Column("valid_from", String(10), nullable=False),
    Column("valid_to", String(10), nullable=False),
    Column("document_sha256", String(64), nullable=False),
    Column("document_size", BigInteger(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(36), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)
"""An insurer's authorisation of one adjuster (授权委托书): the regions (JSON list) or any region, the limit per
claim in fen, the Beijing dates it is in force (ISO text), and the signed PDF in the blob store."""

repair_shops = Table(
    "repair_shops",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("address", String(400), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("organisation_id", "name"),
)
"""An insurer's repair shops for 定修直赔 (a business's name, address and phone)."""

claims = Table(
    "claims",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=True),
    Column("participant_id", String(36), ForeignKey("participants.id"), nullable=True),
    Column("scene_report_id", String(36), ForeignKey("scene_reports.id"), nullable=True),
    Column("scene_driver_id", String(36), ForeignKey("scene_drivers.id"), nullable=True),
    Column("insurer_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("source", String(16), nullable=False),
    Column("source_id", String(36), nullable=False),
    Column("region", String(64), nullable=False),
    Column("amount_fen", BigInteger(), nullable=False),
    Column("vehicle_fen", BigInteger(), nullable=False),
    Column("lines", Text(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("open_key", String(36), nullable=True),
    Column("submitted_at", UTCDateTime(), nullable=False),
    Column("due_on", String(10), nullable=False),
    Column("overdue_at", UTCDateTime(), nullable=True),
    Column("accepted_at", UTCDateTime(), nullable=True),
    Column("acting_account_id", String(36), nullable=True),
    Column("authorisation_id", String(36), nullable=True),
    Column("repair_shop_id", String(36), ForeignKey("repair_shops.id"), nullable=True),
    Column("paid_fen", BigInteger(), nullable=False),
    Column("paid_at", UTCDateTime(), nullable=True),
    Column("refused_reason", Text(), nullable=True),
    UniqueConstraint("case_id", "open_key"),
    UniqueConstraint("scene_report_id", "open_key"),
)
"""A claim on the case's insurer (``server.claims``): its amounts from the signed agreement (``lines``: JSON, money
as text), the payment deadline (``due_on``, a Beijing date), the overdue flag set once by the job. ``open_key`` is
the claimant's participant id until the claim is refused (then NULL): one claim per party and case. A claim from a
signed scene finding (快处快赔) has no case: ``scene_report_id`` and the claimant driver ``scene_driver_id`` instead
(``open_key`` their driver id: one claim per driver and report)."""

claim_events = Table(
    "claim_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("claim_id", String(36), ForeignKey("claims.id"), nullable=False),
    Column("seq", Integer(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(32), nullable=False),
    Column("details", Text(), nullable=False),
    UniqueConstraint("claim_id", "seq"),
)
"""Each step of a claim, ``seq`` 1, 2, … in order (submitted, accepted, shop chosen, paid, refused, overdue), as the claimant's phone shows it."""

claim_payments = Table(
    "claim_payments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("claim_id", String(36), ForeignKey("claims.id"), nullable=False),
    Column("seq", Integer(), nullable=False),
    Column("amount_fen", BigInteger(), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("paid_on", String(10), nullable=False),
    Column("repair_shop_id", String(36), ForeignKey("repair_shops.id"), nullable=True),
    Column("account_id", String(36), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    UniqueConstraint("claim_id", "seq"),
)
"""A payment on a claim (``seq`` 1, 2, … in order): to the claimant, or to the repair shop they chose (定修直赔)."""


# ---------------------------------------------------------------- issue 15, stage H3: cases from the police's systems

intake_keys = Table(
    "intake_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)
"""A police agency's intake keys: the id only (its secret is derived from the server's secret and the id, never
stored: ``server.intake.keys``); a revoked key never signs again."""

intake_nonces = Table(
    "intake_nonces",
    metadata,
    Column("key_id", String(40), ForeignKey("intake_keys.id"), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at", UTCDateTime(), nullable=False, index=True),
)
"""Nonces of signed intake requests, kept 10 minutes (twice the allowed clock skew): the primary key refuses a
replay on every node; older rows are pruned as requests arrive."""

police_intakes = Table(
    "police_intakes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organisation_id", String(36), ForeignKey("organisations.id"), nullable=False),
    Column("police_case_number", String(40), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("document", Text(), nullable=False),
    Column("key_id", String(40), ForeignKey("intake_keys.id"), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=True, index=True),
    UniqueConstraint("organisation_id", "police_case_number", name="uq_police_intakes_organisation_id"),
)
"""One row per police case number of an agency (unique: the same number never files two cases): the SHA-256 of
the canonical document (a different document under the number is a conflict), the document as JSON with its
attachments by hash (the liability finding, vehicles and insurers, for the later stages), and the case it filed
(NULL while the request that claimed the number is filing it)."""
