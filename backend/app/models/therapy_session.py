"""A therapy session and what the voice agent records during it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, Timestamps, UUIDPrimaryKey, enum_type
from app.models.enums import (
    ConcernType,
    Importance,
    NoteCategory,
    ProgressType,
    SessionStatus,
    Severity,
)


class TherapySession(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "sessions"
    __table_args__ = (
        # At most one active session per patient, enforced by the database.
        Index(
            "uq_sessions_one_active_per_patient",
            "patient_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_sessions_therapist_created", "therapist_id", "created_at"),
        Index("ix_sessions_patient_created", "patient_id", "created_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    therapist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[SessionStatus] = mapped_column(
        enum_type(SessionStatus, "session_status"), default=SessionStatus.active
    )
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    ended_at: Mapped[datetime | None]
    transcript: Mapped[str] = mapped_column(Text, server_default="")
    summary: Mapped[dict[str, Any] | None]
    # Unused since migration 0002 (chats live in hume_chats, many per session); kept so a
    # rolling upgrade's older pods still find them. Drop in a later release's migration.
    hume_chat_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    hume_chat_group_id: Mapped[str | None] = mapped_column(String(255))
    end_reason: Mapped[str | None] = mapped_column(String(255))
    duration_seconds: Mapped[int | None]


class SessionNote(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "session_notes"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    content: Mapped[str] = mapped_column(Text)
    category: Mapped[NoteCategory] = mapped_column(enum_type(NoteCategory, "note_category"))
    importance: Mapped[Importance] = mapped_column(enum_type(Importance, "importance"))
    source: Mapped[str] = mapped_column(String(32), default="voice_agent")


class SessionProgress(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "session_progress"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    progress_type: Mapped[ProgressType] = mapped_column(enum_type(ProgressType, "progress_type"))
    description: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)


class SessionConcern(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "session_concerns"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    concern_type: Mapped[ConcernType] = mapped_column(enum_type(ConcernType, "concern_type"))
    severity: Mapped[Severity] = mapped_column(enum_type(Severity, "severity"))
    description: Mapped[str] = mapped_column(Text)
    recommended_action: Mapped[str | None] = mapped_column(Text)
