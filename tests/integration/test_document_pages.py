"""Platform PDFs as page images for phones, over real HTTP on SQLite and PostgreSQL: the layout,
each page drawn by PDFium at the asked width, and who may see what."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.builders import TERMS, between_sessions, case_with_parties
from tests.conftest import Api

pytestmark = pytest.mark.asyncio


async def test_a_draft_is_read_page_by_page(api: Api) -> None:
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    status, draft, _ = await api.call("POST", f"{base}/agreement/drafts", c["mediator"], json=TERMS)
    assert status == 201, draft
    doc = draft["document"]["id"]

    status, layout, _ = await api.call("GET", f"{base}/documents/{doc}/pages", c["applicant"])
    assert status == 200, layout
    assert layout["sha256"] == draft["document"]["sha256"] and len(layout["pages"]) >= 1
    assert {(round(p["width_pt"]), round(p["height_pt"])) for p in layout["pages"]} == {(595, 842)}  # A4

    status, png, resp = await api.call("GET", f"{base}/documents/{doc}/pages/1?width=480", c["respondent"])
    assert status == 200 and resp.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(png))
    assert image.width == 480 and abs(image.height - 480 * 842 / 595) <= 1, image.size
    # the page has text on it: a good share of dark pixels in the top half (title, parties)
    grey = image.convert("L")
    dark = sum(grey.crop((0, 0, 480, 340)).histogram()[:128])
    assert dark > 2000, dark
    assert resp.headers["Cache-Control"].startswith("private")

    last = len(layout["pages"])
    status, body, _ = await api.call("GET", f"{base}/documents/{doc}/pages/{last + 1}", c["applicant"])
    assert (status, body["code"]) == (404, "not_found")
    status, body, _ = await api.call("GET", f"{base}/documents/{doc}/pages/1?width=5000", c["applicant"])
    assert status == 422 and body["code"] == "validation_failed"
    status, body, _ = await api.call("GET", f"{base}/documents/{doc}/pages/x1", c["applicant"])
    assert status == 404
    status, body, _ = await api.call("GET", f"{base}/documents/{doc}/pages/1")
    assert status == 401


async def test_uploads_are_never_drawn_and_other_cases_see_nothing(api: Api) -> None:
    c = await between_sessions(api)
    base = f"/api/v1/cases/{c['case_id']}"
    status, draft, _ = await api.call("POST", f"{base}/agreement/drafts", c["mediator"], json=TERMS)
    assert status == 201
    # an uploaded PDF is not handed to PDFium (it is C code; uploads are untrusted)
    upload = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    status, uploaded, _ = await api.call(
        "POST",
        f"{base}/documents?kind=evidence&title=scan&visibility=parties",
        c["mediator"],
        data=upload,
        headers={"Content-Type": "application/pdf"},
    )
    assert status == 201, uploaded
    status, body, _ = await api.call("GET", f"{base}/documents/{uploaded['id']}/pages", c["applicant"])
    assert status == 422 and "made" in body["detail"]
    # a party of another case cannot read this case's pages
    other = await case_with_parties(api)
    doc = draft["document"]["id"]
    status, body, _ = await api.call("GET", f"{base}/documents/{doc}/pages/1", other["applicant"])
    assert status in (403, 404), body
