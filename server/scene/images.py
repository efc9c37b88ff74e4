"""A scene photo's checks, from its bytes alone: what the upload's name or media type says counts for nothing.

Only a real JPEG, PNG or HEIC image is taken::

    bytes ──magic──▶ JPEG (FF D8 FF) │ PNG (89 50 4E 47 0D 0A 1A 0A) │ HEIC (ISO-BMFF ``ftyp``: heic/heix/mif1)
          ──header─▶ width × height, read by this module from the header (JPEG: the SOFn segment; PNG: IHDR;
                     HEIC: the ``ispe`` property), BEFORE any decoder runs: a 100-megapixel image is refused here
          ──decode─▶ JPEG and PNG: Pillow opens AND decodes the whole image (a truncated file fails here),
                     in a worker thread (:func:`inspect_photo`); HEIC: the box structure only (no decoder is
                     installed; the officer's browser shows it)

Limits: :data:`MAX_PHOTO_BYTES` (the endpoint reads no more), :data:`MAX_PIXELS`, :data:`MIN_SIDE` on each side.
``Image.MAX_IMAGE_PIXELS`` alone would not do: Pillow reads the header and warns, or refuses, only past twice its
limit, and a decompression bomb's header is all it takes to know.

Refusals: :class:`~server.errors.NotAnImage` (``not_an_image``) and :class:`~server.errors.ImageTooLarge`
(``image_size_refused``), both 422. Pure but for Pillow: no I/O.
"""

from __future__ import annotations

import asyncio
import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from server.errors import ImageTooLarge, NotAnImage

MAX_PHOTO_BYTES = 8 * 1024 * 1024
"""The most one photo may weigh (the phone sends a downscaled JPEG of a few hundred KiB)."""
MAX_PIXELS = 24_000_000
"""The most pixels one photo may have (24 megapixels: any phone camera's original)."""
MIN_SIDE = 320
"""The fewest pixels on each side: smaller shows the officer nothing."""

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"mif1"})
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
"""JPEG start-of-frame markers (they carry the dimensions); C4, C8 and CC are other segments."""


@dataclass(frozen=True)
class PhotoFacts:
    """What the bytes show."""

    media_type: str
    """``image/jpeg``, ``image/png`` or ``image/heic``."""
    width: int
    height: int


def sniff(data: bytes) -> str:
    """The media type the magic bytes show; NotAnImage for anything else."""
    if data.startswith(_JPEG):
        return "image/jpeg"
    if data.startswith(_PNG):
        return "image/png"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        size = struct.unpack(">I", data[:4])[0]
        if 16 <= size <= min(len(data), 4096):
            brands = {data[8:12]} | {data[i : i + 4] for i in range(16, size - 3, 4)}
            if brands & _HEIF_BRANDS:
                return "image/heic"
    raise NotAnImage("The photo is not a JPEG, PNG or HEIC image")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if length < 2:
            break
        if marker in _SOF:
            if i + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if marker == 0xDA:  # the scan began before any frame header
            break
        i += 2 + length
    raise NotAnImage("The JPEG has no readable frame header")


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise NotAnImage("The PNG has no readable header")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _heic_size(data: bytes) -> tuple[int, int]:
    """The largest ``ispe`` (image spatial extents) property in the file's first MiB: the primary image's."""
    found: list[tuple[int, int]] = []
    start = 0
    head = data[: 1024 * 1024]
    while (at := head.find(b"ispe", start)) >= 4 and at + 16 <= len(head):
        box_size = struct.unpack(">I", head[at - 4 : at])[0]
        if box_size == 20:
            found.append(struct.unpack(">II", head[at + 8 : at + 16]))
        start = at + 4
    if not found:
        raise NotAnImage("The HEIC image has no readable size")
    return max(found, key=lambda wh: wh[0] * wh[1])


def header_facts(data: bytes) -> PhotoFacts:
    """Media type and dimensions from the header alone, with the pixel limits checked; no decoder runs."""
    media_type = sniff(data)
    reader = {"image/jpeg": _jpeg_size, "image/png": _png_size, "image/heic": _heic_size}[media_type]
    width, height = reader(data)
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(f"The photo has {width}×{height} pixels; at most {MAX_PIXELS // 1_000_000} megapixels")
    if min(width, height) < MIN_SIDE:
        raise ImageTooLarge(f"The photo has {width}×{height} pixels; at least {MIN_SIDE} on each side")
    return PhotoFacts(media_type, width, height)


def _decode(data: bytes, facts: PhotoFacts) -> None:
    """Decode the whole image with Pillow (JPEG and PNG); NotAnImage if it cannot, or if it disagrees with the
    header."""
    fmt = {"image/jpeg": "JPEG", "image/png": "PNG"}[facts.media_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as img:
                if img.size != (facts.width, facts.height):
                    raise NotAnImage("The image's header and its frame disagree")
                img.load()
    except NotAnImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage("The photo cannot be read as an image (damaged or cut short)") from exc
    except Image.DecompressionBombWarning as exc:
        raise ImageTooLarge("The photo has too many pixels") from exc


def check_photo(data: bytes) -> PhotoFacts:
    """Every check, in the calling thread: magic bytes, size, header dimensions, then the decoder."""
    if not data:
        raise NotAnImage("The photo is empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise ImageTooLarge(f"The photo weighs more than {MAX_PHOTO_BYTES // (1024 * 1024)} MiB")
    facts = header_facts(data)
    if facts.media_type != "image/heic":
        _decode(data, facts)
    return facts


async def inspect_photo(data: bytes) -> PhotoFacts:
    """:func:`check_photo` in a worker thread (decoding a 24-megapixel JPEG takes a while)."""
    return await asyncio.to_thread(check_photo, data)
