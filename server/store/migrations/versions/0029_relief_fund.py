"""Relief fund advances (救助基金垫付): applications, decisions, recovery.

``relief_applications`` holds each application with its decision, payment and recovery standing;
``relief_evidence`` the case documents attached to it; ``relief_steps`` its history; ``relief_recoveries``
the sums recovered from the liable party. Nothing existing changes, so a downgrade drops the four tables.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def _at(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "relief_applications",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("fund_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("ground", sa.String(16), nullable=False),
        sa.Column("advance_kind", sa.String(16), nullable=False),
        sa.Column("asked_fen", sa.BigInteger(), nullable=False),
        sa.Column("payee", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("approved_fen", sa.BigInteger(), nullable=True),
        sa.Column("payment_reference", sa.String(100), nullable=True),
        sa.Column("paid_on", sa.String(10), nullable=True),
        sa.Column("liable_participant_id", sa.String(36), nullable=True),
        sa.Column("written_off_reason", sa.Text(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_relief_applications_case_id_cases"),
        sa.ForeignKeyConstraint(["fund_id"], ["organisations.id"], name="fk_relief_applications_fund_id_organisations"),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name="fk_relief_applications_participant_id_participants"
        ),
        sa.ForeignKeyConstraint(
            ["liable_participant_id"],
            ["participants.id"],
            name="fk_relief_applications_liable_participant_id_participants",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_relief_applications"),
    )
    op.create_index("ix_relief_applications_case_id", "relief_applications", ["case_id"])
    op.create_index("ix_relief_applications_fund_id", "relief_applications", ["fund_id"])
    op.create_table(
        "relief_evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        _at("added_at"),
        sa.ForeignKeyConstraint(
            ["application_id"], ["relief_applications.id"], name="fk_relief_evidence_application_id_relief_applications"
        ),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name="fk_relief_evidence_document_id_documents"),
        sa.PrimaryKeyConstraint("id", name="pk_relief_evidence"),
        sa.UniqueConstraint("application_id", "document_id", name="uq_relief_evidence_application_id"),
    )
    op.create_index("ix_relief_evidence_application_id", "relief_evidence", ["application_id"])
    op.create_table(
        "relief_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _at("at"),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["relief_applications.id"], name="fk_relief_steps_application_id_relief_applications"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_relief_steps"),
    )
    op.create_index("ix_relief_steps_application_id", "relief_steps", ["application_id"])
    op.create_table(
        "relief_recoveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("received_on", sa.String(10), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        _at("at"),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["relief_applications.id"],
            name="fk_relief_recoveries_application_id_relief_applications",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_relief_recoveries"),
    )
    op.create_index("ix_relief_recoveries_application_id", "relief_recoveries", ["application_id"])


def downgrade() -> None:
    for table in ("relief_recoveries", "relief_steps", "relief_evidence"):
        op.drop_index(f"ix_{table}_application_id", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_relief_applications_fund_id", table_name="relief_applications")
    op.drop_index("ix_relief_applications_case_id", table_name="relief_applications")
    op.drop_table("relief_applications")
