"""Database engines and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from server.store.files import private_file, private_folder, tighten

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def is_sqlite(url: str) -> bool:
    """Whether ``url`` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url`` with the settings the store relies on.

    ``hide_parameters``: a driver's error (a NUL PostgreSQL refuses, a constraint) names the
    statement's parameters in its message, which reaches tracebacks and logs; the values are
    personal data (names, phone and ID numbers), so no engine ever shows them.
    """
    if is_sqlite(url):
        database = make_url(url).database
        files: tuple[Path, ...] = ()
        if database and database != ":memory:" and not database.startswith("file:"):
            files = private_sqlite_files(Path(database))
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            for path in files[1:]:  # -wal and -shm an earlier version left open to others
                tighten(path)

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True)


def private_sqlite_files(database: Path) -> tuple[Path, Path, Path]:
    """Make the database file private (mode 0600) before SQLite opens it; return it with its ``-wal``
    and ``-shm`` files.

    SQLite gives the ``-wal`` and ``-shm`` files it creates the database file's mode (whatever the
    umask), so creating the database with 0600 covers them; files an earlier version made 0644 are
    tightened here and again on every new connection. A folder made for the database is 0700.
    """
    private_folder(database.parent)
    private_file(database)
    wal, shm = database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")
    tighten(wal)
    tighten(shm)
    return database, wal, shm


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` that needs no ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; runs its own event loop)."""
    logger.info("applying migrations up to %s", revision)
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations from async code (in a worker thread with its own loop)."""
    await asyncio.to_thread(upgrade_sync, url, revision)
