"""Progress notes of a completed session: a prefilled draft, versioned saves, and the export."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    ClinicalNoteVersion,
    Patient,
    SessionConcern,
    SessionNote,
    SessionProgress,
    TherapySession,
)
from app.models.enums import NoteFormat, SessionStatus
from app.schemas.sessions import SessionSummary
from app.services import audit, therapy_sessions
from app.services.clinical_notes.formats import FORMATS, SessionFacts, prefill
from app.services.clinical_notes.markdown import render_markdown
from app.services.errors import ConflictError
from app.services.therapy_sessions import RecordT

__all__ = ["FORMATS", "draft", "export_markdown", "latest", "save", "versions"]


async def _all(db: AsyncSession, model: type[RecordT], session_id: uuid.UUID) -> list[RecordT]:
    result = await db.execute(
        select(model).where(model.session_id == session_id).order_by(model.created_at, model.id)
    )
    return list(result.scalars().all())


async def _facts(db: AsyncSession, session: TherapySession) -> SessionFacts:
    return SessionFacts(
        summary=SessionSummary.model_validate(session.summary or {}),
        notes=await _all(db, SessionNote, session.id),
        progress=await _all(db, SessionProgress, session.id),
        concerns=await _all(db, SessionConcern, session.id),
    )


async def draft(
    db: AsyncSession, therapist_id: uuid.UUID, session_id: uuid.UUID, note_format: NoteFormat
) -> dict[str, str]:
    session = await therapy_sessions.get_owned(db, therapist_id, session_id)
    return prefill(note_format, await _facts(db, session))


async def latest(
    db: AsyncSession, therapist_id: uuid.UUID, session_id: uuid.UUID
) -> ClinicalNoteVersion | None:
    await therapy_sessions.get_owned(db, therapist_id, session_id)
    return await _latest(db, session_id)


async def _latest(db: AsyncSession, session_id: uuid.UUID) -> ClinicalNoteVersion | None:
    result = await db.execute(
        select(ClinicalNoteVersion)
        .where(ClinicalNoteVersion.session_id == session_id)
        .order_by(ClinicalNoteVersion.version.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def versions(
    db: AsyncSession, therapist_id: uuid.UUID, session_id: uuid.UUID
) -> Sequence[ClinicalNoteVersion]:
    """Every saved version, newest first."""
    await therapy_sessions.get_owned(db, therapist_id, session_id)
    result = await db.execute(
        select(ClinicalNoteVersion)
        .where(ClinicalNoteVersion.session_id == session_id)
        .order_by(ClinicalNoteVersion.version.desc())
    )
    return result.scalars().all()


@dataclass(frozen=True)
class NoteSave:
    note_format: NoteFormat
    sections: dict[str, str]
    # The version the editor started from (None: the first save); a stale one is refused.
    base_version: int | None


async def save(
    db: AsyncSession,
    therapist_id: uuid.UUID,
    session_id: uuid.UUID,
    body: NoteSave,
    ip: str | None,
) -> ClinicalNoteVersion:
    """Saves a new version. Refused (409) while the session is active, and when another save
    happened since the editor loaded `base_version` — so no edit silently overwrites another."""
    session = await therapy_sessions.get_owned(db, therapist_id, session_id, lock=True)
    if session.status == SessionStatus.active:
        await db.rollback()
        raise ConflictError("End the session before writing its progress note")
    current = (
        await db.execute(
            select(func.max(ClinicalNoteVersion.version)).where(
                ClinicalNoteVersion.session_id == session_id
            )
        )
    ).scalar_one()
    if current != body.base_version:
        await db.rollback()
        raise ConflictError(
            f"The note was saved elsewhere since you opened it (now version {current}); "
            "reload it before saving"
        )
    note = ClinicalNoteVersion(
        session_id=session_id,
        author_id=therapist_id,
        version=(current or 0) + 1,
        format=body.note_format,
        sections=body.sections,
    )
    db.add(note)
    await db.flush()
    # The audit trail says who saved which version, never what the note says.
    audit.record(
        db,
        "clinical_note.save",
        actor_id=therapist_id,
        entity_type="session",
        entity_id=session_id,
        ip=ip,
        details={"version": note.version, "format": note.format.value},
    )
    await db.commit()
    await db.refresh(note)
    return note


async def export_markdown(db: AsyncSession, therapist_id: uuid.UUID, session_id: uuid.UUID) -> str:
    """The session's summary and its current progress note as one Markdown document."""
    session = await therapy_sessions.get_owned(db, therapist_id, session_id)
    patient = await db.get(Patient, session.patient_id)
    assert patient is not None  # sessions cascade with their patient
    summary = SessionSummary.model_validate(session.summary) if session.summary else None
    return render_markdown(session, patient.name, summary, await _latest(db, session_id))
