"""Initial case store: accounts, cases, participants, sessions, documents, audit trail, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("organization", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        _ts("created_at"),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("username", name="uq_accounts_username"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("filed_at"),
        _ts("updated_at"),
        sa.Column("created_by", sa.String(36), nullable=True),
        sa.Column("lifecycle", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.Column("audit_head", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["accounts.id"], name="fk_cases_created_by_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("number", name="uq_cases_number"),
    )
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_index("ix_cases_filed_at", "cases", ["filed_at"])
    op.create_table(
        "participants",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("id_number", sa.String(32), nullable=True),
        sa.Column("account_id", sa.String(36), nullable=True),
        sa.Column("represents", sa.String(36), nullable=True),
        _ts("added_at"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_participants_case_id_cases"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_participants_account_id_accounts"),
        sa.ForeignKeyConstraint(["represents"], ["participants.id"], name="fk_participants_represents_participants"),
        sa.PrimaryKeyConstraint("id", name="pk_participants"),
    )
    op.create_index("ix_participants_case_id", "participants", ["case_id"])
    op.create_index("ix_participants_account_id", "participants", ["account_id"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        _ts("scheduled_start"),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("started_at", nullable=True),
        _ts("ended_at", nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_sessions_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_case_id", "sessions", ["case_id"])
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(127), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_documents_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
    )
    op.create_index("ix_documents_case_id", "documents", ["case_id"])
    op.create_index("ix_documents_sha256", "documents", ["sha256"])
    op.create_table(
        "audit_entries",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_audit_entries_case_id_cases"),
        sa.PrimaryKeyConstraint("case_id", "seq", name="pk_audit_entries"),
    )
    op.create_table(
        "tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        _ts("issued_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_tokens_case_id_cases"),
        sa.PrimaryKeyConstraint("jti", name="pk_tokens"),
    )
    op.create_index("ix_tokens_subject_id", "tokens", ["subject_id"])

    # The audit trail is append-only: the database itself refuses UPDATE and DELETE.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_entries is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit_entries "
                "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit_entries")
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
    for table in ("tokens", "audit_entries", "documents", "sessions", "participants", "cases", "accounts"):
        op.drop_table(table)
