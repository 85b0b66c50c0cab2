"""Hume EVI chats of a session and the metadata of every Hume webhook received."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class HumeChat(UUIDPrimaryKey, CreatedAt, Base):
    """One EVI socket's chat. A session has many: each reconnect or resume is a new chat in the
    same chat group. A row exists only once the session's owner bound the chat (or its group)."""

    __tablename__ = "hume_chats"

    chat_id: Mapped[str] = mapped_column(String(255), unique=True)
    chat_group_id: Mapped[str] = mapped_column(String(255), index=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(64))
    duration_seconds: Mapped[int | None]


class HumeEvent(Base):
    """Metadata of a signed Hume webhook: never tool arguments or anything else a patient said.
    `session_id` stays null until the chat is bound by the session's owner."""

    __tablename__ = "hume_events"
    __table_args__ = (
        Index("ix_hume_events_chat_id", "chat_id"),
        # One row per delivery of an event: a replay or a retry inserts nothing (a chat's start
        # and end have no tool call id, hence NULLS NOT DISTINCT).
        Index(
            "uq_hume_events_delivery",
            "event_name",
            "chat_id",
            "tool_call_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_name: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(255))
    chat_group_id: Mapped[str] = mapped_column(String(255))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), index=True
    )
    # When it happened by Hume's clock (start_time / end_time / timestamp of the event).
    occurred_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(64))
    duration_seconds: Mapped[int | None]
    tool_call_id: Mapped[str | None] = mapped_column(String(255))
    tool_name: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
