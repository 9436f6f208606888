"""Map errors to HTTP once: NexusError subclasses and request validation, with the field at fault."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from nexus_memory.errors import (
    Conflict,
    DatabaseBusy,
    InvalidInput,
    NexusError,
    NotAvailable,
    NotFound,
    StorageError,
)

T = TypeVar("T")


class FieldError(NexusError):
    """An InvalidInput that knows which request field caused it."""

    def __init__(self, field: str, error: NexusError) -> None:
        self.field = field
        self.cause = error
        super().__init__(error.message, hint=error.hint)


@contextmanager
def field(name: str, hint: str | None = None) -> Iterator[None]:
    """Attribute an InvalidInput/NotAvailable raised inside the block to request field `name`
    (with an HTTP-worded hint when given, instead of the service's CLI-worded one)."""
    try:
        yield
    except (InvalidInput, NotAvailable) as exc:
        if hint:
            exc.hint = hint
        raise FieldError(name, exc) from None


MEMORY_NOT_FOUND_HINT = "find ids with GET /api/v1/memories or POST /api/v1/memories/search"


@contextmanager
def memory_hint() -> Iterator[None]:
    """Reword the service's CLI hint on a missing memory for an HTTP caller."""
    try:
        yield
    except NotFound as exc:
        raise NotFound(exc.message, hint=MEMORY_NOT_FOUND_HINT) from None


def in_field(name: str, fn: Callable[[], T]) -> T:
    with field(name):
        return fn()


def _status(exc: NexusError) -> tuple[int, str]:
    if isinstance(exc, FieldError | InvalidInput):
        return 422, "invalid_input"
    if isinstance(exc, NotFound):
        return 404, "not_found"
    if isinstance(exc, Conflict):
        return 409, "conflict"
    if isinstance(exc, DatabaseBusy):
        return 503, "busy"
    if isinstance(exc, NotAvailable):
        return 501, "not_available"
    if isinstance(exc, StorageError):
        return 500, "storage_error"
    return 400, "error"


def error_response(status: int, code: str, message: str, hint: str | None = None,
                   field_name: str | None = None, detail: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message, "hint": hint, "field": field_name}
    if detail is not None:
        body["detail"] = detail
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(NexusError)
    async def nexus_error(_: Request, exc: NexusError) -> JSONResponse:
        status, code = _status(exc)
        return error_response(status, code, exc.message, exc.hint, getattr(exc, "field", None))

    @api.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        name = _loc(first.get("loc", ()))
        message = f"invalid value for '{name}': {first.get('msg', 'invalid')}" if name else str(first.get("msg"))
        detail = [{"field": _loc(e.get("loc", ())), "message": e.get("msg"), "type": e.get("type")} for e in errors]
        return error_response(422, "invalid_input", message, "fix the named field and send the request again",
                              name or None, detail)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        hint = "see /api/v1/openapi.json for the routes" if exc.status_code in (404, 405) else None
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), hint)
