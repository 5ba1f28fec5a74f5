"""The one place that turns errors into HTTP: RFC 9457 problem+json for domain, validation and HTTP errors."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hubnet.server.api import openapi
from hubnet.server.domain.errors import HubnetError

PROBLEM = "application/problem+json"
log = logging.getLogger("hubnet.server")


def problem_type(slug: str) -> str:
    return f"urn:hubnet:problem:{slug}"


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": problem_type(slug), "title": title, "status": status, "detail": detail, **extra}
    if instance:
        body["instance"] = instance
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'name') -> 'name'; ('query', 'limit') -> 'limit'; a whole-body error -> 'body'."""
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or "body"


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HubnetError)
    if exc.status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc.detail)
    extra: dict[str, Any] = dict(exc.extra)
    if exc.field:
        extra["errors"] = [{"field": exc.field, "message": exc.detail}]
    return problem(exc.status, exc.slug, exc.title, exc.detail, instance=request.url.path, **extra)


def _error_field(error: dict[str, Any]) -> str:
    """Malformed JSON is located by character offset (('body', 17)): the field is then the body itself."""
    return "body" if error.get("type") == "json_invalid" else _field(error.get("loc", ()))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _error_field(e), "message": str(e.get("msg", "invalid"))} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "invalid-input", "Invalid input", detail, instance=request.url.path, errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    """Framework errors: 404/405 (405 keeps its `Allow` header); a body that is not even JSON text -> 422 like
    any other malformed body, naming `body`."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        detail = f"body: {exc.detail}"
        errors = [{"field": "body", "message": str(exc.detail)}]
        return problem(422, "invalid-input", "Invalid input", detail, instance=request.url.path, errors=errors)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:  # Starlette lists only the first route's methods; a path may have several routes
        headers = {**(headers or {}), "Allow": _allowed(request)}
    return problem(exc.status_code, slug, str(exc.detail), str(exc.detail), instance=request.url.path, headers=headers)


def _allowed(request: Request) -> str:
    """Every method served on this path, as the OpenAPI document lists them (a path may have several routes)."""
    return ", ".join(openapi.methods_for(request.app, request.url.path))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug: the traceback goes to the log only, under an id the answer carries (never the exception's text)."""
    error_id = uuid.uuid4().hex
    log.error("unhandled error %s in %s %s", error_id, request.method, request.url.path, exc_info=exc)
    detail = f"the controller failed; its log has the details under error id {error_id}"
    return problem(500, "internal", "Internal error", detail, instance=request.url.path, id=error_id)


def install(app: FastAPI) -> None:
    app.add_exception_handler(HubnetError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
    openapi.document_problems(app)
