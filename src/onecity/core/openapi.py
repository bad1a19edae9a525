"""The OpenAPI document as the API really behaves, so that a generated client works.

FastAPI documents one error, 422 with its own `HTTPValidationError` body, which the platform
never sends. Every route here can answer with the platform's one error body
(core/errors.py → core/http.py) under the statuses below: some for any request (a body too
large, a wrong content type, too many requests), some from the route's own rules. The
document names them on every operation, with the real body; security schemes come from the
dependencies in core/http.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Every 4xx and 5xx answer: what went wrong and, where one input is at "
    "fault, which.",
    "required": ["error", "detail", "field"],
    "properties": {
        "error": {"type": "string", "description": "A stable code, e.g. not_found, invalid."},
        "detail": {"type": "string", "description": "A sentence saying what to do."},
        "field": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "The input at fault (e.g. location.coordinates), or null.",
        },
    },
}

# Every status the API answers with the error body, and what it means.
ERROR_STATUSES: dict[str, str] = {
    "400": "Bad request: malformed JSON, or a parameter the route cannot use.",
    "401": "Not authenticated: no session token or device key, or one that is unknown, "
    "expired or revoked.",
    "403": "Forbidden: the caller's role or department may not do this, or the request "
    "is cross-site.",
    "404": "Not found: no such thing, or none the caller may see.",
    "409": "Conflict: the thing changed meanwhile, already exists, or is in a state that "
    "does not allow this.",
    "413": "Request body too large.",
    "415": "Unsupported content type.",
    "422": "Invalid input: `field` names the first input at fault.",
    "423": "Locked: the account or thing is locked for now.",
    "429": "Too many requests: wait for Retry-After seconds.",
    "503": "Unavailable for a moment: try again.",
}

_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "description": "How to authenticate (Bearer).",
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer"},
        }
    },
}

_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")
_REF = "#/components/schemas/Error"


def _error_response(status: str, description: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF}}},
    }
    if status in _HEADERS:
        out["headers"] = _HEADERS[status]
    return out


def _is_fastapi_default(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return str(schema.get("$ref", "")).endswith("/HTTPValidationError")


def _drop_json_twin(response: dict[str, Any]) -> None:
    """A route that answers errors as `application/problem+json` (NGSI-LD) does not also
    answer them as `application/json`, which FastAPI adds for the response model."""
    content = response.get("content", {})
    if "application/problem+json" in content:
        content.pop("application/json", None)


def document_errors(doc: dict[str, Any]) -> dict[str, Any]:
    """Put the real error body and every error status on each operation of `doc`."""
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_ERRORS:
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    for item in doc.get("paths", {}).values():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses: dict[str, Any] = op["responses"]
            for status, description in ERROR_STATUSES.items():
                have = responses.get(status)
                # A route's own description of an error (e.g. NGSI-LD's) is kept.
                if have is None or _is_fastapi_default(have):
                    responses[status] = _error_response(status, description)
            for response in responses.values():
                _drop_json_twin(response)
    return doc


def install(app: FastAPI) -> None:
    """Generate the document once, with the error body and statuses put right."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = document_errors(doc)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
