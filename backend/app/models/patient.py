from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UUIDPrimaryKey


class Patient(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "patients"
    __table_args__ = (
        Index(
            "uq_patients_therapist_email",
            "therapist_id",
            text("lower(email)"),
            unique=True,
            postgresql_where=text("email IS NOT NULL"),
        ),
        Index("ix_patients_therapist_created", "therapist_id", "created_at"),
    )

    therapist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    demographics: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
