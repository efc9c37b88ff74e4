"""Comments on the drafts of the mediation agreement.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreement_comments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_agreement_comments_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name="fk_agreement_comments_participant_id_participants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agreement_comments"),
    )
    op.create_index("ix_agreement_comments_case_id", "agreement_comments", ["case_id"])


def downgrade() -> None:
    op.drop_table("agreement_comments")
