"""Addresses for service (送达地址确认书): where each party confirmed documents reach them.

``service_addresses`` is append-only: a participant's newest row is their confirmation now (mobile
number, e-mail, postal address and recipient, the channels of electronic service they accept, the
generated PDF). Nothing existing changes, so a downgrade drops the table.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_addresses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("postal_address", sa.String(200), nullable=True),
        sa.Column("postal_recipient", sa.String(200), nullable=True),
        sa.Column("channels", sa.String(64), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_service_addresses_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name="fk_service_addresses_participant_id_participants"
        ),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], name="fk_service_addresses_document_id_documents"),
        sa.PrimaryKeyConstraint("id", name="pk_service_addresses"),
    )
    op.create_index("ix_service_addresses_case_id", "service_addresses", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_service_addresses_case_id", table_name="service_addresses")
    op.drop_table("service_addresses")
