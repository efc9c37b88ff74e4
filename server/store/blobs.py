"""Content-addressed blob storage: bytes are stored under their SHA-256.

:class:`BlobStore` is the port; :class:`LocalBlobStore` keeps blobs in a
folder (the embedded default), :class:`InMemoryBlobStore` serves unit tests.
A blob is written to a temporary file, flushed to disk and renamed into place,
so a crash never leaves a half-written blob under a valid address; reads check
the hash again. Blob files are 0600 (``mkstemp``) in folders made 0700.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from server.errors import BlobIntegrityError, NotFound
from server.store.files import private_folder

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class BlobRef:
    """The address and size of stored bytes."""

    sha256: str
    """Lower-case hex SHA-256 of the bytes."""
    size: int
    """Length in bytes."""


class BlobStore(Protocol):
    """Where document and recording bytes live."""

    async def put(self, data: bytes) -> BlobRef:
        """Store ``data`` (idempotent) and return its address."""
        ...

    async def get(self, sha256: str) -> bytes:
        """Return the bytes stored under ``sha256``; raise NotFound or BlobIntegrityError."""
        ...

    async def exists(self, sha256: str) -> bool:
        """Whether bytes are stored under ``sha256``."""
        ...


def _check_address(sha256: str) -> None:
    if not _HEX64.match(sha256):
        raise NotFound("No such blob")


class LocalBlobStore:
    """Blobs as files ``<root>/ab/cd/<sha256>`` on the local disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        _check_address(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def _put_sync(self, data: bytes) -> BlobRef:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return BlobRef(digest, len(data))
        private_folder(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return BlobRef(digest, len(data))

    def _get_sync(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound("No such blob") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobIntegrityError(f"Blob {sha256} does not match its hash")
        return data

    async def put(self, data: bytes) -> BlobRef:
        return await asyncio.to_thread(self._put_sync, data)

    async def get(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self._get_sync, sha256)

    async def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()


class InMemoryBlobStore:
    """Blobs in a dict, for unit tests."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    async def put(self, data: bytes) -> BlobRef:
        digest = hashlib.sha256(data).hexdigest()
        self._blobs[digest] = bytes(data)
        return BlobRef(digest, len(data))

    async def get(self, sha256: str) -> bytes:
        _check_address(sha256)
        try:
            data = self._blobs[sha256]
        except KeyError as exc:
            raise NotFound("No such blob") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobIntegrityError(f"Blob {sha256} does not match its hash")
        return data

    async def exists(self, sha256: str) -> bool:
        return sha256 in self._blobs
