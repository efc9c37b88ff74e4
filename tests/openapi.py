"""Validators for the API's bodies, made from the API's own OpenAPI document."""

from __future__ import annotations

from typing import Any

import jsonschema


def schema_validator(doc: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema)
