"""SQLAlchemy models of the whole data model; importing this package registers every table."""

from app.models.base import Base
from app.models.graph import GraphEdge, GraphMention, GraphNode
from app.models.hume import HumeChat, HumeEvent
from app.models.jobs import PendingJob
from app.models.patient import Patient
from app.models.records import AuditLog, LoginAttemptWindow, RealtimePayload, ToolCall
from app.models.session_records import ClinicalNoteVersion, TranscriptEntry
from app.models.therapy_session import (
    SessionConcern,
    SessionNote,
    SessionProgress,
    TherapySession,
)
from app.models.user import User

__all__ = [
    "AuditLog",
    "Base",
    "ClinicalNoteVersion",
    "GraphEdge",
    "GraphMention",
    "GraphNode",
    "HumeChat",
    "HumeEvent",
    "LoginAttemptWindow",
    "Patient",
    "PendingJob",
    "RealtimePayload",
    "SessionConcern",
    "SessionNote",
    "SessionProgress",
    "TherapySession",
    "ToolCall",
    "TranscriptEntry",
    "User",
]
