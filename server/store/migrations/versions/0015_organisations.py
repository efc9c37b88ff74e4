"""Organisations: every account (and every case) moves into one.

Each distinct free-text ``accounts.organization`` becomes an organisation of that name
(a court if a judge holds it or it names a court, else a people's mediation committee;
an empty name becomes 未指定机构), dated by its earliest account; every account points
to it, and every case to its creator's. Nothing is dropped: the names stay on the
accounts, so a downgrade only removes what this added.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UNNAMED = "未指定机构"
"""The organisation of accounts recorded without one."""


def _kind(name: str, has_judges: bool) -> str:
    """As ``server.domain.organisations.kind_from_name`` said when this was written (frozen here)."""
    return "court" if has_judges or "法院" in name or "court" in name.lower() else "peoples_mediation"


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organisations"),
        sa.UniqueConstraint("name", name="uq_organisations_name"),
    )
    op.create_table(
        "organisation_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name="fk_organisation_events_organisation_id_organisations"
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_organisation_events_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_organisation_events"),
    )
    op.create_index("ix_organisation_events_organisation_id", "organisation_events", ["organisation_id"])
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("organisation_id", sa.String(36), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("organisation_id", sa.String(36), nullable=True))

    bind = op.get_bind()
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.String),
        sa.column("kind", sa.String),
        sa.column("organization", sa.String),
        sa.column("organisation_id", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    organisations = sa.table(
        "organisations",
        sa.column("id", sa.String),
        sa.column("kind", sa.String),
        sa.column("name", sa.String),
        sa.column("region", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("disabled", sa.Boolean),
    )
    cases = sa.table("cases", sa.column("created_by", sa.String), sa.column("organisation_id", sa.String))
    names: dict[str, dict[str, object]] = {}
    for row in bind.execute(sa.select(accounts.c.kind, accounts.c.organization, accounts.c.created_at)).all():
        name = (row.organization or "").strip() or UNNAMED
        seen = names.setdefault(name, {"judges": False, "since": row.created_at})
        seen["judges"] = bool(seen["judges"]) or row.kind == "judge"
        if row.created_at < seen["since"]:  # type: ignore[operator]
            seen["since"] = row.created_at
    for name, seen in sorted(names.items()):
        org_id = str(uuid.uuid4())
        bind.execute(
            organisations.insert().values(
                id=org_id,
                kind=_kind(name, bool(seen["judges"])),
                name=name,
                region="",
                created_at=seen["since"],
                disabled=False,
            )
        )
        same = sa.func.coalesce(sa.func.trim(accounts.c.organization), "")
        match = same == name if name != UNNAMED else sa.or_(same == "", same == UNNAMED)
        bind.execute(accounts.update().where(match).values(organisation_id=org_id, organization=name))
    bind.execute(
        cases.update()
        .where(cases.c.created_by.is_not(None))
        .values(
            organisation_id=sa.select(accounts.c.organisation_id)
            .where(accounts.c.id == cases.c.created_by)
            .scalar_subquery()
        )
    )
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column("organisation_id", existing_type=sa.String(36), nullable=False)
        batch.create_foreign_key(
            "fk_accounts_organisation_id_organisations", "organisations", ["organisation_id"], ["id"]
        )
        batch.create_index("ix_accounts_organisation_id", ["organisation_id"])
    with op.batch_alter_table("cases") as batch:
        batch.create_foreign_key("fk_cases_organisation_id_organisations", "organisations", ["organisation_id"], ["id"])
        batch.create_index("ix_cases_organisation_id", ["organisation_id"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_organisation_id")
        batch.drop_constraint("fk_cases_organisation_id_organisations", type_="foreignkey")
        batch.drop_column("organisation_id")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_index("ix_accounts_organisation_id")
        batch.drop_constraint("fk_accounts_organisation_id_organisations", type_="foreignkey")
        batch.drop_column("organisation_id")
    op.drop_index("ix_organisation_events_organisation_id", table_name="organisation_events")
    op.drop_table("organisation_events")
    op.drop_table("organisations")
