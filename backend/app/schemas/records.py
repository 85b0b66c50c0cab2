"""What a session leaves for the record: transcript lines, progress notes, history, search."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from app.models.enums import NodeType, NoteFormat, SessionStatus, Speaker
from app.schemas.common import ApiInput, ApiModel
from app.schemas.sessions import SessionSummary
from app.services.clinical_notes.formats import FORMATS

MAX_SECTION_CHARS = 20_000


class TranscriptEntryOut(ApiModel):
    id: int
    speaker: Speaker
    text: str
    spoken_at: datetime


class TranscriptOut(ApiModel):
    session_id: uuid.UUID
    entries: list[TranscriptEntryOut]


class SearchHitOut(ApiModel):
    session_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    session_started_at: datetime
    entry_id: int
    speaker: Speaker
    spoken_at: datetime
    # Plain text around the match (no markup).
    snippet: str


class SearchOut(ApiModel):
    query: str
    total: int
    items: list[SearchHitOut]


class NoteSectionOut(ApiModel):
    key: str
    title: str
    text: str


def sections_out(note_format: NoteFormat, values: dict[str, str]) -> list[NoteSectionOut]:
    """The format's sections in their declared order, with their titles."""
    return [
        NoteSectionOut(key=section.key, title=section.title, text=values.get(section.key, ""))
        for section in FORMATS[note_format]
    ]


class ClinicalNoteDraftOut(ApiModel):
    session_id: uuid.UUID
    format: NoteFormat
    sections: list[NoteSectionOut]


class ClinicalNoteOut(ApiModel):
    id: uuid.UUID
    session_id: uuid.UUID
    version: int
    format: NoteFormat
    sections: list[NoteSectionOut]
    author_id: uuid.UUID | None
    created_at: datetime


class ClinicalNoteIn(ApiInput):
    format: NoteFormat
    # Section key -> text; exactly the keys of `format`'s sections.
    sections: dict[str, Annotated[str, StringConstraints(max_length=MAX_SECTION_CHARS)]]
    # The version the editor loaded; null for the first save. A stale value gets a 409.
    base_version: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _sections_of_the_format(self) -> ClinicalNoteIn:
        expected = [section.key for section in FORMATS[self.format]]
        if sorted(self.sections) != sorted(expected):
            raise ValueError(
                f"sections of a {self.format.value} note are exactly: {', '.join(expected)}"
            )
        return self


class ThemeOut(ApiModel):
    key: str
    label: str
    type: NodeType
    mentions: int


class HistorySessionOut(ApiModel):
    id: uuid.UUID
    status: SessionStatus
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: int | None
    summary: SessionSummary | None
    top_themes: list[ThemeOut]


class TrendSeriesOut(ApiModel):
    key: str
    label: str
    type: NodeType
    # Mentions per session, aligned with `sessions` (oldest first).
    mentions: list[int]


class PatientHistoryOut(ApiModel):
    patient_id: uuid.UUID
    # The latest sessions (at most 50), oldest first.
    sessions: list[HistorySessionOut]
    trend: list[TrendSeriesOut]
