"""Every Socket.IO event the server emits, declared once: its name and its payload's shape.

Emitters build one of these models (the `Broadcaster` accepts nothing else), and
hack/api_types.py derives the frontend's TypeScript types from `SERVER_EVENTS`; a test fails
when the committed types drift from these models.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal

from app.models.enums import (
    ConcernType,
    Importance,
    NoteCategory,
    ProgressType,
    SessionStatus,
    Severity,
    Speaker,
)
from app.schemas.common import ApiModel
from app.schemas.sessions import GraphLinkOut, GraphNodeOut, GraphOut


class ServerEvent(ApiModel):
    """A payload of one named event; `name` is the Socket.IO event name."""

    name: ClassVar[str]

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class SessionEvent(ServerEvent):
    session_id: uuid.UUID


class JoinedSession(SessionEvent):
    name = "joined_session"


class LeftSession(SessionEvent):
    name = "left_session"


class SessionError(ServerEvent):
    name = "session_error"
    ok: Literal[False] = False
    status: int
    detail: str


class GraphState(GraphOut, ServerEvent):
    name = "graph_state"


class SessionUpdate(SessionEvent):
    name = "session_update"
    status: SessionStatus
    # Set (true) when the summary of a completed session has just been written.
    summary_ready: bool | None = None


ProcessingStatus = Literal["extracting", "embedding", "linking", "done", "error"]


class ProcessingUpdate(SessionEvent):
    name = "processing_update"
    status: ProcessingStatus
    message: str


class GraphBatchUpdate(SessionEvent):
    name = "graph_batch_update"
    nodes: list[GraphNodeOut]
    edges: list[GraphLinkOut]
    message: str


class NodeMetrics(ApiModel):
    id: uuid.UUID
    pagerank: float
    betweenness: float
    weighted_degree: float


class MetricsUpdated(SessionEvent):
    name = "metrics_updated"
    nodes: list[NodeMetrics]


class NoteAdded(SessionEvent):
    name = "note_added"
    id: uuid.UUID
    content: str
    category: NoteCategory
    importance: Importance


class ProgressMarked(SessionEvent):
    name = "progress_marked"
    id: uuid.UUID
    progress_type: ProgressType
    description: str


class ConcernFlagged(SessionEvent):
    name = "concern_flagged"
    id: uuid.UUID
    concern_type: ConcernType
    severity: Severity
    description: str


class TranscriptEntryAdded(SessionEvent):
    name = "transcript_entry"
    id: int
    speaker: Speaker
    text: str
    spoken_at: datetime


SERVER_EVENTS: tuple[type[ServerEvent], ...] = (
    JoinedSession,
    LeftSession,
    SessionError,
    GraphState,
    SessionUpdate,
    ProcessingUpdate,
    GraphBatchUpdate,
    MetricsUpdated,
    NoteAdded,
    ProgressMarked,
    ConcernFlagged,
    TranscriptEntryAdded,
)


class ClientEvent(ApiModel):
    """A payload the browser emits; the server's handlers read `sessionId` from it."""

    name: ClassVar[str]
    session_id: uuid.UUID


class JoinSession(ClientEvent):
    name = "join_session"


class LeaveSession(ClientEvent):
    name = "leave_session"


CLIENT_EVENTS: tuple[type[ClientEvent], ...] = (JoinSession, LeaveSession)
