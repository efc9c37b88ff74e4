"""The OpenAPI 3.1 document, generated from the endpoint table and the pydantic schemas."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from server import __version__
from server.api import schemas as s
from server.api.routes import Endpoint

_PARAM = re.compile(r"{([a-z_]+)}")
_REF = "#/components/schemas/{model}"
_ALWAYS = (400, 413, 415, 500)
_BINARY = {"schema": {"type": "string", "format": "binary"}}


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


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
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
                "content": {"application/json": {"schema": _schema(ep.body, components)}},
            }
        elif ep.raw_body is not None:
            op["requestBody"] = {"required": True, "content": {mt: _BINARY for mt in media_types(ep.raw_body)}}
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
