"""Court documents as page images, for reading on a phone.

Phone browsers do not show PDFs inline (Android's Chrome downloads them), and a
JavaScript PDF viewer is megabytes a cheap phone must parse. So the server draws
each page with PDFium (``pypdfium2``) into a small palette PNG, at the width the
page asks for.

Only documents the platform made itself are drawn (:data:`RENDERED_KINDS`):
PDFium is C code, and an uploaded file is never handed to it. Images are cached
by the document's SHA-256, page and width (documents are immutable).
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from server.errors import InvalidCommand, NotFound

RENDERED_KINDS = frozenset(
    {
        "agreement_draft",
        "agreement_signing",
        "signing_certificate",
        "mediation_record",
        "proof_of_service",
        "ruling",
    }
)
"""Document kinds the platform renders itself (never an upload)."""
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 240, 1600, 720
COLOURS = 64
"""Palette size: text, table rules and a signer's ink fit in 64 colours."""


PDFIUM = threading.Lock()
"""PDFium is not thread-safe, not even across documents: every call into it holds this lock. Pages are
drawn in worker threads (a phone asks for several pages at once); two at a time once crashed the whole
server process (``int3`` in libpdfium.so, a Chromium test beside stress-ng)."""


T = TypeVar("T")

DRAWING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pdf-pages")
"""The threads pages are drawn in: their own, so that a phone waiting for the page it reads never queues behind
the shared pool's long work (sealing recording segments, waiting for a speech worker to start, rendering whole
documents). PDFium takes one at a time anyway (:data:`PDFIUM`); the second thread serves the cache's misses of
another document's layout meanwhile."""


async def drawn(call: Callable[..., T], *args: Any) -> T:
    """``call(*args)`` in a :data:`DRAWING` thread."""
    return await asyncio.get_running_loop().run_in_executor(DRAWING, call, *args)


class PageImages:
    """Draws pages of platform PDFs; a bounded LRU cache of the images (thread-safe)."""

    def __init__(self, capacity: int = 96) -> None:
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._layouts: dict[str, list[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def cached_layout(self, sha256: str) -> list[tuple[float, float]] | None:
        """The page sizes if this document was read before (no need to fetch its bytes)."""
        with self._lock:
            return self._layouts.get(sha256)

    def cached_png(self, sha256: str, page: int, width: int) -> bytes | None:
        """The image if this page was drawn at this width before (no need to fetch the document)."""
        with self._lock:
            image = self._cache.get((sha256, page, width))
            if image is not None:
                self._cache.move_to_end((sha256, page, width))
            return image

    def layout(self, sha256: str, pdf: bytes) -> list[tuple[float, float]]:
        """Each page's size in points (width, height)."""
        with self._lock:
            if sha256 in self._layouts:
                return self._layouts[sha256]
        import pypdfium2 as pdfium

        with PDFIUM:
            try:
                document = pdfium.PdfDocument(pdf)
            except pdfium.PdfiumError as exc:
                raise InvalidCommand("This document cannot be shown as pages; download it") from exc
            try:
                sizes = [document.get_page_size(i) for i in range(len(document))]
            finally:
                document.close()
        with self._lock:
            self._layouts[sha256] = sizes
            while len(self._layouts) > self.capacity:
                self._layouts.pop(next(iter(self._layouts)))
        return sizes

    def png(self, sha256: str, pdf: bytes, page: int, width: int) -> bytes:
        """Page ``page`` (1-based) drawn ``width`` pixels wide, as a palette PNG."""
        if not MIN_WIDTH <= width <= MAX_WIDTH:
            raise InvalidCommand(f"The width must be {MIN_WIDTH} to {MAX_WIDTH} pixels")
        pages = len(self.layout(sha256, pdf))
        if not 1 <= page <= pages:
            raise NotFound(f"The document has {pages} pages")
        key = (sha256, page, width)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            image = _draw(pdf, page - 1, width)
        except pdfium_error() as exc:
            raise InvalidCommand("This page cannot be drawn; download the document") from exc
        with self._lock:
            self._cache[key] = image
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return image


def pdfium_error() -> type[Exception]:
    """PDFium's error type (imported late: PDFium loads only when a page is first drawn)."""
    import pypdfium2 as pdfium

    error: type[Exception] = pdfium.PdfiumError
    return error


def _draw(pdf: bytes, index: int, width: int) -> bytes:
    import pypdfium2 as pdfium
    from PIL import Image

    with PDFIUM:
        document = pdfium.PdfDocument(pdf)
        try:
            document.init_forms()  # signature fields' appearances (the handwritten marks) are drawn too
            page = document[index]
            scale = width / page.get_width()
            bitmap = page.render(scale=scale, may_draw_forms=True)
            image: Image.Image = bitmap.to_pil().convert("RGB")
            bitmap.close()
            page.close()
        finally:
            document.close()
    if image.width > width:  # PDFium rounds the page's edge up by a pixel
        image = image.crop((0, 0, width, image.height))
    out = io.BytesIO()
    image.quantize(COLOURS, method=Image.Quantize.MEDIANCUT).save(out, "PNG")
    return out.getvalue()
