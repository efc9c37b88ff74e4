"""The live transcript keeps what the engine heard beside what the record shows.

For Mandarin the worker repairs misheard mediation words (商残 → 伤残) and writes amounts and dates as the
record writes them (三万五千元 → 35,000元); ``transcript_lines.heard`` keeps the engine's own text (NULL:
the same as ``text``, as every earlier line). Adding a nullable column touches no row, so the append-only
trigger on the table is not involved; a downgrade drops the column.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transcript_lines") as batch:
        batch.add_column(sa.Column("heard", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcript_lines") as batch:
        batch.drop_column("heard")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's batch mode rebuilt the table without its triggers: the lines stay append-only (as 0004)
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER transcript_lines_no_{verb.lower()} BEFORE {verb} ON transcript_lines "
                "BEGIN SELECT RAISE(ABORT, 'transcript_lines is append-only'); END"
            )
