"""A party applies to a mediation organisation from the public page (/apply), proving their mobile by a code.

``application_codes`` keeps keyed hashes of each one-time code and of the number it went to;
``application_limits`` counts codes per number (a minute, a day) and per client address (an hour);
``applications`` ties each case filed this way to the code that proved the applicant's mobile (unique:
one code files one case) and keeps the applicant's description. New tables only: a downgrade drops them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "application_codes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_application_codes"),
    )
    op.create_index("ix_application_codes_phone_hash", "application_codes", ["phone_hash"])
    op.create_table(
        "application_limits",
        sa.Column("bucket", sa.String(80), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name="pk_application_limits"),
    )
    op.create_table(
        "applications",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("code_id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_applications_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["code_id"], ["application_codes.id"], name="fk_applications_code_id_application_codes"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name="fk_applications_organisation_id_organisations"
        ),
        sa.PrimaryKeyConstraint("case_id", name="pk_applications"),
        sa.UniqueConstraint("code_id", name="uq_applications_code_id"),
    )


def downgrade() -> None:
    op.drop_table("applications")
    op.drop_table("application_limits")
    op.drop_index("ix_application_codes_phone_hash", table_name="application_codes")
    op.drop_table("application_codes")
