"""Private files on the local disk: the data folder, the SQLite database, generated key files.

Everything the server keeps in its data folder is either personal data (the SQLite database and its
``-wal``/``-shm`` files, blobs) or a secret (the token key, the recordings' master key, the CA keys),
so none of it may be readable by another user of the machine, whatever the umask:

- folders the server makes are created with mode 0700, and the data folder of an earlier install
  (0755) is tightened at start-up when it belongs to the server's user;
- files are created with mode 0600 before anything else opens them (SQLite then gives its ``-wal``
  and ``-shm`` files the database's own mode);
- a generated key is written with ``O_EXCL``, flushed and fsynced, and so is the folder that names
  it: a crash right after start-up must not lose a key that already signed a token or wrapped a
  recording key.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def private_folder(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0700; an existing folder is left as it is."""
    missing: list[Path] = []
    here = path
    while not here.exists():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_FOLDER)
        except FileExistsError:
            continue  # another process made it meanwhile


def private_data_folder(path: Path) -> None:
    """Make the data folder (creating it) and tighten one an earlier version left open to others.

    Only a folder that belongs to this user and is not shared (no sticky bit, as ``/tmp`` has) is
    tightened; for any other a warning says what to do.
    """
    private_folder(path)
    info = path.stat()
    if not stat.S_IMODE(info.st_mode) & 0o077:
        return
    if info.st_uid == os.geteuid() and not info.st_mode & stat.S_ISVTX:
        os.chmod(path, PRIVATE_FOLDER)
        logger.info("made the data folder %s private (mode 0700)", path)
    else:
        logger.warning("the data folder %s can be read by other users; make it mode 0700", path)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; tighten it if it is open to others."""
    if not path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        except FileExistsError:
            pass  # another process made it meanwhile: tightened below like any other
        except OSError as exc:
            logger.warning("cannot create %s (%s)", path, exc.strerror)
            return
    tighten(path)


def tighten(path: Path) -> None:
    """Take group and other permissions off ``path`` if it exists (never creates it)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & ~0o077)
    except FileNotFoundError:
        return
    except OSError as exc:
        logger.warning("%s can be read by other users and cannot be changed (%s)", path, exc.strerror)


def sync_folder(path: Path) -> None:
    """Fsync a folder, so the names created in it survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` (mode 0600, never overwriting: ``FileExistsError``), write ``data`` and fsync the
    file and its folder."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)
