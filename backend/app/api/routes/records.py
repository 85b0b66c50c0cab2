"""Session records: transcript, progress notes and their export, patient history, search."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import AUTHENTICATED_RESPONSES, ClientIpDep, CurrentUser, DbDep
from app.models import ClinicalNoteVersion
from app.models.enums import NoteFormat
from app.schemas.records import (
    ClinicalNoteDraftOut,
    ClinicalNoteIn,
    ClinicalNoteOut,
    HistorySessionOut,
    PatientHistoryOut,
    SearchHitOut,
    SearchOut,
    ThemeOut,
    TranscriptEntryOut,
    TranscriptOut,
    TrendSeriesOut,
    sections_out,
)
from app.schemas.sessions import SessionSummary
from app.services import clinical_notes, history, transcripts

router = APIRouter(prefix="/api", tags=["records"], responses=AUTHENTICATED_RESPONSES)

SESSION_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "Session not found"}}
MAX_SEARCH_RESULTS = 50
# Postgres text cannot hold NUL characters.
NO_NUL_PATTERN = r"^[^\x00]*$"


def _note_out(note: ClinicalNoteVersion) -> ClinicalNoteOut:
    return ClinicalNoteOut(
        id=note.id,
        session_id=note.session_id,
        version=note.version,
        format=note.format,
        sections=sections_out(note.format, note.sections),
        author_id=note.author_id,
        created_at=note.created_at,
    )


@router.get(
    "/sessions/{session_id}/transcript", response_model=TranscriptOut, responses=SESSION_NOT_FOUND
)
async def get_transcript(session_id: uuid.UUID, user: CurrentUser, db: DbDep) -> TranscriptOut:
    """Every line of the session in the order said: speaker, text and time."""
    entries = await transcripts.list_entries(db, user.id, session_id)
    return TranscriptOut(
        session_id=session_id, entries=[TranscriptEntryOut.model_validate(e) for e in entries]
    )


@router.get(
    "/sessions/{session_id}/clinical-note/draft",
    response_model=ClinicalNoteDraftOut,
    responses=SESSION_NOT_FOUND,
)
async def get_clinical_note_draft(
    session_id: uuid.UUID,
    user: CurrentUser,
    db: DbDep,
    note_format: Annotated[NoteFormat, Query(alias="format")] = NoteFormat.soap,
) -> ClinicalNoteDraftOut:
    """A progress note in `format`, prefilled from the summary, notes, progress and concerns.
    Nothing is saved."""
    values = await clinical_notes.draft(db, user.id, session_id, note_format)
    return ClinicalNoteDraftOut(
        session_id=session_id, format=note_format, sections=sections_out(note_format, values)
    )


@router.get(
    "/sessions/{session_id}/clinical-note",
    response_model=ClinicalNoteOut | None,
    responses=SESSION_NOT_FOUND,
)
async def get_clinical_note(
    session_id: uuid.UUID, user: CurrentUser, db: DbDep
) -> ClinicalNoteOut | None:
    """The current (latest) version of the session's progress note; null before the first save."""
    note = await clinical_notes.latest(db, user.id, session_id)
    return _note_out(note) if note else None


@router.get(
    "/sessions/{session_id}/clinical-note/versions",
    response_model=list[ClinicalNoteOut],
    responses=SESSION_NOT_FOUND,
)
async def list_clinical_note_versions(
    session_id: uuid.UUID, user: CurrentUser, db: DbDep
) -> list[ClinicalNoteOut]:
    """Every saved version, newest first."""
    return [_note_out(n) for n in await clinical_notes.versions(db, user.id, session_id)]


@router.post(
    "/sessions/{session_id}/clinical-note/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=ClinicalNoteOut,
    responses={
        **SESSION_NOT_FOUND,
        409: {
            "description": "The session is still active, or `baseVersion` is not the "
            "current version (another save happened)"
        },
    },
)
async def save_clinical_note(
    session_id: uuid.UUID, body: ClinicalNoteIn, user: CurrentUser, db: DbDep, ip: ClientIpDep
) -> ClinicalNoteOut:
    """Saves the note as a new version; earlier versions stay."""
    note = await clinical_notes.save(
        db,
        user.id,
        session_id,
        clinical_notes.NoteSave(body.format, body.sections, body.base_version),
        ip,
    )
    return _note_out(note)


@router.get(
    "/sessions/{session_id}/export.md",
    response_class=Response,
    responses={
        **SESSION_NOT_FOUND,
        200: {"content": {"text/markdown": {}}, "description": "Summary and progress note"},
    },
)
async def export_markdown(session_id: uuid.UUID, user: CurrentUser, db: DbDep) -> Response:
    """The summary and the current progress note as a Markdown file."""
    document = await clinical_notes.export_markdown(db, user.id, session_id)
    return Response(
        document,
        media_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="session-{session_id}.md"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/patients/{patient_id}/history",
    response_model=PatientHistoryOut,
    responses={404: {"description": "Patient not found"}},
)
async def get_patient_history(
    patient_id: uuid.UUID, user: CurrentUser, db: DbDep
) -> PatientHistoryOut:
    """The patient's latest sessions (oldest first) with summaries and top themes, and the
    mentions per session of their most frequent topics and emotions."""
    found = await history.patient_history(db, user.id, patient_id)
    return PatientHistoryOut(
        patient_id=patient_id,
        sessions=[
            HistorySessionOut(
                id=session.id,
                status=session.status,
                started_at=session.started_at,
                ended_at=session.ended_at,
                duration_seconds=session.duration_seconds,
                summary=SessionSummary.model_validate(session.summary) if session.summary else None,
                top_themes=[
                    ThemeOut(key=t.key, label=t.label, type=t.type, mentions=t.mentions)
                    for t in found.themes.get(session.id, [])
                ],
            )
            for session in found.sessions
        ],
        trend=[
            TrendSeriesOut(key=s.key, label=s.label, type=s.type, mentions=s.mentions)
            for s in found.trend
        ],
    )


@router.get("/search", response_model=SearchOut)
async def search_sessions(
    user: CurrentUser,
    db: DbDep,
    q: Annotated[str, Query(min_length=2, max_length=200, pattern=NO_NUL_PATTERN)],
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_RESULTS)] = 20,
) -> SearchOut:
    """Transcript lines of your sessions matching `q` (Postgres full-text, English; words,
    "quoted phrases", -excluded, or), best match first."""
    hits, total = await transcripts.search(db, user.id, q.strip(), limit)
    return SearchOut(
        query=q,
        total=total,
        items=[SearchHitOut.model_validate(hit, from_attributes=True) for hit in hits],
    )
