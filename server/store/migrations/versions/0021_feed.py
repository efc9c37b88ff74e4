"""The aggregation feed: the outbox holds a second kind of event.

``outbox_events.kind`` is ``webhook`` (a change of state, the webhooks' body: every row written
before this revision) or ``feed`` (the aggregation feed's document, ``server.outbound.feed``). One
audit entry may now have an event of each kind, so the unique index on (case, seq) takes the kind
in. A downgrade deletes the feed's events and their deliveries, then restores the old index.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="webhook"))
        batch.drop_index("ix_outbox_events_case_id_seq")
        batch.create_index("ix_outbox_events_case_id_kind_seq", ["case_id", "kind", "seq"], unique=True)


def downgrade() -> None:
    feed = sa.select(sa.column("id")).select_from(sa.table("outbox_events")).where(sa.column("kind") == "feed")
    op.execute(sa.table("webhook_deliveries").delete().where(sa.column("event_id").in_(feed)))
    op.execute(sa.table("outbox_events").delete().where(sa.column("kind") == "feed"))
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_index("ix_outbox_events_case_id_kind_seq")
        batch.create_index("ix_outbox_events_case_id_seq", ["case_id", "seq"], unique=True)
        batch.drop_column("kind")
