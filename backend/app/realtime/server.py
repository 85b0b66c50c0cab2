"""The Socket.IO server: JWT-authenticated connections and ownership-checked session rooms."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.metrics import SOCKET_CONNECTED, SOCKET_CONNECTIONS, SOCKET_EVENTS
from app.core.middleware import ASGIApp, Receive, Scope, Send
from app.core.security import SESSION_COOKIE
from app.schemas.events import GraphState, JoinedSession, LeftSession, ServerEvent, SessionError
from app.services import auth, therapy_sessions
from app.services.errors import AuthenticationError, NotFoundError
from app.services.events import session_room, user_room
from app.services.graph import store

logger = logging.getLogger(__name__)

SOCKETIO_PATH = "socket.io"


class CountingServer(socketio.AsyncServer):  # type: ignore[misc]
    """Counts every event the server emits (rooms, single sockets, broadcasts) in one place."""

    async def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        SOCKET_EVENTS.labels(event, "out").inc()
        await super().emit(event, *args, **kwargs)


Handler = Callable[..., Awaitable[Any]]


def _counted(event: str, handler: Handler) -> Handler:
    # Only registered handlers are counted: a client's arbitrary event names never become labels.
    async def counting(*args: Any) -> Any:
        SOCKET_EVENTS.labels(event, "in").inc()
        return await handler(*args)

    return counting


def create_socket_server(
    settings: Settings, client_manager: socketio.AsyncManager
) -> socketio.AsyncServer:
    return CountingServer(
        async_mode="asgi",
        client_manager=client_manager,
        # Also the cross-site WebSocket hijacking guard for cookie-authenticated browsers.
        cors_allowed_origins=settings.allowed_origins,
        # Websocket only: a polling session lives in one worker's memory, and neither the
        # workers of a pod nor the replicas behind the ingress are sticky.
        transports=["websocket"],
        logger=False,
        engineio_logger=False,
    )


POLLING_REFUSED = (
    "This server speaks Socket.IO over WebSocket only (transports: ['websocket']); "
    "long-polling cannot work across its workers and replicas."
)


def refuse_long_polling(app: ASGIApp) -> ASGIApp:
    """Answers an Engine.IO long-polling request with a reason, not engineio's bare
    "Invalid transport", so a client (or the person debugging it) sees what to change."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].rstrip("/") == f"/{SOCKETIO_PATH}"
            and b"transport=polling" in scope.get("query_string", b"")
        ):
            body = json.dumps({"detail": POLLING_REFUSED}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return guarded


def _cut_at_expiry(sio: socketio.AsyncServer, sid: str, expires_at: float) -> None:
    """A socket lives no longer than the token it was opened with; the browser reconnects with
    its renewed cookie and resynchronises with graph_state."""
    loop = asyncio.get_running_loop()

    def cut() -> None:
        # Disconnecting a socket that already left is a no-op in python-socketio.
        task = loop.create_task(sio.disconnect(sid))
        _expiry_cuts.add(task)  # a strong reference until it ran
        task.add_done_callback(_expiry_cuts.discard)

    loop.call_later(max(expires_at - time.time(), 0), cut)


_expiry_cuts: set[asyncio.Task[None]] = set()


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


NOT_FOUND_REPLY = SessionError(status=404, detail="Session not found")


async def _emit_to(sio: socketio.AsyncServer, sid: str, event: ServerEvent) -> None:
    await sio.emit(event.name, event.wire(), to=sid)


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
            claims = auth.read_token(token, settings)
            async with session_factory() as db:
                user = await auth.user_for_claims(db, claims)
        except AuthenticationError:
            SOCKET_CONNECTIONS.labels("refused").inc()
            raise socketio.exceptions.ConnectionRefusedError("invalid token") from None
        room = user_room(user.id)
        # Counted per process (rooms are process-local): bounds what one account can make this
        # process hold. Two connects racing here may both pass; the cap is a bound, not a quota.
        if sum(1 for _ in sio.manager.get_participants("/", room)) >= settings.max_sockets_per_user:
            SOCKET_CONNECTIONS.labels("refused").inc()
            raise socketio.exceptions.ConnectionRefusedError(
                f"too many live connections for this account (at most "
                f"{settings.max_sockets_per_user}); close another tab and retry"
            )
        await sio.save_session(sid, {"user_id": str(user.id), "token": token})
        # In the user's room so a logout anywhere finds this socket (PostgresPubSubManager).
        await sio.enter_room(sid, room)
        _cut_at_expiry(sio, sid, claims.expires_at)
        SOCKET_CONNECTIONS.labels("accepted").inc()
        SOCKET_CONNECTED.inc()

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
            await sio.emit(NOT_FOUND_REPLY.name, NOT_FOUND_REPLY.wire(), to=sid)
            return NOT_FOUND_REPLY.wire()
        await sio.enter_room(sid, session_room(session_id))
        await _emit_to(sio, sid, JoinedSession(session_id=session_id))
        await _emit_to(sio, sid, GraphState.model_validate(graph.model_dump()))
        return {"ok": True, "sessionId": str(session_id)}

    async def leave_session(sid: str, data: Any = None) -> dict[str, Any]:
        session_id = _parse_session_id(data)
        if session_id is None:
            return {"ok": False, "status": 400, "detail": "sessionId must be a UUID"}
        await sio.leave_room(sid, session_room(session_id))
        await _emit_to(sio, sid, LeftSession(session_id=session_id))
        return {"ok": True, "sessionId": str(session_id)}

    async def disconnect(sid: str, *reason: Any) -> None:
        # Called only for sockets whose connect handler accepted them.
        SOCKET_CONNECTED.dec()

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
    sio.on("join_session", _counted("join_session", join_session))
    sio.on("leave_session", _counted("leave_session", leave_session))
