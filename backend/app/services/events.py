"""Real-time events, as the services see them: a room per session and a way to emit to it.

The Socket.IO server implements `Broadcaster`; its client manager carries every emit to all backend
processes, so services never care which process holds a client.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol


class Broadcaster(Protocol):
    async def emit_to_session(self, session_id: uuid.UUID, event: str, data: Any) -> None: ...


def session_room(session_id: uuid.UUID | str) -> str:
    return f"session:{session_id}"


class NullBroadcaster:
    """For command-line tools that change data without a Socket.IO server."""

    async def emit_to_session(self, session_id: uuid.UUID, event: str, data: Any) -> None:
        return None
