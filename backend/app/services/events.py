"""Real-time events, as the services see them: a room per session and a way to emit to it.

The Socket.IO server implements `Broadcaster`; its client manager carries every emit to all backend
processes, so services never care which process holds a client.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from app.schemas.events import ServerEvent


class Broadcaster(Protocol):
    async def emit_to_session(self, session_id: uuid.UUID, event: ServerEvent) -> None:
        """Emits `event` (its declared name and payload) to the session's room."""
        ...

    async def disconnect_user(self, user_id: uuid.UUID) -> None:
        """Cuts every live socket of the user, in every backend process (logout)."""
        ...


def session_room(session_id: uuid.UUID | str) -> str:
    return f"session:{session_id}"


def user_room(user_id: uuid.UUID | str) -> str:
    """Every socket of a user is in this room, so a logout can find them all."""
    return f"user:{user_id}"


class NullBroadcaster:
    """For command-line tools that change data without a Socket.IO server."""

    async def emit_to_session(self, session_id: uuid.UUID, event: ServerEvent) -> None:
        return None

    async def disconnect_user(self, user_id: uuid.UUID) -> None:
        return None
