"""The JSON HTTP API under ``/api/v1``: routes, validation, problem responses, OpenAPI."""
