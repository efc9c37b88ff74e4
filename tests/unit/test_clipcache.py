"""The cache of built clips: pieces read back equal the built file, nothing readable on disk,
bounded by bytes with the least recently used out first, a damaged file is never served."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recording.clipcache import CHUNK, CacheDamaged, CachedClip, ClipCache, ClipKey, etag_of
from recording.playback import ClipMedia
from recording.timeline import Clip

pytestmark = pytest.mark.asyncio


def media(data: bytes) -> ClipMedia:
    at = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    clip = Clip("p-video-1", "p:video", "p", "video", "1", "vp8", "video/webm", 0.0, 4.0, at, 120, ())
    return ClipMedia(clip, data, "video/webm", 120, ())


def key(clip: str) -> ClipKey:
    return ClipKey("case", "session", clip, "")


async def written(*entries: CachedClip) -> None:
    """Until the entries' files are on disk (put answers before they are)."""
    await asyncio.gather(*(e.written for e in entries if e.written is not None))


async def test_pieces_equal_the_slices_of_the_built_file(tmp_path: Path) -> None:
    cache = ClipCache(64 * CHUNK, tmp_path)
    data = os.urandom(3 * CHUNK + 12345)
    entry = await cache.put(key("a"), media(data))
    assert entry is not None and entry.size == len(data) and entry.etag == etag_of(data)
    assert entry.media.data == b"" and entry.media.frames == 120
    for first, last in [
        (0, len(data) - 1),
        (0, 0),
        (CHUNK - 1, CHUNK),  # across one chunk boundary
        (CHUNK, 2 * CHUNK - 1),  # exactly one chunk
        (100, 3 * CHUNK + 5),  # across three
        (len(data) - 10, len(data) - 1),  # in the short last chunk
    ]:
        assert await cache.read_all(entry, first, last) == data[first : last + 1], (first, last)
    pieces = [p async for p in cache.read(entry, 0, len(data) - 1)]
    assert len(pieces) == 1 and len(pieces[0]) == len(data)  # up to four chunks a trip
    stored = entry.path.read_bytes()
    assert data[:4096] not in stored and data[-4096:] not in stored  # sealed, not plain
    assert entry.path.stat().st_mode & 0o777 == 0o600
    await cache.close()
    assert not entry.path.exists()


async def test_bounded_by_bytes_least_recently_used_out_first(tmp_path: Path) -> None:
    cache = ClipCache(3 * CHUNK, tmp_path)
    a = await cache.put(key("a"), media(os.urandom(CHUNK)))
    b = await cache.put(key("b"), media(os.urandom(CHUNK)))
    assert a is not None and b is not None
    assert cache.get(key("a")) is a  # now b is the least recently used
    c = await cache.put(key("c"), media(os.urandom(2 * CHUNK)))
    assert c is not None
    await written(a, b, c)
    assert cache.get(key("b")) is None and not b.path.exists()
    assert cache.get(key("a")) is a and cache.get(key("c")) is c and cache.bytes == 3 * CHUNK
    # a clip bigger than the whole bound is not kept, and does not leave an older build of it behind
    assert await cache.put(key("a"), media(os.urandom(4 * CHUNK))) is None
    assert cache.get(key("a")) is None and not a.path.exists() and cache.bytes == 2 * CHUNK
    # a fresh build replaces the older one
    again = await cache.put(key("c"), media(b"x" * 10))
    assert again is not None
    await written(again)
    assert cache.get(key("c")) is again and not c.path.exists() and again.path.exists()
    assert cache.bytes == 10
    await cache.close()


async def test_a_damaged_or_missing_file_is_never_served(tmp_path: Path) -> None:
    cache = ClipCache(64 * CHUNK, tmp_path)
    data = os.urandom(2 * CHUNK)
    entry = await cache.put(key("a"), media(data))
    assert entry is not None
    await written(entry)
    raw = bytearray(entry.path.read_bytes())
    raw[len(raw) - 100] ^= 0x01
    entry.path.write_bytes(bytes(raw))
    assert await cache.read_all(entry, 0, 10) == data[:11]  # the first chunk is intact
    with pytest.raises(CacheDamaged):
        await cache.read_all(entry, CHUNK, CHUNK + 10)
    assert cache.get(key("a")) is None  # dropped
    other = await cache.put(key("b"), media(os.urandom(100)))
    assert other is not None
    await written(other)
    other.path.unlink()
    with pytest.raises(CacheDamaged):
        await cache.read_all(other, 0, 10)
    assert cache.get(key("b")) is None
    await cache.close()
