"""The HTTP kit every stage's endpoints are written with.

:class:`Endpoint` describes one operation (its handler, schemas and errors); each
stage keeps a table of them in its ``endpoints`` module, and ``server.endpoints``
joins the tables, registers them with aiohttp and feeds the OpenAPI document, so
the routes and the document cannot drift apart. The helpers read a request (the
caller, a whole size-limited body, the query) and write a response.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel

from server.errors import Unauthenticated
from server.http.problems import ApiError
from server.identity.access import Authenticator, IssuedToken, Principal

API = "/api/v1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

M = TypeVar("M", bound=BaseModel)

AUTH: web.AppKey[Authenticator] = web.AppKey("auth", Authenticator)

CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock", Callable[[], datetime])  # type: ignore[arg-type]

SETTINGS_MAX_BODY: web.AppKey[int] = web.AppKey("max_body", int)

SETTINGS_MAX_DOC: web.AppKey[int] = web.AppKey("max_doc", int)

BASE_URL: web.AppKey[str] = web.AppKey("base_url", str)


class RecordingVerdict(Protocol):
    """What an endpoint reads of one session's recording check (``recording.archive.Verdict``)."""

    @property
    def ok(self) -> bool:
        """Whether every segment and manifest checked out."""
        ...

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        ...


class RecordingVerifier(Protocol):
    """What endpoints below the recording layer use of the archive (``recording.archive.RecordingArchive``)."""

    async def verify(self, case_id: str, now: datetime, session_id: str | None = None) -> Sequence[RecordingVerdict]:
        """Check every recorded session of a case (or one)."""
        ...


class TranscriptionStatus(Protocol):
    """What the composition root and ``/health`` use of the live transcript's worker pool."""

    @property
    def available(self) -> bool:
        """Whether every worker loaded."""
        ...

    @property
    def engine(self) -> str:
        """The engine's label once loaded ('' before)."""
        ...

    async def start(self) -> None:
        """Start the workers (they load the model in the background)."""
        ...

    async def close(self) -> None:
        """Stop the workers."""
        ...


RECORDINGS: web.AppKey[RecordingVerifier] = web.AppKey("recordings", RecordingVerifier)
"""The recording archive, as the case's and the court's endpoints verify it."""

TRANSCRIBER: web.AppKey[TranscriptionStatus | None] = web.AppKey("transcriber", object)  # type: ignore[arg-type]
"""The live transcript's worker pool (None when the transcript is off)."""


@dataclass(frozen=True)
class Endpoint:
    """One API operation."""

    method: str
    """HTTP method."""
    path: str
    """Path under the server root."""
    handler: Handler
    """The aiohttp handler."""
    summary: str
    """One line for the OpenAPI document."""
    operation_id: str
    """Stable operation name."""
    response: type[BaseModel] | None
    """Schema of a successful response body (None: no JSON body)."""
    status: int = 200
    """Status of success."""
    body: type[BaseModel] | None = None
    """Schema of the JSON request body."""
    query: type[BaseModel] | None = None
    """Schema of the query string."""
    auth: bool = True
    """Whether a bearer token is required."""
    errors: tuple[int, ...] = ()
    """Problem statuses this operation can answer with (the OpenAPI document adds 400/413/415/500,
    401 where a token is required, and 408/422 where a body or a query is read)."""
    raw_body: str | tuple[str, ...] | None = None
    """Media type(s) of a raw (non-JSON) request body: exactly those the handler accepts."""
    raw_response: str | tuple[str, ...] | None = None
    """Media type(s) of a raw response body (several: the stored document's own type)."""
    tags: tuple[str, ...] = field(default_factory=tuple)
    """OpenAPI tags."""


def now(request: web.Request) -> datetime:
    """The request's clock (injectable for tests)."""
    return request.app[CLOCK]()


async def principal(request: web.Request, *, service_link: bool = False) -> Principal:
    """The authenticated caller, from ``Authorization: Bearer …`` (a service link only where asked for)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send a token: Authorization: Bearer <token>")
    return await request.app[AUTH].authenticate(token.strip(), now(request), service_link=service_link)


async def body(request: web.Request, model: type[M], limit: int | None = None) -> M:
    """Read and validate a JSON body (the whole body, size-limited, JSON media type only).

    ``limit`` raises the default cap (``max_body_bytes``) for the few bodies that carry more
    (the handwritten mark of a signature).
    """
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json")
    raw = await read_all(request, limit or request.app[SETTINGS_MAX_BODY])
    return model.model_validate_json(raw or b"null")


BODY_IDLE_TIMEOUT = 30.0
"""Seconds a request body may stall between two pieces before the request is refused (408)."""

_CHUNK = 64 * 1024


async def read_all(request: web.Request, limit: int) -> bytes:
    """The whole request body, however many pieces it arrives in; 413 past ``limit`` bytes.

    ``StreamReader.read(n)`` returns only what is already buffered, so one call cut bodies
    from slow phones short. This reads until the end of the body; a body that stalls for
    :data:`BODY_IDLE_TIMEOUT` seconds is refused with 408 rather than holding a handler.
    """
    too_large = ApiError(413, "payload_too_large", f"The body is larger than {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    data = bytearray()
    while True:
        try:
            async with asyncio.timeout(BODY_IDLE_TIMEOUT):
                chunk = await request.content.read(min(_CHUNK, limit + 1 - len(data)))
        except TimeoutError:
            raise ApiError(408, "request_timeout", "The body stopped arriving; send it again") from None
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise too_large
    if request.content_length is not None and len(data) != request.content_length:
        raise ApiError(400, "bad_request", "The body ended before its Content-Length")
    return bytes(data)


def query(request: web.Request, model: type[M]) -> M:
    """Validate the query string; repeated keys become lists."""
    data: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        list_field = key in model.model_fields and "list" in str(model.model_fields[key].annotation)
        data[key] = values if list_field else values[-1]
    return model.model_validate(data)


async def raw_body(request: web.Request, limit: int) -> bytes:
    """A non-JSON body (a document, a timestamp query): the whole of it, at most ``limit`` bytes, not empty."""
    data = await read_all(request, limit)
    if not data:
        raise ApiError(422, "validation_failed", "The body is empty")
    return data


def expected_version(request: web.Request) -> int | None:
    """The client's If-Match version, if sent."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 9:
        raise ApiError(400, "bad_request", 'If-Match must be a case version, e.g. "3"')
    return int(text)


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response that caches nothing."""
    h = {"Cache-Control": "no-store"}
    h.update(headers or {})
    return web.Response(
        status=status, text=json.dumps(data, ensure_ascii=False), content_type="application/json", headers=h
    )


def stored_file(data: bytes, media_type: str, sha256: str, disposition: str = "attachment") -> web.Response:
    """A stored file's bytes as a download: not cached, its SHA-256 as ETag and ``X-Content-SHA256``."""
    headers = {
        "Cache-Control": "no-store",
        "ETag": f'"{sha256}"',
        "Content-Disposition": disposition,
        "X-Content-SHA256": sha256,
    }
    return web.Response(body=data, content_type=media_type, headers=headers)


def case_id(request: web.Request) -> str:
    """The ``{case_id}`` path segment (any text: unknown ids are simply not found)."""
    return request.match_info["case_id"]


def link_out(request: web.Request, issued: IssuedToken) -> dict[str, Any]:
    """A join link: the token rides in the fragment, so it never reaches server logs or Referer."""
    return {
        "join_url": f"{request.app[BASE_URL]}/join#token={issued.token}",
        "token": issued.token,
        "expires_at": issued.expires_at.isoformat(),
    }


_CASE = f"{API}/cases/{{case_id}}"
