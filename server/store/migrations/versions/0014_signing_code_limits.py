"""One-time codes: bound to the file they were sent for; the per-signer limits row.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signing_codes") as batch:
        batch.add_column(sa.Column("document_sha256", sa.String(64), nullable=True))
    op.create_table(
        "signing_code_limits",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.Column("wrong_guesses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_signing_code_limits_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name="fk_signing_code_limits_participant_id_participants"
        ),
        sa.PrimaryKeyConstraint("case_id", "participant_id", name="pk_signing_code_limits"),
    )


def downgrade() -> None:
    op.drop_table("signing_code_limits")
    with op.batch_alter_table("signing_codes") as batch:
        batch.drop_column("document_sha256")
