"""The OpenAPI document tells the truth about errors: every operation declares the RFC 9457 problem+json answers
it can give (FastAPI's default 422 body is replaced by ours), so clients and schemathesis can rely on it."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "urn:hubnet:problem:<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "id": {"type": "string", "description": "500 only: the error id to look for in the controller's log"},
    },
    "additionalProperties": True,
}
API_ERRORS = {
    "401": "missing or unknown credential",
    "403": "credential without the right",
    "404": "no such resource",
    "405": "method not allowed",
    "409": "conflict with the current state",
    "413": "request body too large",
    "422": "invalid input (the field is named)",
    "429": "rate limited: see Retry-After",
    "500": "internal error (an id, no details)",
    "503": "database unavailable",
}
PROBE_ERRORS = {key: API_ERRORS[key] for key in ("405", "500", "503")}
# An operation's nested body schemas, moved into components by `add_problems` (see `json_body`).
_NESTED = "x-hubnet-nested-schemas"


def json_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` documenting `model` as the JSON request body of an operation whose handler reads the body
    itself, once the caller is authenticated (`deps.read_body`): FastAPI would parse a declared body before any
    dependency runs."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    nested = schema.pop("$defs", {})
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}, _NESTED: nested}


def _answer(status: str, description: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status == "429":
        answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}
    return answer


def add_problems(document: dict[str, Any]) -> None:
    """Declare the problem answers on every operation of `document` (in place); /metrics answers Prometheus text."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    metrics = document.get("paths", {}).get("/metrics", {}).get("get", {}).get("responses", {}).get("200")
    if metrics is not None:
        metrics["content"] = {"text/plain": {"schema": {"type": "string"}}}
    schemas = document["components"]["schemas"]
    for path, operations in document.get("paths", {}).items():
        errors = API_ERRORS if path.startswith("/v1") else PROBE_ERRORS
        for operation in operations.values():
            schemas.update(operation.pop(_NESTED, None) or {})
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses[status] = _answer(status, description)


def document_problems(app: FastAPI) -> None:
    """Wrap `app.openapi` so the cached document carries the problem answers."""
    build = app.openapi

    def patched() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_problems(build())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = patched  # type: ignore[method-assign]


def methods_for(app: FastAPI, path: str) -> list[str]:
    """The documented methods of the path template that matches `path` (for a 405's `Allow` header)."""
    for pattern, methods in _templates(app):
        if pattern.fullmatch(path):
            return methods
    return []


def _templates(app: FastAPI) -> tuple[tuple[re.Pattern[str], list[str]], ...]:
    return _compile(tuple((p, tuple(ops)) for p, ops in app.openapi().get("paths", {}).items()))


@cache
def _compile(paths: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[re.Pattern[str], list[str]], ...]:
    compiled = []
    for template, operations in paths:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        methods = sorted(m.upper() for m in operations)
        compiled.append((re.compile(regex), (["HEAD", *methods] if "GET" in methods else methods)))
    return tuple(compiled)
