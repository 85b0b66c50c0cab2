"""A session's transcript lines (who said what, when) and full-text search across sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnClause, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Patient, TherapySession, TranscriptEntry
from app.models.session_records import SEARCH_CONFIG
from app.services import therapy_sessions

# Inlined, not bound: the GIN index is on to_tsvector('english'::regconfig, text), and the planner
# only uses it for the very same expression.
# A line this short is its own snippet: ts_headline would start it at the first match.
WHOLE_LINE_CHARS = 240
_CONFIG: ColumnClause[Any] = literal_column(f"'{SEARCH_CONFIG}'::regconfig")


async def list_entries(
    db: AsyncSession, therapist_id: uuid.UUID, session_id: uuid.UUID
) -> Sequence[TranscriptEntry]:
    """Every line of one of your sessions, in the order they were said (bounded by the
    transcript's size limit, so no paging)."""
    await therapy_sessions.get_owned(db, therapist_id, session_id)
    rows = await db.execute(
        select(TranscriptEntry)
        .where(TranscriptEntry.session_id == session_id)
        .order_by(TranscriptEntry.id)
    )
    return rows.scalars().all()


@dataclass(frozen=True)
class SearchHit:
    session_id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    session_started_at: datetime
    entry_id: int
    speaker: str
    spoken_at: datetime
    snippet: str


async def search(
    db: AsyncSession, therapist_id: uuid.UUID, query: str, limit: int
) -> tuple[list[SearchHit], int]:
    """Lines of your sessions matching `query` (web-search syntax: words, "phrases", -not, or),
    best match first. The snippet is plain text: no markup to escape."""
    tsquery = func.websearch_to_tsquery(_CONFIG, query)
    document = func.to_tsvector(_CONFIG, TranscriptEntry.text)
    matches = (
        select(TranscriptEntry, TherapySession, Patient)
        .join(TherapySession, TherapySession.id == TranscriptEntry.session_id)
        .join(Patient, Patient.id == TherapySession.patient_id)
        .where(TherapySession.therapist_id == therapist_id, document.op("@@")(tsquery))
    )
    total = (await db.execute(select(func.count()).select_from(matches.subquery()))).scalar_one()
    snippet = func.ts_headline(
        _CONFIG,
        TranscriptEntry.text,
        tsquery,
        "StartSel='',StopSel='',MaxWords=30,MinWords=10,MaxFragments=1",
    )
    rows = await db.execute(
        matches.add_columns(snippet)
        .order_by(func.ts_rank(document, tsquery).desc(), TranscriptEntry.id.desc())
        .limit(limit)
    )
    hits = [
        SearchHit(
            session_id=session.id,
            patient_id=patient.id,
            patient_name=patient.name,
            session_started_at=session.started_at,
            entry_id=entry.id,
            speaker=entry.speaker.value,
            spoken_at=entry.spoken_at,
            snippet=entry.text if len(entry.text) <= WHOLE_LINE_CHARS else f"…{text}…",
        )
        for entry, session, patient, text in rows.all()
    ]
    return hits, total
