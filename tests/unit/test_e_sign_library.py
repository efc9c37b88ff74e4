"""e_sign is a library: its errors are its own, the server's edge answers them as before, and the face it
finds for a signature's appearance is the documents' face the server passes in."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from e_sign import CAError, ESignError, SigningRefused, TimestampError
from e_sign.pades import default_font
from server.documents.fonts import find_fonts, signature_font
from server.errors import MediationError
from server.http.problems import PROBLEM_TYPE, problem_middleware

ANSWERS = [
    (SigningRefused('The signature field "Signature_p1" is already signed'), 409, "signing_refused"),
    (TimestampError("The signature time-stamp could not be obtained: refused"), 502, "timestamp_failed"),
    (CAError("The CA key does not belong to the CA certificate"), 500, "ca_error"),
    (ESignError("No CJK font for the signature appearance"), 500, "e_sign_error"),
]


def test_the_errors_are_the_librarys_own() -> None:
    for exc, _status, _code in ANSWERS:
        assert isinstance(exc, ESignError) and not isinstance(exc, MediationError)


@pytest.mark.asyncio
async def test_the_edge_answers_each_signing_error_with_its_problem() -> None:
    raised = {code: exc for exc, _status, code in ANSWERS}

    async def fail(request: web.Request) -> web.Response:
        raise raised[request.match_info["code"]]

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_get("/{code}", fail)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            for exc, status, code in ANSWERS:
                async with session.get(server.make_url(f"/{code}")) as response:
                    body = await response.json(content_type=None)
                    assert response.status == status
                    assert response.content_type == PROBLEM_TYPE
                    assert body["code"] == code and body["status"] == status and body["detail"] == str(exc)
    finally:
        await server.close()


def test_the_library_finds_the_face_the_server_passes_in() -> None:
    path, index = signature_font()
    assert default_font() == (str(path), index) == (str(find_fonts().regular.path), find_fonts().regular.index)


def test_without_a_font_the_library_says_so(tmp_path: Path) -> None:
    with pytest.raises(ESignError, match="No CJK font for the signature appearance"):
        default_font((tmp_path / "absent.ttc",))
