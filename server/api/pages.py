"""Endpoints that show a platform PDF as page images (the phone's reader; see ``server.documents.pages``)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import ConfigDict, Field

from server.api import schemas as s
from server.api.routes import _CASE, SERVICE, Endpoint, case_id, principal, query, respond
from server.documents.pages import DEFAULT_WIDTH, MAX_WIDTH, MIN_WIDTH, RENDERED_KINDS, PageImages
from server.errors import InvalidCommand, NotFound
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


async def layout_response(request: web.Request, doc: DocumentRecord, data: bytes) -> web.Response:
    """The document's pages and their sizes."""
    require_drawable(doc)
    sizes = await asyncio.to_thread(request.app[PAGES].layout, doc.sha256, data)
    listed = [{"number": i + 1, "width_pt": round(w, 2), "height_pt": round(h, 2)} for i, (w, h) in enumerate(sizes)]
    return respond({"document_id": doc.id, "sha256": doc.sha256, "pages": listed})


async def page_response(request: web.Request, doc: DocumentRecord, data: bytes) -> web.Response:
    """One page as a PNG, as wide as the query asks."""
    raw = request.match_info["page"]
    if not raw.isdigit() or len(raw) > 4:
        raise NotFound("No such page")
    width = query(request, PageQuery).width
    require_drawable(doc)
    image = await asyncio.to_thread(request.app[PAGES].png, doc.sha256, data, int(raw), width)
    return web.Response(
        body=image,
        content_type="image/png",
        headers={"Cache-Control": "private, max-age=3600", "ETag": f'"{doc.sha256[:32]}-{raw}-{width}"'},
    )


async def _document(request: web.Request) -> tuple[DocumentRecord, bytes]:
    who = await principal(request)
    return await request.app[SERVICE].read_document(who, case_id(request), request.match_info["document_id"])


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
