"""The OpenAPI 3.1 document, generated from the endpoint table and the pydantic schemas."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from server import __version__
from server.http import schemas as s
from server.http.kit import Endpoint

_PARAM = re.compile(r"{([a-z_]+)}")
_REF = "#/components/schemas/{model}"
_ALWAYS = (400, 413, 415, 500)
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_RAW_BODY = {"schema": {"type": "string", "format": "binary", "minLength": 1}}
_RETRY_AFTER = {
    "description": "Seconds until a new try can succeed, where the server knows (one-time signing codes)",
    "schema": {"type": "integer", "minimum": 1},
}

CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufff9-\ufffb"
"""The characters no request text may carry (a regular-expression class body): NUL, the other C0 and
C1 controls but tab and line breaks, the Unicode line and paragraph separators, the byte-order mark
and the interlinear annotation marks. ``test_openapi`` holds this to what the server refuses."""
PLAIN_TEXT = f"^[^{CONTROLS}]*$"
"""The pattern of request text without a pattern of its own."""
PLAIN_NOT_BLANK = f"^[^{CONTROLS}]*[^\\s{CONTROLS}][^{CONTROLS}]*$"
"""The pattern of request text that must not be blank (:data:`server.http.schemas.NOT_BLANK`)."""


def plain_text(schema: Any) -> Any:
    """Document, on a request schema, that its text carries no control characters (in place)."""
    if isinstance(schema, list):
        for item in schema:
            plain_text(item)
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "string" and not {"format", "enum", "const"} & set(schema):
        pattern = schema.get("pattern")
        if pattern is None:
            schema["pattern"] = PLAIN_TEXT
        elif pattern == s.NOT_BLANK:
            schema["pattern"] = PLAIN_NOT_BLANK
        elif "[^" in pattern:  # a negated class lets controls through: both must hold
            schema["allOf"] = [{"pattern": PLAIN_TEXT}]
    for key in ("properties", "$defs"):
        for sub in schema.get(key, {}).values():
            plain_text(sub)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems"):
        if key in schema:
            plain_text(schema[key])
    return schema


def media_types(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    """An endpoint's raw media type(s) as a tuple (empty: none)."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def statuses(ep: Endpoint) -> list[int]:
    """Every problem status ``ep`` can answer with: its own, the transport's, and those its inputs imply.

    A token can be refused (401); a body can stall (408); a body or a query can fail its schema (422).
    """
    out = set(ep.errors) | set(_ALWAYS)
    if ep.auth:
        out.add(401)
    if ep.body is not None or ep.raw_body is not None:
        out |= {408, 422}
    if ep.query is not None:
        out.add(422)
    return sorted(out)


def _schema(model: type[BaseModel], components: dict[str, Any], *, request: bool = False) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    if request:
        plain_text(schema)
    for name, sub in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
        known = components.get(name)
        if known is not None and set(known.get("properties", {})) != set(sub.get("properties", {})):
            # two different models of one name: the document would describe one of them under both
            raise ValueError(f'Two schemas are named "{name}" in the API; rename one of them')
        if request or known is None:  # a request's stricter form wins over a response's
            components[name] = sub
    return {"$ref": _REF.format(model=model.__name__)}


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = plain_text(model.model_json_schema(ref_template=_REF))
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        out.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
                **({"explode": True, "style": "form"} if prop.get("type") == "array" else {}),
            }
        )
    return out


def document(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """Build the OpenAPI document for ``endpoints``."""
    components: dict[str, Any] = {}
    problem_ref = _schema(s.Problem, components)
    paths: dict[str, Any] = {}
    for ep in endpoints:
        op: dict[str, Any] = {"operationId": ep.operation_id, "summary": ep.summary, "tags": list(ep.tags)}
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(ep.path)
        ]
        if ep.query is not None:
            params.extend(_query_params(ep.query))
        if params:
            op["parameters"] = params
        if ep.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(ep.body, components, request=True)}},
            }
        elif ep.raw_body is not None:
            op["requestBody"] = {"required": True, "content": {mt: _RAW_BODY for mt in media_types(ep.raw_body)}}
        responses: dict[str, Any] = {}
        ok: dict[str, Any] = {"description": "Success"}
        if ep.response is not None:
            ok["content"] = {"application/json": {"schema": _schema(ep.response, components)}}
        elif ep.raw_response is not None:
            ok["content"] = {mt: _BINARY for mt in media_types(ep.raw_response)}
        responses[str(ep.status)] = ok
        for status in statuses(ep):
            responses[str(status)] = {
                "description": "Problem",
                "content": {"application/problem+json": {"schema": problem_ref}},
            }
            if status == 429:
                responses["429"]["headers"] = {"Retry-After": _RETRY_AFTER}
        op["responses"] = responses
        if ep.auth:
            op["security"] = [{"bearer": []}]
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Court-connected online mediation API",
            "version": __version__,
            "description": "Cases, participants, sessions, documents and the audit trail. "
            "Errors are application/problem+json with a stable `code`.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
