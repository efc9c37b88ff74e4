"""Judicial confirmation: applications and each party's confirmation.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "confirmation_applications",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("court", sa.String(200), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prepared_by", sa.String(80), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("packet_document_id", sa.String(36), nullable=True),
        sa.Column("judge_account_id", sa.String(36), nullable=True),
        sa.Column("ruling_document_id", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_confirmation_applications_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["judge_account_id"], ["accounts.id"], name="fk_confirmation_applications_judge_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("case_id", name="pk_confirmation_applications"),
    )
    op.create_index("ix_confirmation_applications_court", "confirmation_applications", ["court"])
    op.create_table(
        "confirmation_consents",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_confirmation_consents_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name="fk_confirmation_consents_participant_id_participants"
        ),
        sa.PrimaryKeyConstraint("case_id", "participant_id", name="pk_confirmation_consents"),
    )


def downgrade() -> None:
    op.drop_table("confirmation_consents")
    op.drop_table("confirmation_applications")
