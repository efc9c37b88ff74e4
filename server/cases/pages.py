"""Endpoints that show a platform PDF as page images (the phone's reader; see ``server.documents.pages``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import ConfigDict, Field

from server.cases.endpoints import SERVICE
from server.documents.pages import DEFAULT_WIDTH, MAX_WIDTH, MIN_WIDTH, RENDERED_KINDS, PageImages, drawn
from server.errors import InvalidCommand, NotFound
from server.http import schemas as s
from server.http.kit import _CASE, Endpoint, case_id, principal, query, respond
from server.store.repository import DocumentRecord

PAGES: web.AppKey[PageImages] = web.AppKey("pages", PageImages)


class PageQuery(s.Strict):
    """How wide to draw the page, in device pixels."""

    model_config = ConfigDict(extra="forbid", strict=False)
    width: int = Field(default=DEFAULT_WIDTH, ge=MIN_WIDTH, le=MAX_WIDTH)


class PagesView(s.Open):
    """A document's pages and their sizes in points."""

    document_id: str
    sha256: str
    pages: list[dict[str, float]]


def require_drawable(doc: DocumentRecord) -> None:
    """Only PDFs the platform made are handed to PDFium."""
    if doc.kind not in RENDERED_KINDS or doc.media_type != "application/pdf":
        raise InvalidCommand("Only documents the platform made can be shown as pages; download this one")


Loader = Callable[[], Awaitable[bytes]]
"""Fetches the document's bytes: only called when its pages are not cached yet."""


async def layout_response(request: web.Request, doc: DocumentRecord, load: Loader) -> web.Response:
    """The document's pages and their sizes."""
    require_drawable(doc)
    images = request.app[PAGES]
    sizes = images.cached_layout(doc.sha256)
    if sizes is None:
        sizes = await drawn(images.layout, doc.sha256, await load())
    listed = [{"number": i + 1, "width_pt": round(w, 2), "height_pt": round(h, 2)} for i, (w, h) in enumerate(sizes)]
    return respond({"document_id": doc.id, "sha256": doc.sha256, "pages": listed})


async def page_response(request: web.Request, doc: DocumentRecord, load: Loader) -> web.Response:
    """One page as a PNG, as wide as the query asks."""
    raw = request.match_info["page"]
    if not raw.isdigit() or len(raw) > 4:
        raise NotFound("No such page")
    width = query(request, PageQuery).width
    require_drawable(doc)
    images = request.app[PAGES]
    image = images.cached_png(doc.sha256, int(raw), width)
    if image is None:
        image = await drawn(images.png, doc.sha256, await load(), int(raw), width)
    return web.Response(
        body=image,
        content_type="image/png",
        headers={"Cache-Control": "private, max-age=3600", "ETag": f'"{doc.sha256[:32]}-{raw}-{width}"'},
    )


async def _document(request: web.Request) -> tuple[DocumentRecord, Loader]:
    who = await principal(request)
    service = request.app[SERVICE]
    doc = await service.document(who, case_id(request), request.match_info["document_id"])
    return doc, lambda: service.blobs.get(doc.sha256)


async def pages(request: web.Request) -> web.Response:
    return await layout_response(request, *await _document(request))


async def page(request: web.Request) -> web.Response:
    return await page_response(request, *await _document(request))


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        f"{_CASE}/documents/{{document_id}}/pages",
        pages,
        "The pages of a document the platform made (agreement, record, certificate): count and sizes",
        "readDocumentPages",
        PagesView,
        errors=(401, 403, 404, 422),
        tags=("documents",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/documents/{{document_id}}/pages/{{page}}",
        page,
        f"One page drawn as a PNG, `width` {MIN_WIDTH}-{MAX_WIDTH} pixels (for phones, which do not show PDFs)",
        "readDocumentPage",
        None,
        query=PageQuery,
        raw_response="image/png",
        errors=(401, 403, 404, 422),
        tags=("documents",),
    ),
)
