"""One-click claims (一键理赔): authorisations, claims, payments, repair shops.

``claim_authorisations`` keeps each insurer's authorisations of its adjusters (授权委托书), ``repair_shops`` the
insurers' repair shops (定修直赔), ``claims`` the claims on a case's insurer (unique per case and open claimant) or, from a signed scene
finding, on the paying driver's insurer (unique per report and open claimant driver),
``claim_events`` and ``claim_payments`` each step and payment. New tables only: a downgrade drops them.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim_authorisations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("regions", sa.Text(), nullable=False),
        sa.Column("any_region", sa.Boolean(), nullable=False),
        sa.Column("limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.String(10), nullable=False),
        sa.Column("valid_to", sa.String(10), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("document_size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name="fk_claim_authorisations_organisation_id_organisations"
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_claim_authorisations_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_claim_authorisations"),
    )
    op.create_index("ix_claim_authorisations_account_id", "claim_authorisations", ["account_id"])
    op.create_table(
        "repair_shops",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(400), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name="fk_repair_shops_organisation_id_organisations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_repair_shops"),
        sa.UniqueConstraint("organisation_id", "name", name="uq_repair_shops_organisation_id"),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("participant_id", sa.String(36), nullable=True),
        sa.Column("scene_report_id", sa.String(36), nullable=True),
        sa.Column("scene_driver_id", sa.String(36), nullable=True),
        sa.Column("insurer_id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("vehicle_fen", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("open_key", sa.String(36), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.String(10), nullable=False),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acting_account_id", sa.String(36), nullable=True),
        sa.Column("authorisation_id", sa.String(36), nullable=True),
        sa.Column("repair_shop_id", sa.String(36), nullable=True),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refused_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_claims_case_id_cases"),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], name="fk_claims_participant_id_participants"),
        sa.ForeignKeyConstraint(
            ["scene_report_id"], ["scene_reports.id"], name="fk_claims_scene_report_id_scene_reports"
        ),
        sa.ForeignKeyConstraint(
            ["scene_driver_id"], ["scene_drivers.id"], name="fk_claims_scene_driver_id_scene_drivers"
        ),
        sa.ForeignKeyConstraint(["insurer_id"], ["organisations.id"], name="fk_claims_insurer_id_organisations"),
        sa.ForeignKeyConstraint(["repair_shop_id"], ["repair_shops.id"], name="fk_claims_repair_shop_id_repair_shops"),
        sa.PrimaryKeyConstraint("id", name="pk_claims"),
        sa.UniqueConstraint("case_id", "open_key", name="uq_claims_case_id"),
        sa.UniqueConstraint("scene_report_id", "open_key", name="uq_claims_scene_report_id"),
    )
    op.create_index("ix_claims_insurer_id", "claims", ["insurer_id"])
    op.create_table(
        "claim_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("claim_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name="fk_claim_events_claim_id_claims"),
        sa.PrimaryKeyConstraint("id", name="pk_claim_events"),
        sa.UniqueConstraint("claim_id", "seq", name="uq_claim_events_claim_id"),
    )
    op.create_table(
        "claim_payments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("claim_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("paid_on", sa.String(10), nullable=False),
        sa.Column("repair_shop_id", sa.String(36), nullable=True),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name="fk_claim_payments_claim_id_claims"),
        sa.ForeignKeyConstraint(
            ["repair_shop_id"], ["repair_shops.id"], name="fk_claim_payments_repair_shop_id_repair_shops"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_claim_payments"),
        sa.UniqueConstraint("claim_id", "seq", name="uq_claim_payments_claim_id"),
    )


def downgrade() -> None:
    op.drop_table("claim_payments")
    op.drop_table("claim_events")
    op.drop_index("ix_claims_insurer_id", table_name="claims")
    op.drop_table("claims")
    op.drop_table("repair_shops")
    op.drop_index("ix_claim_authorisations_account_id", table_name="claim_authorisations")
    op.drop_table("claim_authorisations")
