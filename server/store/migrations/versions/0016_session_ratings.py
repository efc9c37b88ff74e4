"""Session ratings: each party's satisfaction with a session, private from the mediator.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_session_ratings_case_id_cases"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], name="fk_session_ratings_session_id_sessions"),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name="fk_session_ratings_participant_id_participants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_session_ratings"),
        sa.UniqueConstraint("session_id", "participant_id", name="uq_session_ratings_session_id"),
    )
    op.create_index("ix_session_ratings_case_id", "session_ratings", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_session_ratings_case_id", table_name="session_ratings")
    op.drop_table("session_ratings")
