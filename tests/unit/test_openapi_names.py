"""The OpenAPI document refuses two different models of one name (one would silently describe both)."""

from __future__ import annotations

import pytest
from aiohttp import web

from server.http import schemas as s
from server.http.kit import Endpoint
from server.http.openapi import document


def _make(fields: dict[str, type]) -> type[s.Open]:
    return type("Named", (s.Open,), {"__annotations__": fields, "__doc__": "A value and its name."})


async def _handler(request: web.Request) -> web.Response:  # pragma: no cover - never called
    return web.Response()


def _endpoint(path: str, model: type[s.Open], op: str) -> Endpoint:
    return Endpoint("GET", path, _handler, "x", op, model)


def test_two_models_of_one_name_are_refused_and_one_model_twice_is_fine() -> None:
    first, second = _make({"id": str, "name": str}), _make({"value": str, "name": str})
    with pytest.raises(ValueError, match='named "Named"'):
        document((_endpoint("/a", first, "readA"), _endpoint("/b", second, "readB")))
    doc = document((_endpoint("/a", first, "readA"), _endpoint("/c", first, "readC")))
    assert set(doc["components"]["schemas"]["Named"]["properties"]) == {"id", "name"}
