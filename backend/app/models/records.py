"""Tool-call idempotency records, the audit log and operational tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class ToolCall(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "tool_calls"

    tool_call_id: Mapped[str] = mapped_column(String(255), unique=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    parameters: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any]]


class AuditLog(CreatedAt, Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[uuid.UUID | None]
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    ip: Mapped[str | None] = mapped_column(String(64))


class LoginAttemptWindow(Base):
    """Per-IP login attempt counter of one fixed window, shared by every backend process."""

    __tablename__ = "login_attempt_windows"

    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    attempts: Mapped[int] = mapped_column(default=0)


class RealtimePayload(CreatedAt, Base):
    """Socket.IO messages too large for a NOTIFY payload (8000 bytes) travel through this table."""

    __tablename__ = "realtime_payloads"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
