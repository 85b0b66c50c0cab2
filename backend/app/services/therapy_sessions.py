"""Therapy sessions of one therapist: start, end, cancel, transcript, and what they recorded."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    SessionConcern,
    SessionNote,
    SessionProgress,
    TherapySession,
    TranscriptEntry,
)
from app.models.enums import SessionStatus, Speaker
from app.services import audit, patients
from app.services.errors import ConflictError, NotFoundError, PayloadTooLargeError
from app.services.pagination import paginate

SESSION_NOT_FOUND = "Session not found"
RecordT = TypeVar("RecordT", bound=SessionNote | SessionProgress | SessionConcern)


async def get_owned(
    db: AsyncSession, therapist_id: uuid.UUID, session_id: uuid.UUID, *, lock: bool = False
) -> TherapySession:
    query = select(TherapySession).where(
        TherapySession.id == session_id, TherapySession.therapist_id == therapist_id
    )
    if lock:
        query = query.with_for_update()
    session = (await db.execute(query)).scalar_one_or_none()
    if session is None:
        raise NotFoundError(SESSION_NOT_FOUND)
    return session


async def list_sessions(
    db: AsyncSession,
    therapist_id: uuid.UUID,
    *,
    patient_id: uuid.UUID | None,
    status: SessionStatus | None,
    offset: int,
    limit: int,
) -> tuple[list[TherapySession], int]:
    query = select(TherapySession).where(TherapySession.therapist_id == therapist_id)
    if patient_id is not None:
        query = query.where(TherapySession.patient_id == patient_id)
    if status is not None:
        query = query.where(TherapySession.status == status)
    ordered = query.order_by(TherapySession.created_at.desc(), TherapySession.id.desc())
    return await paginate(db, ordered, offset, limit)


async def start(
    db: AsyncSession, therapist_id: uuid.UUID, patient_id: uuid.UUID, ip: str | None
) -> tuple[TherapySession, list[uuid.UUID]]:
    """Starts a session; the patient's previous active session is completed. Returns both."""
    # The patient row lock serialises concurrent starts for one patient.
    patient = await patients.get_owned(db, therapist_id, patient_id, lock=True)
    now = datetime.now(UTC)
    completed = (
        (
            await db.execute(
                update(TherapySession)
                .where(
                    TherapySession.patient_id == patient.id,
                    TherapySession.status == SessionStatus.active,
                )
                .values(status=SessionStatus.completed, ended_at=now, end_reason="superseded")
                .returning(TherapySession.id)
            )
        )
        .scalars()
        .all()
    )
    session = TherapySession(
        patient_id=patient.id,
        therapist_id=therapist_id,
        status=SessionStatus.active,
        started_at=now,
        transcript="",
    )
    db.add(session)
    await db.flush()
    for old_id in completed:
        audit.record(
            db,
            "session.end",
            actor_id=therapist_id,
            entity_type="session",
            entity_id=old_id,
            ip=ip,
            details={"reason": "superseded"},
        )
    audit.record(
        db,
        "session.start",
        actor_id=therapist_id,
        entity_type="session",
        entity_id=session.id,
        ip=ip,
    )
    await db.commit()
    await db.refresh(session)
    return session, list(completed)


async def end(
    db: AsyncSession, therapist_id: uuid.UUID, session_id: uuid.UUID, ip: str | None
) -> tuple[TherapySession, bool]:
    """Completes an active session. Idempotent: ending a completed session changes nothing.

    Returns the session and whether this call ended it (then the summary is due).
    """
    session = await get_owned(db, therapist_id, session_id, lock=True)
    if session.status == SessionStatus.completed:
        await db.commit()  # releases the row lock; commit keeps the instance loaded
        return session, False
    if session.status == SessionStatus.cancelled:
        await db.rollback()
        raise ConflictError("Session was cancelled")
    session.status = SessionStatus.completed
    session.ended_at = datetime.now(UTC)
    session.end_reason = session.end_reason or "ended_by_therapist"
    audit.record(
        db, "session.end", actor_id=therapist_id, entity_type="session", entity_id=session.id, ip=ip
    )
    await db.commit()
    await db.refresh(session)
    return session, True


async def cancel(
    db: AsyncSession, therapist_id: uuid.UUID, session_id: uuid.UUID, ip: str | None
) -> tuple[TherapySession, bool]:
    session = await get_owned(db, therapist_id, session_id, lock=True)
    if session.status == SessionStatus.cancelled:
        await db.commit()  # releases the row lock; commit keeps the instance loaded
        return session, False
    if session.status == SessionStatus.completed:
        await db.rollback()
        raise ConflictError("Session already completed")
    session.status = SessionStatus.cancelled
    session.ended_at = datetime.now(UTC)
    session.end_reason = "cancelled"
    audit.record(
        db,
        "session.cancel",
        actor_id=therapist_id,
        entity_type="session",
        entity_id=session.id,
        ip=ip,
    )
    await db.commit()
    await db.refresh(session)
    return session, True


async def append_transcript(
    db: AsyncSession,
    therapist_id: uuid.UUID,
    session_id: uuid.UUID,
    text: str,
    max_chars: int,
    speaker: Speaker = Speaker.patient,
) -> TranscriptEntry:
    """Records a line of an active session. Only the patient's lines join `sessions.transcript`
    (what the graph and the summary read); every line is a `TranscriptEntry` with its speaker."""
    if speaker == Speaker.patient:
        # One UPDATE appends atomically, so concurrent posts never overwrite each other.
        separator = case((TherapySession.transcript == "", ""), else_="\n")
        accepted = (
            await db.execute(
                update(TherapySession)
                .where(
                    TherapySession.id == session_id,
                    TherapySession.therapist_id == therapist_id,
                    TherapySession.status == SessionStatus.active,
                    func.length(TherapySession.transcript) + len(text) + 1 <= max_chars,
                )
                .values(transcript=TherapySession.transcript + separator + text)
                .returning(TherapySession.id)
            )
        ).scalar_one_or_none()
    else:
        accepted = await _other_speaker_fits(db, therapist_id, session_id, len(text), max_chars)
    if accepted is None:
        session = await get_owned(db, therapist_id, session_id)  # 404 when missing or not yours
        active = session.status == SessionStatus.active
        await db.rollback()
        if active:
            raise PayloadTooLargeError("The transcript of this session reached its size limit")
        raise ConflictError("Session is not active")
    entry = TranscriptEntry(session_id=session_id, speaker=speaker, text=text)
    db.add(entry)
    await db.commit()
    await db.refresh(entry)
    return entry


async def _other_speaker_fits(
    db: AsyncSession, therapist_id: uuid.UUID, session_id: uuid.UUID, length: int, max_chars: int
) -> uuid.UUID | None:
    """The session's id when it is yours, active, and a line of `length` keeps the therapist's
    and assistant's lines within `max_chars` (the session row lock serialises the check)."""
    session = (
        await db.execute(
            select(TherapySession)
            .where(
                TherapySession.id == session_id,
                TherapySession.therapist_id == therapist_id,
                TherapySession.status == SessionStatus.active,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if session is None:
        return None
    used = (
        await db.execute(
            select(func.coalesce(func.sum(func.length(TranscriptEntry.text) + 1), 0)).where(
                TranscriptEntry.session_id == session_id,
                TranscriptEntry.speaker != Speaker.patient,
            )
        )
    ).scalar_one()
    return session.id if used + length + 1 <= max_chars else None


async def list_records(
    db: AsyncSession,
    model: type[RecordT],
    session_id: uuid.UUID,
    offset: int,
    limit: int,
) -> tuple[Sequence[RecordT], int]:
    total = (
        await db.execute(select(func.count()).where(model.session_id == session_id))
    ).scalar_one()
    rows = await db.execute(
        select(model)
        .where(model.session_id == session_id)
        .order_by(model.created_at.desc(), model.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return rows.scalars().all(), total


def summary_of(session: TherapySession) -> dict[str, Any] | None:
    return session.summary
