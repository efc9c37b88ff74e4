"""Alembic migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect

from server.store import db
from server.store.repository import CaseRepository
from server.store.schema import metadata


@pytest.mark.asyncio
async def test_migrated_schema_matches_the_tables_in_code(repo: CaseRepository) -> None:
    def diff(conn: object) -> list[object]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(ctx, metadata))

    async with repo.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    db.upgrade_sync(url)
    from alembic import command

    command.downgrade(db.alembic_config(url), "base")
    sync = create_sync_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert set(inspect(sync).get_table_names()) == {"alembic_version"}
    db.upgrade_sync(url)
    assert {"cases", "audit_entries", "participants", "sessions", "documents", "tokens", "accounts"} <= set(
        inspect(sync).get_table_names()
    )
    sync.dispose()


def test_0021_keeps_the_webhook_events_and_a_downgrade_drops_the_feeds(tmp_path: Path) -> None:
    """Migration 0021 (the aggregation feed): events written before it are the webhooks'; going back
    removes the feed's events with their deliveries and restores the one-event-per-entry index."""
    from datetime import UTC, datetime

    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    config = db.alembic_config(url)
    before = ScriptDirectory.from_config(config).get_revision("0021").down_revision
    assert isinstance(before, str)
    db.upgrade_sync(url, before)
    sync = create_sync_engine(f"sqlite:///{tmp_path / 'm.db'}")
    now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC).isoformat()
    with sync.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cases (id, number, kind, title, state, version, filed_at, updated_at, lifecycle,"
                " audit_seq, audit_head) VALUES ('c1', 'N-1', 'traffic_accident', 't', 'filed', 1, :now, :now,"
                " '{}', 2, :head)"
            ),
            {"now": now, "head": "0" * 64},
        )
        conn.execute(
            text("INSERT INTO outbox_events (case_id, seq, action, payload, at) VALUES ('c1', 2, 'x', '{}', :now)"),
            {"now": now},
        )
    db.upgrade_sync(url, "0021")
    with sync.begin() as conn:
        assert conn.execute(text("SELECT id, kind FROM outbox_events")).all() == [(1, "webhook")]
        conn.execute(
            text(
                "INSERT INTO outbox_events (case_id, seq, action, payload, at, kind)"
                " VALUES ('c1', 2, 'x', '{}', :now, 'feed')"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO webhook_deliveries (event_id, endpoint, status, attempts, next_attempt_at)"
                " VALUES (2, 'e', 'pending', 0, :now), (1, 'e', 'delivered', 1, :now)"
            ),
            {"now": now},
        )
    command.downgrade(config, before)
    with sync.begin() as conn:
        assert conn.execute(text("SELECT id, seq FROM outbox_events")).all() == [(1, 2)]
        assert conn.execute(text("SELECT event_id, status FROM webhook_deliveries")).all() == [(1, "delivered")]
    indexes = {i["name"]: i for i in inspect(sync).get_indexes("outbox_events")}
    assert indexes["ix_outbox_events_case_id_seq"]["column_names"] == ["case_id", "seq"]
    assert indexes["ix_outbox_events_case_id_seq"]["unique"]
    assert "kind" not in {c["name"] for c in inspect(sync).get_columns("outbox_events")}
    sync.dispose()
