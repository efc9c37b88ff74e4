"""The data folder and everything secret in it are private to the server's user (issue 12 item 14).

The SQLite database (with its ``-wal`` and ``-shm`` files) holds names, phone and ID numbers; the
key files hold what signs tokens and unwraps recordings. They must not be readable by other users
whatever the umask, and a key must be on disk (file and folder entry) before it is used.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from server.app import build_app
from server.config import Settings
from server.domain.roles import AccountKind
from server.identity.access import new_id
from server.store.accounts import Account, AccountStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual umask of a shell: files 0644, folders 0755 unless the server says otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def settings(data: Path) -> Settings:
    return Settings(data_dir=data, public_url="https://mediation.test", transcript_engine="off")


async def run_and_write(data: Path) -> dict[str, int]:
    """Start the real application on its default SQLite store, write a row, and read the modes while
    it is running (the ``-wal`` and ``-shm`` files exist only while a connection is open)."""
    app = build_app(settings(data), clock=lambda: datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        from server.cases.endpoints import SERVICE

        accounts: AccountStore = app[SERVICE].accounts
        await accounts.create_account(
            Account(
                id=new_id(),
                username=f"mediator-{new_id()}",
                display_name="调解员",
                kind=AccountKind.MEDIATOR,
                organization="人民调解委员会",
                password_hash="not-a-login",
                created_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
            )
        )
        names = ["", "mediation.db", "mediation.db-wal", "mediation.db-shm", "secret.key", "master.key"]
        found = {name: mode(data / name) for name in names if (data / name).exists()}
        found.update({f"signing/{p.name}": mode(p) for p in (data / "signing").iterdir()})
        found["signing/"] = mode(data / "signing")
        return found
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_a_new_data_folder_and_its_database_are_private(tmp_path: Path, loose_umask: None) -> None:
    found = await run_and_write(tmp_path / "data")
    assert found.pop("") == 0o700, "the data folder"
    assert found.pop("signing/") == 0o700, "the signing keys' folder"
    for name in ("mediation.db", "mediation.db-wal", "mediation.db-shm", "secret.key", "master.key"):
        assert found.pop(name) == 0o600, name
    assert found and all(m == 0o600 for m in found.values()), found  # the CA's and the TSA's files


@pytest.mark.asyncio
async def test_an_existing_install_is_tightened(tmp_path: Path, loose_umask: None) -> None:
    """A data folder and database made by an earlier version (0755, 0644) are made private at start-up."""
    data = tmp_path / "data"
    first = await run_and_write(data)
    assert first[""] == 0o700
    os.chmod(data, 0o755)
    for name in ("mediation.db", "mediation.db-wal", "mediation.db-shm"):
        if (data / name).exists():
            os.chmod(data / name, 0o644)
    (data / "mediation.db-wal").touch(mode=0o644)  # left behind by a crash, as an older version made it
    os.chmod(data / "mediation.db-wal", 0o644)
    again = await run_and_write(data)
    assert again[""] == 0o700
    for name in ("mediation.db", "mediation.db-wal", "mediation.db-shm"):
        assert again[name] == 0o600, name


def test_key_files_reach_the_disk_before_they_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A generated key file and the folder entry naming it are both fsynced (a crash right after start
    must not lose the key that already signed tokens or wrapped a recording key)."""
    synced: list[str] = []
    real_fsync = os.fsync

    def watching_fsync(fd: int) -> None:  # records what is synced; the real fsync still runs
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", watching_fsync)
    data = tmp_path / "data"
    config = settings(data)
    config.signing_key()
    config.master_key()
    config.manifest_key()
    for name in ("secret.key", "master.key", "manifest.key"):
        assert str(data / name) in synced, name
    assert str(data) in synced, "the folder entries"
    assert mode(data) == 0o700
