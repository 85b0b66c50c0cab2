"""What a session leaves behind for the record: its transcript lines and its progress notes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey, enum_type
from app.models.enums import NoteFormat, Speaker

# One text-search configuration for the index and the queries, or the index is never used.
SEARCH_CONFIG = "english"


class TranscriptEntry(CreatedAt, Base):
    """One line of a session's transcript: who said it and when (the bigint id orders them)."""

    __tablename__ = "transcript_entries"
    __table_args__ = (
        Index("ix_transcript_entries_session_id_id", "session_id", "id"),
        Index(
            "ix_transcript_entries_search",
            func.to_tsvector(text(f"'{SEARCH_CONFIG}'::regconfig"), text("text")),
            postgresql_using="gin",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    speaker: Mapped[Speaker] = mapped_column(enum_type(Speaker, "speaker"))
    text: Mapped[str] = mapped_column(Text)
    spoken_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ClinicalNoteVersion(UUIDPrimaryKey, CreatedAt, Base):
    """Every save of a session's progress note is a new row; the highest version is current."""

    __tablename__ = "clinical_note_versions"
    __table_args__ = (UniqueConstraint("session_id", "version"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int]
    format: Mapped[NoteFormat] = mapped_column(enum_type(NoteFormat, "note_format"))
    # Section key -> text, keys as declared for the format (app.services.clinical_notes).
    sections: Mapped[dict[str, str]] = mapped_column(JSONB)
