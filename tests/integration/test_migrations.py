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
