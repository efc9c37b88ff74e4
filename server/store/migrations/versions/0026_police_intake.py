"""Cases from the police's systems: agencies' intake keys, the replay guard, one case per police case number.

``intake_keys`` holds each police agency's key ids (never a secret); ``intake_nonces`` remembers each signed
request's nonce for 10 minutes (its primary key refuses a replay on every node); ``police_intakes`` ties an
agency's police case number (unique per agency) to the case it filed and keeps the canonical document. New
tables only: a downgrade drops them.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name="fk_intake_keys_organisation_id_organisations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_intake_keys"),
    )
    op.create_index("ix_intake_keys_organisation_id", "intake_keys", ["organisation_id"])
    op.create_table(
        "intake_nonces",
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["intake_keys.id"], name="fk_intake_nonces_key_id_intake_keys"),
        sa.PrimaryKeyConstraint("key_id", "nonce", name="pk_intake_nonces"),
    )
    op.create_index("ix_intake_nonces_seen_at", "intake_nonces", ["seen_at"])
    op.create_table(
        "police_intakes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("police_case_number", sa.String(40), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name="fk_police_intakes_organisation_id_organisations"
        ),
        sa.ForeignKeyConstraint(["key_id"], ["intake_keys.id"], name="fk_police_intakes_key_id_intake_keys"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_police_intakes_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_police_intakes"),
        sa.UniqueConstraint("organisation_id", "police_case_number", name="uq_police_intakes_organisation_id"),
    )
    op.create_index("ix_police_intakes_case_id", "police_intakes", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_police_intakes_case_id", table_name="police_intakes")
    op.drop_table("police_intakes")
    op.drop_index("ix_intake_nonces_seen_at", table_name="intake_nonces")
    op.drop_table("intake_nonces")
    op.drop_index("ix_intake_keys_organisation_id", table_name="intake_keys")
    op.drop_table("intake_keys")
