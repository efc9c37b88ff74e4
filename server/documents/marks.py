"""The handwritten mark a signer draws on the phone, as the agreement's and the accident finding's signing take it."""

from __future__ import annotations

import base64
import binascii
import io

from server.errors import InvalidCommand

MAX_MARK_BYTES = 256 * 1024


def read_mark(mark_b64: str) -> bytes:
    """The handwritten mark: a PNG (base64), at most 256 KiB, that Pillow reads; InvalidCommand if not."""
    try:
        data = base64.b64decode(mark_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCommand("The mark must be a base64 PNG") from exc
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) > MAX_MARK_BYTES:
        raise InvalidCommand(f"The mark must be a PNG of at most {MAX_MARK_BYTES // 1024} KiB")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for broken images
        raise InvalidCommand("The mark is not a readable PNG") from exc
    return data
