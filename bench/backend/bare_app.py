"""The floors the backend's figures are divided by: bare Starlette doing the least the same
request needs, in the same run, on the same machine and database (see bench/README.md).

- GET /health: a constant JSON answer (the floor of /health).
- GET /api/patients: the Bearer token's signature checked (cached, like the app), then the same
  two queries the authenticated patient list runs (the user by id, one page of patients with the
  total) on an asyncpg pool, and the page as JSON (the floor of the authenticated list).
- POST /api/webhooks/hume: the HMAC check of the raw body and one INSERT of the event's
  metadata (the floor of a signed webhook).

Configured by environment: BARE_DSN (asyncpg DSN), BARE_SECRET_KEY, BARE_SIGNING_KEY.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

USER_QUERY = "SELECT id, token_version FROM users WHERE id = $1"
PATIENTS_QUERY = (
    "SELECT id, name, email, phone, demographics, created_at, updated_at, count(*) OVER () "
    "FROM patients WHERE therapist_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
)
EVENT_INSERT = (
    "INSERT INTO hume_events (event_name, chat_id, chat_group_id, tool_call_id) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"  # a replay is recorded once, as ours is
)
PAGE_SIZE = 20


def _encode(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(type(value))


@lru_cache(maxsize=4096)
def _user_id(token: str) -> uuid.UUID:
    claims = jwt.decode(token, os.environ["BARE_SECRET_KEY"], algorithms=["HS256"])
    return uuid.UUID(claims["sub"])


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "healthy"})


async def patients(request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return JSONResponse({"detail": "Not authenticated"}, status_code=401)
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as connection:
        user = await connection.fetchrow(USER_QUERY, _user_id(token))
        if user is None:
            return JSONResponse({"detail": "Could not validate credentials"}, status_code=401)
        rows = await connection.fetch(PATIENTS_QUERY, user["id"], PAGE_SIZE, 0)
    page = {
        "items": [
            {
                "id": row[0],
                "name": row[1],
                "email": row[2],
                "phone": row[3],
                "demographics": json.loads(row[4]),
                "createdAt": row[5],
                "updatedAt": row[6],
            }
            for row in rows
        ],
        "total": rows[0][7] if rows else 0,
        "page": 1,
        "pageSize": PAGE_SIZE,
    }
    body = json.dumps(page, default=_encode, separators=(",", ":")).encode()
    return Response(body, media_type="application/json")


async def webhook(request: Request) -> JSONResponse:
    raw = await request.body()
    timestamp = request.headers.get("x-hume-ai-webhook-timestamp", "")
    given = request.headers.get("x-hume-ai-webhook-signature", "").encode()
    key = os.environ["BARE_SIGNING_KEY"].encode()
    expected = hmac.new(key, raw + b"." + timestamp.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given):
        return JSONResponse({"detail": "Invalid webhook signature"}, status_code=401)
    event = json.loads(raw)
    pool: asyncpg.Pool = request.app.state.pool
    await pool.execute(
        EVENT_INSERT,
        event["event_name"],
        event["chat_id"],
        event["chat_group_id"],
        event.get("tool_call_message", {}).get("tool_call_id"),
    )
    return JSONResponse({"status": "recorded"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    dsn = os.environ.get("BARE_DSN")
    app.state.pool = await asyncpg.create_pool(dsn, min_size=2, max_size=20) if dsn else None
    try:
        yield
    finally:
        if app.state.pool is not None:
            await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/api/patients", patients),
        Route("/api/webhooks/hume", webhook, methods=["POST"]),
    ],
    lifespan=lifespan,
)
