"""Background work that must survive the process that accepted it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt


class PendingJob(CreatedAt, Base):
    """A graph update or summary not yet done. Written with the request that asked for it and
    deleted when done; a row whose lease ran out belongs to a process that died, and any backend
    process takes it over (services/durable_jobs.py)."""

    __tablename__ = "pending_jobs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
