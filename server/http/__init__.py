"""The HTTP kit under every stage's endpoints: the endpoint description and request helpers, request and
response schemas, problem responses and the OpenAPI document."""
