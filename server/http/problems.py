"""Every error becomes an ``application/problem+json`` response (RFC 9457), here and only here.

The body is ``{"type", "title", "status", "detail", "code"}`` (plus
``"errors"`` for validation failures); ``code`` is stable and documented in
``docs/design.md``. No stack trace or input value is ever echoed back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from e_sign.errors import CAError, ESignError, SigningRefused, TimestampError
from server.errors import MediationError

logger = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "https://mediation.invalid/problems/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


E_SIGN_PROBLEMS: dict[type[ESignError], tuple[int, str]] = {
    SigningRefused: (409, "signing_refused"),
    TimestampError: (502, "timestamp_failed"),
    CAError: (500, "ca_error"),
    ESignError: (500, "e_sign_error"),
}
"""The signing library's errors as problems (status, code); it knows nothing of HTTP."""


def e_sign_problem(exc: ESignError) -> tuple[int, str]:
    """The (status, code) of a signing library error: its nearest class in :data:`E_SIGN_PROBLEMS`."""
    return next(E_SIGN_PROBLEMS[c] for c in type(exc).__mro__ if c in E_SIGN_PROBLEMS)


class ApiError(Exception):
    """An HTTP-level problem raised by the API edge itself (not by the domain)."""

    def __init__(self, status: int, code: str, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors


def problem(status: int, code: str, detail: str, errors: list[dict[str, Any]] | None = None) -> web.Response:
    """Build a problem response."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type=PROBLEM_TYPE,
        headers={"Cache-Control": "no-store"},
    )


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors without the offending input values (they may be personal data)."""
    out = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        out.append({"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"], "type": err["type"]})
    return out


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure of a handler to a problem response."""
    try:
        return await handler(request)
    except ApiError as exc:
        return problem(exc.status, exc.code, exc.detail, exc.errors)
    except MediationError as exc:
        if exc.status >= 500:
            logger.error("%s on %s %s: %s", type(exc).__name__, request.method, request.path, exc)
        response = problem(exc.status, exc.code, str(exc))
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:  # a 429 says when to try again (RFC 9110 §10.2.3)
            response.headers["Retry-After"] = str(max(1, retry_after))
        return response
    except ESignError as exc:
        status, code = e_sign_problem(exc)
        if status >= 500:
            logger.error("%s on %s %s: %s", type(exc).__name__, request.method, request.path, exc)
        return problem(status, code, str(exc))
    except ValidationError as exc:
        errors = validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem(400, "malformed_json", "The request body is not valid JSON")
        return problem(422, "validation_failed", "The request does not match the schema", errors)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, title = _HTTP_CODES.get(exc.status, ("http_error", exc.reason))
        response = problem(exc.status, code, title)
        if "Allow" in exc.headers:  # a 405 names the methods the resource has (RFC 9110 §15.5.6)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "internal_error", "Internal server error")
