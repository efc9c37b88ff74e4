"""Scene reports (快处快赔): reports, drivers, photos and their evidence chain, the police's decisions.

``scene_reports`` keeps each report (its state, police unit, the officer's decisions, the join code's keyed hash,
its optimistic version and the head of its hash chain); ``scene_drivers`` both drivers' items; ``scene_photos``
every photo uploaded (append-only; bytes in the blob store); ``scene_events`` the report's hash chain. New tables
only: a downgrade drops them.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "scene_reports",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("police_unit_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _when("started_at"),
        _when("occurred_at"),
        sa.Column("place", sa.String(200), nullable=False),
        _when("submitted_at", True),
        _when("accepted_at", True),
        sa.Column("officer_account_id", sa.String(36), nullable=True),
        sa.Column("returned_reason", sa.Text(), nullable=False),
        sa.Column("finding", sa.Text(), nullable=True),
        sa.Column("signed_by", sa.Text(), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("join_code_hash", sa.String(64), nullable=False),
        _when("join_expires_at"),
        sa.Column("join_attempts", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _when("updated_at"),
        sa.Column("chain_seq", sa.Integer(), nullable=False),
        sa.Column("chain_head", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["police_unit_id"], ["organisations.id"], name="fk_scene_reports_police_unit_id_organisations"
        ),
        sa.ForeignKeyConstraint(
            ["officer_account_id"], ["accounts.id"], name="fk_scene_reports_officer_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_scene_reports_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_scene_reports"),
        sa.UniqueConstraint("number", name="uq_scene_reports_number"),
    )
    op.create_index("ix_scene_reports_police_unit_id", "scene_reports", ["police_unit_id"])
    op.create_table(
        "scene_drivers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("licence_number", sa.String(18), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("insurer", sa.String(60), nullable=False),
        sa.Column("insurer_organisation_id", sa.String(36), nullable=True),
        sa.Column("damaged_part", sa.String(60), nullable=False),
        _when("joined_at"),
        _when("completed_at", True),
        sa.ForeignKeyConstraint(["report_id"], ["scene_reports.id"], name="fk_scene_drivers_report_id_scene_reports"),
        sa.ForeignKeyConstraint(
            ["insurer_organisation_id"],
            ["organisations.id"],
            name="fk_scene_drivers_insurer_organisation_id_organisations",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_scene_drivers"),
        sa.UniqueConstraint("report_id", "number", name="uq_scene_drivers_report_id"),
    )
    op.create_table(
        "scene_photos",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("driver", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(32), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("original_sha256", sa.String(64), nullable=False),
        sa.Column("original_size", sa.BigInteger(), nullable=False),
        _when("captured_at", True),
        _when("uploaded_at"),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["scene_reports.id"], name="fk_scene_photos_report_id_scene_reports"),
        sa.PrimaryKeyConstraint("id", name="pk_scene_photos"),
    )
    op.create_index("ix_scene_photos_report_id", "scene_photos", ["report_id"])
    op.create_table(
        "scene_events",
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["scene_reports.id"], name="fk_scene_events_report_id_scene_reports"),
        sa.PrimaryKeyConstraint("report_id", "seq", name="pk_scene_events"),
    )


def downgrade() -> None:
    op.drop_table("scene_events")
    op.drop_index("ix_scene_photos_report_id", table_name="scene_photos")
    op.drop_table("scene_photos")
    op.drop_table("scene_drivers")
    op.drop_index("ix_scene_reports_police_unit_id", table_name="scene_reports")
    op.drop_table("scene_reports")
