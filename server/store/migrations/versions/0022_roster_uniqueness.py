"""A member is on a court's roster once, even under concurrent adds; the court's own case number on the case.

Two partial unique indexes on ``roster_entries`` (the unique constraint over court, organisation and
account cannot catch a duplicate: the absent id is NULL, and NULLs never clash). ``cases`` gains
``court_case_number`` (诉中委托: the court's own number for the case), filled from the stored life cycle
of cases already referred.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("court_case_number", sa.String(64), nullable=False, server_default=""))
    bind = op.get_bind()
    cases = sa.table(
        "cases", sa.column("id", sa.String), sa.column("lifecycle", sa.Text), sa.column("court_case_number", sa.String)
    )
    for row in bind.execute(sa.select(cases.c.id, cases.c.lifecycle)).all():
        number = (json.loads(row.lifecycle).get("referral") or {}).get("court_case_number") or ""
        if number:
            bind.execute(sa.update(cases).where(cases.c.id == row.id).values(court_case_number=number))
    roster = sa.table("roster_entries", sa.column("organisation_id", sa.String), sa.column("account_id", sa.String))
    op.create_index(
        "ix_roster_entries_court_organisation",
        "roster_entries",
        ["court_id", "organisation_id"],
        unique=True,
        sqlite_where=roster.c.organisation_id.isnot(None),
        postgresql_where=roster.c.organisation_id.isnot(None),
    )
    op.create_index(
        "ix_roster_entries_court_account",
        "roster_entries",
        ["court_id", "account_id"],
        unique=True,
        sqlite_where=roster.c.account_id.isnot(None),
        postgresql_where=roster.c.account_id.isnot(None),
    )


def downgrade() -> None:
    op.drop_index("ix_roster_entries_court_account", table_name="roster_entries")
    op.drop_index("ix_roster_entries_court_organisation", table_name="roster_entries")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("court_case_number")
