"""The record of undisputed facts (无争议事实记载): its versions and the parties' answers.

``fact_records`` keeps each version the mediator drafts (the items as JSON text);
``fact_confirmations`` each party's answer to a version (confirm, or object with a note).
Nothing existing changes, so a downgrade drops the two tables.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fact_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drafted_by", sa.String(80), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_fact_records_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_fact_records"),
        sa.UniqueConstraint("case_id", "version", name="uq_fact_records_case_id"),
    )
    op.create_index("ix_fact_records_case_id", "fact_records", ["case_id"])
    op.create_table(
        "fact_confirmations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("answer", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_fact_confirmations_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name="fk_fact_confirmations_participant_id_participants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_fact_confirmations"),
    )
    op.create_index("ix_fact_confirmations_case_id", "fact_confirmations", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_fact_confirmations_case_id", table_name="fact_confirmations")
    op.drop_table("fact_confirmations")
    op.drop_index("ix_fact_records_case_id", table_name="fact_records")
    op.drop_table("fact_records")
