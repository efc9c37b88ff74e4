"""The electronic accident finding (电子事故认定书): its PDF and the drivers' signatures.

``liability_findings``: one per scene report whose finding was issued (the rendered PDF's hash, and the
file both drivers signed); ``liability_finding_files``: the chain of files (certified, then one per driver's
signature; the primary key is the version check); ``liability_finding_codes`` and
``liability_finding_code_limits``: the drivers' one-time codes (keyed hashes) and their limits. New tables
only: a downgrade drops them.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "liability_findings",
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("rendered_sha256", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_sha256", sa.String(64), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"], ["scene_reports.id"], name="fk_liability_findings_report_id_scene_reports"
        ),
        sa.PrimaryKeyConstraint("report_id", name="pk_liability_findings"),
    )
    op.create_table(
        "liability_finding_files",
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("driver", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["liability_findings.report_id"],
            name="fk_liability_finding_files_report_id_liability_findings",
        ),
        sa.PrimaryKeyConstraint("report_id", "seq", name="pk_liability_finding_files"),
        sa.UniqueConstraint("report_id", "driver", name="uq_liability_finding_files_report_id"),
    )
    op.create_table(
        "liability_finding_codes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("driver", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_liability_finding_codes"),
    )
    op.create_index("ix_liability_finding_codes_report_id", "liability_finding_codes", ["report_id"])
    op.create_table(
        "liability_finding_code_limits",
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("driver", sa.Integer(), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("codes_sent", sa.Integer(), nullable=False),
        sa.Column("wrong_guesses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", "driver", name="pk_liability_finding_code_limits"),
    )


def downgrade() -> None:
    op.drop_table("liability_finding_code_limits")
    op.drop_index("ix_liability_finding_codes_report_id", table_name="liability_finding_codes")
    op.drop_table("liability_finding_codes")
    op.drop_table("liability_finding_files")
    op.drop_table("liability_findings")
