"""The Socket.IO server: websocket-only, JWT-authenticated, with ownership-checked session rooms.

Websocket only (issue 11): the backend runs several workers per pod and several pods without
sticky sessions, and Engine.IO long-polling keeps a connection's state in the one process that took
its handshake, so a polling client's next request lands elsewhere and gets "Invalid session". A
websocket is one TCP connection, pinned to one process for its life; the Postgres pub/sub manager
fans broadcasts out to every process.
"""

from __future__ import annotations

import json
import logging
import uuid
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.metrics import SOCKET_CONNECTIONS
from app.core.security import SESSION_COOKIE
from app.services import auth, therapy_sessions
from app.services.errors import AuthenticationError, NotFoundError
from app.services.events import session_room
from app.services.graph import store

logger = logging.getLogger(__name__)

SOCKETIO_PATH = "socket.io"
WEBSOCKET_REQUIRED = {
    "code": "websocket_required",
    "detail": (
        "Live updates use the WebSocket transport only; Socket.IO long-polling is not accepted. "
        "Connect with transports: ['websocket']. If this network blocks WebSockets, live "
        "updates are unavailable."
    ),
}


class WebSocketOnlyServer(socketio.AsyncServer):  # type: ignore[misc]
    """An `AsyncServer` that answers every plain-HTTP Engine.IO request (long-polling) with a
    400 that says why, instead of Engine.IO's bare "Invalid transport"."""

    def __init__(self, allowed_origins: list[str], **options: Any) -> None:
        # transports=['websocket'] also makes Engine.IO itself refuse polling and offer no upgrades.
        super().__init__(transports=["websocket"], **options)
        self._allowed_origins = frozenset(allowed_origins)

    async def handle_request(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().handle_request(scope, receive, send)
            return
        SOCKET_CONNECTIONS.labels("polling_refused").inc()
        body = json.dumps(WEBSOCKET_REQUIRED).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        origin = dict(scope.get("headers", [])).get(b"origin", b"")
        # CORS for allowed origins only, so the page's script can read the reason.
        if origin.decode("latin-1") in self._allowed_origins:
            headers += [
                (b"access-control-allow-origin", origin),
                (b"access-control-allow-credentials", b"true"),
                (b"vary", b"Origin"),
            ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def create_socket_server(
    settings: Settings, client_manager: socketio.AsyncManager
) -> socketio.AsyncServer:
    return WebSocketOnlyServer(
        settings.allowed_origins,
        async_mode="asgi",
        client_manager=client_manager,
        # Also the cross-site WebSocket hijacking guard for cookie-authenticated browsers.
        cors_allowed_origins=settings.allowed_origins,
        logger=False,
        engineio_logger=False,
    )


def _token_from(environ: dict[str, Any], auth_payload: Any) -> str | None:
    if isinstance(auth_payload, dict) and isinstance(auth_payload.get("token"), str):
        token: str = auth_payload["token"]
        return token.removeprefix("Bearer ").strip() or None
    raw_cookie = environ.get("HTTP_COOKIE", "")
    if raw_cookie:
        try:
            morsel = SimpleCookie(raw_cookie).get(SESSION_COOKIE)
        except CookieError:
            return None
        return morsel.value if morsel else None
    return None


def _parse_session_id(data: Any) -> uuid.UUID | None:
    raw = data.get("sessionId") if isinstance(data, dict) else data
    try:
        return uuid.UUID(str(raw))
    except (ValueError, TypeError):
        return None


NOT_FOUND_REPLY = {"ok": False, "status": 404, "detail": "Session not found"}


def register_handlers(
    sio: socketio.AsyncServer,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async def connect(sid: str, environ: dict[str, Any], auth_payload: Any = None) -> None:
        token = _token_from(environ, auth_payload)
        if token is None:
            SOCKET_CONNECTIONS.labels("refused").inc()
            raise socketio.exceptions.ConnectionRefusedError("authentication required")
        try:
            async with session_factory() as db:
                user = await auth.user_for_token(db, token, settings)
        except AuthenticationError:
            SOCKET_CONNECTIONS.labels("refused").inc()
            raise socketio.exceptions.ConnectionRefusedError("invalid token") from None
        await sio.save_session(sid, {"user_id": str(user.id), "token": token})
        SOCKET_CONNECTIONS.labels("accepted").inc()

    async def join_session(sid: str, data: Any = None) -> dict[str, Any]:
        session_id = _parse_session_id(data)
        if session_id is None:
            return {"ok": False, "status": 400, "detail": "sessionId must be a UUID"}
        saved = await sio.get_session(sid)
        try:
            async with session_factory() as db:
                # Re-check the token: a logout since connecting revokes room access too.
                user = await auth.user_for_token(db, saved["token"], settings)
                await therapy_sessions.get_owned(db, user.id, session_id)
                graph = await store.graph_of(db, session_id)
        except AuthenticationError:
            await sio.disconnect(sid)
            return {"ok": False, "status": 401, "detail": "Not authenticated"}
        except NotFoundError:
            await sio.emit("session_error", NOT_FOUND_REPLY, to=sid)
            return NOT_FOUND_REPLY
        await sio.enter_room(sid, session_room(session_id))
        await sio.emit("joined_session", {"sessionId": str(session_id)}, to=sid)
        await sio.emit("graph_state", graph.model_dump(mode="json", by_alias=True), to=sid)
        return {"ok": True, "sessionId": str(session_id)}

    async def leave_session(sid: str, data: Any = None) -> dict[str, Any]:
        session_id = _parse_session_id(data)
        if session_id is None:
            return {"ok": False, "status": 400, "detail": "sessionId must be a UUID"}
        await sio.leave_room(sid, session_room(session_id))
        await sio.emit("left_session", {"sessionId": str(session_id)}, to=sid)
        return {"ok": True, "sessionId": str(session_id)}

    sio.on("connect", connect)
    sio.on("join_session", join_session)
    sio.on("leave_session", leave_session)
