"""Emitting to a session room from anywhere in the app (services see only `Broadcaster`)."""

from __future__ import annotations

import logging
import uuid

import socketio

from app.realtime.pg_manager import PostgresPubSubManager
from app.schemas.events import ServerEvent
from app.services.events import session_room, user_room

logger = logging.getLogger(__name__)


class SocketBroadcaster:
    def __init__(self, server: socketio.AsyncServer) -> None:
        self._server = server

    async def emit_to_session(self, session_id: uuid.UUID, event: ServerEvent) -> None:
        # Real-time updates are best effort: a failing bus must not fail the request that
        # already committed its data (clients resync with graph_state when they rejoin).
        try:
            await self._server.emit(event.name, event.wire(), room=session_room(session_id))
        except Exception:
            logger.warning("could not publish %s", event.name, exc_info=True)

    async def disconnect_user(self, user_id: uuid.UUID) -> None:
        manager = self._server.manager
        # Logout must not fail on a bus hiccup: the token is already revoked, and join_session
        # re-checks it, so a socket that escapes this cut can no longer join a session.
        try:
            if isinstance(manager, PostgresPubSubManager):
                await manager.disconnect_room(user_room(user_id), "/")
        except Exception:
            logger.warning("could not cut the sockets of a logged-out user", exc_info=True)
