"""A scene photo is checked from its bytes: real JPEG, PNG or HEIC, within the size and pixel limits, readable to
the end; the header alone refuses a decompression bomb."""

from __future__ import annotations

import asyncio
import io
import struct

import pytest
from PIL import Image

from server.errors import ImageTooLarge, NotAnImage
from server.scene import images
from tests.builders import png_claiming


def picture(fmt: str, size: tuple[int, int] = (640, 480)) -> bytes:
    img = Image.new("RGB", size, (30, 120, 200))
    for x in range(0, size[0], 7):
        img.putpixel((x, x % size[1]), (250, 10, 10))
    out = io.BytesIO()
    img.save(out, format=fmt, quality=85) if fmt == "JPEG" else img.save(out, format=fmt)
    return out.getvalue()


def heic(width: int, height: int, brand: bytes = b"heic") -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftyp" + brand + b"\0\0\0\0" + brand + brand
    ispe = struct.pack(">I", 20) + b"ispe" + b"\0\0\0\0" + struct.pack(">II", width, height)
    meta = struct.pack(">I", 8 + len(ispe)) + b"meta" + ispe
    return ftyp + meta + b"\0" * 64


def test_a_real_jpeg_and_png_pass_with_their_dimensions() -> None:
    assert images.check_photo(picture("JPEG")) == images.PhotoFacts("image/jpeg", 640, 480)
    assert images.check_photo(picture("PNG", (400, 800))) == images.PhotoFacts("image/png", 400, 800)


def test_heic_is_known_by_its_brand_and_sized_by_its_ispe() -> None:
    assert images.check_photo(heic(4032, 3024)) == images.PhotoFacts("image/heic", 4032, 3024)
    assert images.check_photo(heic(1600, 1200, b"mif1")).media_type == "image/heic"
    with pytest.raises(NotAnImage):
        images.check_photo(heic(1600, 1200, b"avif"))  # another brand: not HEIC
    with pytest.raises(ImageTooLarge):
        images.check_photo(heic(12000, 9000))


def test_a_text_file_named_jpg_is_not_an_image() -> None:
    with pytest.raises(NotAnImage):
        images.check_photo("这不是照片 not a photo\n".encode() * 40)
    with pytest.raises(NotAnImage):
        images.check_photo(b"")


def test_a_truncated_jpeg_is_refused_when_decoded() -> None:
    whole = picture("JPEG", (1200, 900))
    assert images.header_facts(whole[: len(whole) // 2]).width == 1200  # the header is intact
    with pytest.raises(NotAnImage):
        images.check_photo(whole[: len(whole) // 2])


def test_a_10000_by_10000_png_is_refused_from_its_header_before_any_decoder() -> None:
    bomb = png_claiming(10000, 10000)
    assert len(bomb) < 200
    with pytest.raises(ImageTooLarge, match="10000×10000"):
        images.header_facts(bomb)
    with pytest.raises(ImageTooLarge):
        images.check_photo(bomb)


def test_24_megapixels_pass_the_header_and_one_more_row_does_not() -> None:
    assert images.header_facts(png_claiming(6000, 4000)).height == 4000
    with pytest.raises(ImageTooLarge):
        images.header_facts(png_claiming(6000, 4001))


def test_too_small_and_too_heavy_are_refused() -> None:
    with pytest.raises(ImageTooLarge, match="at least 320"):
        images.check_photo(picture("PNG", (319, 600)))
    with pytest.raises(ImageTooLarge):
        images.check_photo(picture("JPEG")[:3] + b"\0" * images.MAX_PHOTO_BYTES)


def test_the_check_runs_in_a_worker_thread() -> None:
    facts = asyncio.run(images.inspect_photo(picture("JPEG")))
    assert facts.media_type == "image/jpeg"
