"""Referral, assignment and the mediation period: cases learn where they came from and who holds them.

Adds the columns that lists, queues and statistics read (``court_id``, ``referral_kind``,
``holder_account_id``, ``referred_at``, ``accepted_at``, ``agreement_at``, ``confirmed_at``,
``ended_at``, ``period_deadline``, ``overdue``; the repository derives them from the case value on
every write), a court's roster (``roster_entries``) and mediators' profiles (``mediator_profiles``).

Existing cases were filed by their mediator: each becomes an ``own`` case, referred and accepted
when it was filed, held by its creator; its agreement, confirmation and end times come from its
stored life cycle. They get no mediation period (none was running when they were filed). Nothing is
dropped or rewritten, so a downgrade only removes what this added.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

END_STATES = ("confirmed", "rejected", "mediation_failed", "withdrawn", "closed")
"""The end states when this was written (frozen here)."""

COLUMNS = (
    "court_id",
    "referral_kind",
    "holder_account_id",
    "referred_at",
    "accepted_at",
    "agreement_at",
    "confirmed_at",
    "ended_at",
    "period_deadline",
    "overdue",
)


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("court_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("referral_kind", sa.String(16), nullable=False, server_default="own"))
        batch.add_column(sa.Column("holder_account_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("referred_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("agreement_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("period_deadline", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("overdue", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key("fk_cases_court_id_organisations", "organisations", ["court_id"], ["id"])
        batch.create_foreign_key("fk_cases_holder_account_id_accounts", "accounts", ["holder_account_id"], ["id"])
        batch.create_index("ix_cases_court_id", ["court_id"])
        batch.create_index("ix_cases_holder_account_id", ["holder_account_id"])

    bind = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.String),
        sa.column("state", sa.String),
        sa.column("filed_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("created_by", sa.String),
        sa.column("lifecycle", sa.Text),
        sa.column("holder_account_id", sa.String),
        sa.column("referred_at", sa.DateTime(timezone=True)),
        sa.column("accepted_at", sa.DateTime(timezone=True)),
        sa.column("agreement_at", sa.DateTime(timezone=True)),
        sa.column("confirmed_at", sa.DateTime(timezone=True)),
        sa.column("ended_at", sa.DateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.select(
            cases.c.id, cases.c.state, cases.c.filed_at, cases.c.updated_at, cases.c.created_by, cases.c.lifecycle
        )
    ).all()
    for row in rows:
        doc = json.loads(row.lifecycle)
        confirmation = doc.get("confirmation") or {}
        bind.execute(
            sa.update(cases)
            .where(cases.c.id == row.id)
            .values(
                holder_account_id=row.created_by,
                referred_at=row.filed_at,
                accepted_at=row.filed_at,
                agreement_at=_when(doc.get("agreement_effective_at")),
                confirmed_at=_when(confirmation.get("ruled_at")) if confirmation.get("confirmed") else None,
                ended_at=row.updated_at if row.state in END_STATES else None,
            )
        )

    op.create_table(
        "roster_entries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("court_id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=True),
        sa.Column("account_id", sa.String(36), nullable=True),
        sa.Column("specialties", sa.String(200), nullable=False),
        sa.Column("term_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("term_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(80), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["court_id"], ["organisations.id"], name="fk_roster_entries_court_id_organisations"),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name="fk_roster_entries_organisation_id_organisations"
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_roster_entries_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_roster_entries"),
        sa.UniqueConstraint("court_id", "organisation_id", "account_id", name="uq_roster_entries_court_id"),
    )
    op.create_index("ix_roster_entries_court_id", "roster_entries", ["court_id"])
    op.create_table(
        "mediator_profiles",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("qualification", sa.Text(), nullable=False),
        sa.Column("specialties", sa.String(200), nullable=False),
        sa.Column("introduction", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_mediator_profiles_account_id_accounts"),
        sa.PrimaryKeyConstraint("account_id", name="pk_mediator_profiles"),
    )


def downgrade() -> None:
    op.drop_table("mediator_profiles")
    op.drop_index("ix_roster_entries_court_id", table_name="roster_entries")
    op.drop_table("roster_entries")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_holder_account_id")
        batch.drop_index("ix_cases_court_id")
        batch.drop_constraint("fk_cases_holder_account_id_accounts", type_="foreignkey")
        batch.drop_constraint("fk_cases_court_id_organisations", type_="foreignkey")
        for column in reversed(COLUMNS):
            batch.drop_column(column)
