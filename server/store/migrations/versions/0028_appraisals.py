"""Online appraisal (在线鉴定): consents, the institution's choice or draw, materials, opinions, evaluations.

``appraisal_specialties`` keeps what each appraisal institution appraises; ``appraisals`` one round of an
appraisal inside a case; ``appraisal_consents`` the parties' answers (append-only); ``appraisal_materials`` the
documents sent to the institution; ``appraisal_reappraisals`` applications for a new appraisal and their
decisions; ``appraisal_evaluations`` the scores of opinions. New tables only: a downgrade drops them.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "appraisal_specialties",
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("specialty", sa.String(32), nullable=False),
        _fk("appraisal_specialties", "organisation_id", "organisations"),
        sa.PrimaryKeyConstraint("organisation_id", "specialty", name="pk_appraisal_specialties"),
    )
    op.create_table(
        "appraisals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(36), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("institution_id", sa.String(36), nullable=True),
        sa.Column("choice", sa.String(8), nullable=True),
        sa.Column("draw", sa.Text(), nullable=True),
        sa.Column("fee", sa.String(16), nullable=True),
        sa.Column("fee_payer", sa.String(16), nullable=True),
        sa.Column("notice_document_id", sa.String(36), nullable=True),
        sa.Column("opinion_document_id", sa.String(36), nullable=True),
        sa.Column("opinion_check", sa.Text(), nullable=True),
        sa.Column("previous_id", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("appraisals", "case_id", "cases"),
        _fk("appraisals", "institution_id", "organisations"),
        _fk("appraisals", "notice_document_id", "documents"),
        _fk("appraisals", "opinion_document_id", "documents"),
        sa.PrimaryKeyConstraint("id", name="pk_appraisals"),
    )
    op.create_index("ix_appraisals_case_id", "appraisals", ["case_id"])
    op.create_index("ix_appraisals_institution_id", "appraisals", ["institution_id"])
    op.create_table(
        "appraisal_consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("appraisal_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("agree", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _fk("appraisal_consents", "appraisal_id", "appraisals"),
        _fk("appraisal_consents", "participant_id", "participants"),
        sa.PrimaryKeyConstraint("id", name="pk_appraisal_consents"),
    )
    op.create_index("ix_appraisal_consents_appraisal_id", "appraisal_consents", ["appraisal_id"])
    op.create_table(
        "appraisal_materials",
        sa.Column("appraisal_id", sa.String(36), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        _fk("appraisal_materials", "appraisal_id", "appraisals"),
        _fk("appraisal_materials", "document_id", "documents"),
        sa.PrimaryKeyConstraint("appraisal_id", "document_id", name="pk_appraisal_materials"),
    )
    op.create_table(
        "appraisal_reappraisals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("appraisal_id", sa.String(36), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(8), nullable=True),
        sa.Column("decision_reasons", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_appraisal_id", sa.String(36), nullable=True),
        _fk("appraisal_reappraisals", "appraisal_id", "appraisals"),
        _fk("appraisal_reappraisals", "participant_id", "participants"),
        sa.PrimaryKeyConstraint("id", name="pk_appraisal_reappraisals"),
    )
    op.create_index("ix_appraisal_reappraisals_appraisal_id", "appraisal_reappraisals", ["appraisal_id"])
    op.create_table(
        "appraisal_evaluations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("appraisal_id", sa.String(36), nullable=False),
        sa.Column("institution_id", sa.String(36), nullable=False),
        sa.Column("evaluator", sa.String(36), nullable=False),
        sa.Column("evaluator_role", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _fk("appraisal_evaluations", "appraisal_id", "appraisals"),
        _fk("appraisal_evaluations", "institution_id", "organisations"),
        sa.PrimaryKeyConstraint("id", name="pk_appraisal_evaluations"),
        sa.UniqueConstraint("appraisal_id", "evaluator", name="uq_appraisal_evaluations_appraisal_id"),
    )
    op.create_index("ix_appraisal_evaluations_institution_id", "appraisal_evaluations", ["institution_id"])


def downgrade() -> None:
    op.drop_index("ix_appraisal_evaluations_institution_id", table_name="appraisal_evaluations")
    op.drop_table("appraisal_evaluations")
    op.drop_index("ix_appraisal_reappraisals_appraisal_id", table_name="appraisal_reappraisals")
    op.drop_table("appraisal_reappraisals")
    op.drop_table("appraisal_materials")
    op.drop_index("ix_appraisal_consents_appraisal_id", table_name="appraisal_consents")
    op.drop_table("appraisal_consents")
    op.drop_index("ix_appraisals_institution_id", table_name="appraisals")
    op.drop_index("ix_appraisals_case_id", table_name="appraisals")
    op.drop_table("appraisals")
    op.drop_table("appraisal_specialties")
