"""Built clips kept for the ``Range`` requests of a playback: bounded, encrypted, in a temporary folder.

A media element asks for a clip in pieces (``Range: bytes=0-``, then more as it
plays and seeks). Building a clip (opening every segment's seal, checking its
hash, remuxing) for each piece costs the whole clip every time, so the file a
playback built is kept here and the later pieces are read from it
(``server.record.playback``: a request that opens a playback, with no ``Range`` or
one from byte 0, builds afresh and is audited; the others are served from here).

Nothing of a recording reaches the disk unencrypted: each file is written in
chunks of :data:`CHUNK` bytes, each sealed with AES-GCM under a key made when
the cache is made and held only in memory (associated data: the file's random
id and the chunk's index), so a piece is read by opening only the chunks it
spans, and the files are unreadable once the process has gone. The folder is a
fresh temporary one per process, removed by :meth:`ClipCache.close`.

The cache is bounded by the bytes of its files (``MEDIATION_PLAYBACK_CACHE_MB``);
the least recently used clip goes first, and a clip larger than the whole bound
is not kept (its pieces are then built again, each audited as a playback).
Keys name the case, session, clip and the viewer whose caucus membership shaped
it (``""`` for staff, who are played everything).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from recording.playback import ClipMedia

logger = logging.getLogger(__name__)

CHUNK = 256 * 1024
"""Plaintext bytes per sealed chunk of a cached file."""
_TAG = 16
_NONCE = 12
_SEALED = _NONCE + CHUNK + _TAG
"""Bytes of one full sealed chunk on disk."""
_PIECES = 4
"""Chunks opened per trip to the worker thread while streaming (1 MiB)."""


@dataclass(frozen=True)
class ClipKey:
    """Which built file: the clip, and whose view of it."""

    case_id: str
    """The case."""
    session_id: str
    """The session."""
    clip_id: str
    """The clip."""
    viewer: str
    """The participant whose caucus membership withholds segments; ``""``: staff (everything)."""


@dataclass
class CachedClip:
    """A built clip on disk, with what its responses say about it."""

    key: ClipKey
    """What it is."""
    media: ClipMedia
    """The clip's description (``data`` empty: the bytes are in the file)."""
    size: int
    """Bytes of the built file."""
    etag: str
    """SHA-256 of the built file (hex)."""
    path: Path
    """The sealed chunks."""
    file_id: bytes
    """Random id bound into every chunk's seal."""
    viewers: set[str] = field(default_factory=set)
    """Actors whose playback of this build has been audited."""
    written: asyncio.Future[None] | None = None
    """Done when the file is on disk (it is written after the build is answered)."""


class CacheDamaged(Exception):
    """A cached file could not be read back (it is dropped; the caller builds the clip again)."""


def etag_of(data: bytes) -> str:
    """The ETag value of a built file."""
    return hashlib.sha256(data).hexdigest()


class ClipCache:
    """Built clips, least recently used out first, bounded by ``max_bytes`` on disk."""

    def __init__(self, max_bytes: int, folder: Path | None = None) -> None:
        self.max_bytes = max_bytes
        self._parent = folder
        self._folder: Path | None = None
        self._key = AESGCM.generate_key(256)
        self._entries: OrderedDict[ClipKey, CachedClip] = OrderedDict()
        self._writing: set[asyncio.Future[None]] = set()
        self.bytes = 0
        """Plaintext bytes of the files kept now."""

    def _dir(self) -> Path:
        if self._folder is None:
            if self._parent is not None:
                self._parent.mkdir(parents=True, exist_ok=True)
            self._folder = Path(tempfile.mkdtemp(prefix="mediation-clips-", dir=self._parent))
        return self._folder

    def get(self, key: ClipKey) -> CachedClip | None:
        """The cached build of ``key`` (now the most recently used), or None."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    async def put(self, key: ClipKey, media: ClipMedia) -> CachedClip | None:
        """Keep a fresh build of ``key`` (replacing any older one); None when it does not fit at all.

        The ETag is computed before this returns; the file is written meanwhile in a worker
        thread (:attr:`CachedClip.written`), so the request that built the clip is answered
        without waiting for the disk, and a read of this entry waits for the file.
        """
        if len(media.data) > self.max_bytes:
            self.drop(key)
            return None
        path = self._dir() / f"{uuid.uuid4().hex}.clip"
        file_id = os.urandom(16)
        etag = await asyncio.to_thread(etag_of, media.data)
        entry = CachedClip(key, replace(media, data=b""), len(media.data), etag, path, file_id)
        entry.written = asyncio.ensure_future(asyncio.to_thread(self._write, path, file_id, media.data))
        entry.written.add_done_callback(lambda done: self._after_write(entry, done))
        self._writing.add(entry.written)
        self.drop(key)
        self._entries[key] = entry
        self.bytes += entry.size
        while self.bytes > self.max_bytes and self._entries:
            self.drop(next(iter(self._entries)))
        return entry

    def _after_write(self, entry: CachedClip, done: asyncio.Future[None]) -> None:
        self._writing.discard(done)
        kept = self._entries.get(entry.key) is entry
        if done.cancelled() or done.exception() is not None:
            logger.warning("a built clip could not be kept (%s)", "cancelled" if done.cancelled() else "disk error")
            if kept:
                self.drop(entry.key)
        elif not kept:  # dropped while it was being written: the file came after the unlink
            with contextlib.suppress(OSError):
                entry.path.unlink()

    def drop(self, key: ClipKey) -> None:
        """Forget a build (a reader that has the file open reads on)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry.size
            with contextlib.suppress(OSError):
                entry.path.unlink()

    async def read(self, entry: CachedClip, first: int, last: int) -> AsyncGenerator[bytes, None]:
        """The bytes ``first..last`` (inclusive) of a cached build, in pieces of about a MiB.

        Raises :class:`CacheDamaged` (and drops the entry) if the file cannot be read back.
        """
        try:
            if entry.written is not None:
                await asyncio.shield(entry.written)  # a cancelled reader leaves the write going
            handle = await asyncio.to_thread(entry.path.open, "rb")
        except Exception as exc:  # the write failed, or the file is gone
            self.drop(entry.key)
            raise CacheDamaged from exc
        try:
            index = first // CHUNK
            end = last // CHUNK
            while index <= end:
                upto = min(end, index + _PIECES - 1)
                try:
                    plain = await asyncio.to_thread(self._open_chunks, handle, entry.file_id, index, upto)
                except (OSError, InvalidTag, ValueError) as exc:
                    self.drop(entry.key)
                    raise CacheDamaged from exc
                base = index * CHUNK
                yield plain[max(first - base, 0) : last - base + 1]
                index = upto + 1
        finally:
            handle.close()

    async def read_all(self, entry: CachedClip, first: int, last: int) -> bytes:
        """:meth:`read` joined into one ``bytes``."""
        return b"".join([piece async for piece in self.read(entry, first, last)])

    async def close(self) -> None:
        """Wait for the files being written, forget everything and remove the folder."""
        if self._writing:
            await asyncio.gather(*list(self._writing), return_exceptions=True)
        self._entries.clear()
        self.bytes = 0
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    # ------------------------------------------------------------ in a worker thread

    def _write(self, path: Path, file_id: bytes, data: bytes) -> None:
        aead = AESGCM(self._key)
        view = memoryview(data)
        # created 0600 by the open itself: a chmod by path afterwards failed (FileNotFoundError)
        # when the entry was dropped, and its file unlinked, while it was being written
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            for index, offset in enumerate(range(0, len(data), CHUNK)):
                nonce = os.urandom(_NONCE)
                out.write(nonce + aead.encrypt(nonce, view[offset : offset + CHUNK], _aad(file_id, index)))

    def _open_chunks(self, handle: BinaryIO, file_id: bytes, first: int, last: int) -> bytes:
        aead = AESGCM(self._key)
        handle.seek(first * _SEALED)
        out = []
        for index in range(first, last + 1):
            sealed = handle.read(_SEALED)
            if len(sealed) <= _NONCE + _TAG:
                raise ValueError("the cached file is shorter than its clip")
            out.append(aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], _aad(file_id, index)))
        return b"".join(out)


def _aad(file_id: bytes, index: int) -> bytes:
    return b"mediation-clip-cache:" + file_id + index.to_bytes(8, "big")
