"""Maps domain and database errors to HTTP responses, so no expected failure becomes a 500."""

from __future__ import annotations

import logging

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.services.errors import AuthenticationError, DomainError, RateLimitedError

logger = logging.getLogger(__name__)


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    headers: dict[str, str] = {}
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, RateLimitedError):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=headers)


async def _data_error(request: Request, error: Exception) -> JSONResponse:
    # Input the database refuses (out-of-range value, bad encoding) is the client's to fix.
    # Same shape as FastAPI's own validation errors, so clients parse one 422 format.
    detail = [
        {
            "type": "invalid_input",
            "loc": ["request"],
            "msg": "The input contains a value the database cannot store",
        }
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def _integrity_error(request: Request, error: Exception) -> JSONResponse:
    # Services translate the conflicts they expect; this is the safety net for races.
    logger.info("integrity conflict on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "Conflict with the current state"}, status_code=409)


def _sqlstate(error: Exception) -> str:
    # SQLAlchemy's errors carry the driver's as `orig`; the raw asyncpg paths raise it bare.
    original = getattr(error, "orig", error)
    return str(getattr(original, "sqlstate", None) or getattr(original, "pgcode", None) or "")


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    state = _sqlstate(error)
    if state.startswith("22"):  # data exception: e.g. NUL in text, value out of range
        return await _data_error(request, error)
    if state.startswith("23"):  # integrity constraint violation
        return await _integrity_error(request, error)
    return await _database_unavailable(request, error)


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    # The class with its module, never the message (a DBAPI error's text carries the statement and
    # its parameters): sqlalchemy.exc.TimeoutError is an exhausted pool, builtins' a slow server.
    logger.warning("database unavailable: %s.%s", type(error).__module__, type(error).__name__)
    return JSONResponse(
        {"detail": "Database unavailable"}, status_code=503, headers={"Retry-After": "5"}
    )


# What a 422 says about each error: never `input` (a login's 422 would return the password).
VALIDATION_KEYS = ("type", "loc", "msg")


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    detail = [{key: item[key] for key in VALIDATION_KEYS if key in item} for item in error.errors()]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


async def _too_deep(request: Request, error: Exception) -> JSONResponse:
    # json.loads recurses per nesting level: a hostile, deeply nested body is malformed input.
    return JSONResponse({"detail": "Malformed request body"}, status_code=400)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RecursionError, _too_deep)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(DBAPIError, _database_error)
    # The hot reads and the webhook's write run on the raw asyncpg connection (core/db.Prepared).
    app.add_exception_handler(asyncpg.PostgresError, _database_error)
    app.add_exception_handler(asyncpg.exceptions.ConnectionDoesNotExistError, _database_unavailable)
    for unavailable in (PoolTimeoutError, OSError, TimeoutError):
        app.add_exception_handler(unavailable, _database_unavailable)
