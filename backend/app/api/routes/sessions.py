from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from app.api.deps import (
    AUTHENTICATED_RESPONSES,
    BroadcasterDep,
    ClientIpDep,
    CurrentUser,
    DbDep,
    PaginationDep,
    PipelineDep,
    SettingsDep,
)
from app.models import SessionConcern, SessionNote, SessionProgress, TherapySession
from app.models.enums import SessionStatus, Speaker
from app.schemas.chats import HumeChatIn, HumeChatOut
from app.schemas.common import Page
from app.schemas.events import SessionUpdate, TranscriptEntryAdded
from app.schemas.sessions import (
    ConcernOut,
    GraphOut,
    InsightsOut,
    NodeMentionsOut,
    NoteOut,
    ProgressOut,
    SessionDetail,
    SessionOut,
    SessionStart,
    SessionSummary,
    SummaryOut,
    TranscriptAccepted,
    TranscriptIn,
)
from app.schemas.tools import ToolCallIn, ToolResultOut
from app.services import hume_chats, therapy_sessions, tools
from app.services.graph import store

router = APIRouter(prefix="/api/sessions", tags=["sessions"], responses=AUTHENTICATED_RESPONSES)

NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "Session not found"}}
OutT = TypeVar("OutT", bound=BaseModel)


async def _announce(broadcaster: BroadcasterDep, session: TherapySession) -> None:
    await broadcaster.emit_to_session(
        session.id, SessionUpdate(session_id=session.id, status=session.status)
    )


@router.get("", response_model=Page[SessionOut])
async def list_sessions(
    user: CurrentUser,
    db: DbDep,
    page: PaginationDep,
    patient_id: Annotated[uuid.UUID | None, Query(alias="patientId")] = None,
    status_filter: Annotated[SessionStatus | None, Query(alias="status")] = None,
) -> Page[SessionOut]:
    items, total = await therapy_sessions.list_sessions(
        db,
        user.id,
        patient_id=patient_id,
        status=status_filter,
        offset=page.offset,
        limit=page.page_size,
    )
    return Page[SessionOut](
        items=[SessionOut.model_validate(item) for item in items],
        total=total,
        page=page.page,
        page_size=page.page_size,
    )


@router.post(
    "/start",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionDetail,
    responses={404: {"description": "Patient not found"}},
)
async def start_session(
    body: SessionStart,
    user: CurrentUser,
    db: DbDep,
    ip: ClientIpDep,
    broadcaster: BroadcasterDep,
    pipeline: PipelineDep,
) -> SessionDetail:
    """Starts a session for one of your patients; their previous active session is completed."""
    session, superseded = await therapy_sessions.start(db, user.id, body.patient_id, ip)
    for old_id in superseded:
        await broadcaster.emit_to_session(
            old_id, SessionUpdate(session_id=old_id, status=SessionStatus.completed)
        )
        await pipeline.submit_summary(db, old_id)
    await _announce(broadcaster, session)
    return SessionDetail.model_validate(session)


@router.get("/{session_id}", response_model=SessionDetail, responses=NOT_FOUND)
async def get_session(session_id: uuid.UUID, user: CurrentUser, db: DbDep) -> SessionDetail:
    return SessionDetail.model_validate(await therapy_sessions.get_owned(db, user.id, session_id))


@router.post(
    "/{session_id}/end",
    response_model=SessionDetail,
    responses={**NOT_FOUND, 409: {"description": "The session was cancelled"}},
)
async def end_session(
    session_id: uuid.UUID,
    user: CurrentUser,
    db: DbDep,
    ip: ClientIpDep,
    broadcaster: BroadcasterDep,
    pipeline: PipelineDep,
) -> SessionDetail:
    """Idempotent: ending a completed session returns it unchanged. Queues the summary."""
    session, ended_now = await therapy_sessions.end(db, user.id, session_id, ip)
    if ended_now:
        await pipeline.submit_summary(db, session.id)
        await _announce(broadcaster, session)
    return SessionDetail.model_validate(session)


@router.post(
    "/{session_id}/cancel",
    response_model=SessionDetail,
    responses={**NOT_FOUND, 409: {"description": "The session already completed"}},
)
async def cancel_session(
    session_id: uuid.UUID,
    user: CurrentUser,
    db: DbDep,
    ip: ClientIpDep,
    broadcaster: BroadcasterDep,
) -> SessionDetail:
    session, cancelled_now = await therapy_sessions.cancel(db, user.id, session_id, ip)
    if cancelled_now:
        await _announce(broadcaster, session)
    return SessionDetail.model_validate(session)


@router.post(
    "/{session_id}/transcript",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TranscriptAccepted,
    responses={
        **NOT_FOUND,
        409: {"description": "The session is not active"},
        413: {
            "description": "The session's transcript reached MAX_TRANSCRIPT_CHARS, or the request "
            "body is over MAX_REQUEST_BODY_BYTES"
        },
    },
)
async def post_transcript(
    session_id: uuid.UUID,
    body: TranscriptIn,
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    pipeline: PipelineDep,
    broadcaster: BroadcasterDep,
) -> TranscriptAccepted:
    """Appends a line (the patient's by default) to the transcript; the patient's lines also queue
    graph processing. No LLM call happens here."""
    # The graph update is recorded in the transcript's own transaction: accepted is never lost.
    feeds_graph = body.speaker == Speaker.patient
    job = pipeline.record_transcript(db, session_id, body.text) if feeds_graph else None
    entry = await therapy_sessions.append_transcript(
        db, user.id, session_id, body.text, settings.max_transcript_chars, body.speaker
    )
    if job is not None:
        pipeline.jobs.start(job)
    await broadcaster.emit_to_session(
        session_id,
        TranscriptEntryAdded(
            session_id=session_id,
            id=entry.id,
            speaker=entry.speaker,
            text=entry.text,
            spoken_at=entry.spoken_at,
        ),
    )
    return TranscriptAccepted(session_id=session_id)


@router.get("/{session_id}/graph", response_model=GraphOut, responses=NOT_FOUND)
async def get_graph(session_id: uuid.UUID, user: CurrentUser, db: DbDep) -> GraphOut:
    await therapy_sessions.get_owned(db, user.id, session_id)
    return await store.graph_of(db, session_id)


@router.get(
    "/{session_id}/graph/nodes/{node_id}/mentions",
    response_model=NodeMentionsOut,
    responses={404: {"description": "Session or node not found"}},
)
async def get_node_mentions(
    session_id: uuid.UUID, node_id: uuid.UUID, user: CurrentUser, db: DbDep
) -> NodeMentionsOut:
    """When a node was mentioned and in which words (the graph's node details)."""
    await therapy_sessions.get_owned(db, user.id, session_id)
    return await store.mentions_of(db, session_id, node_id)


@router.get("/{session_id}/insights", response_model=InsightsOut, responses=NOT_FOUND)
async def get_insights(session_id: uuid.UUID, user: CurrentUser, db: DbDep) -> InsightsOut:
    await therapy_sessions.get_owned(db, user.id, session_id)
    return await store.insights_of(db, session_id)


async def _records_page(
    db: DbDep,
    user: CurrentUser,
    session_id: uuid.UUID,
    page: PaginationDep,
    model: type[SessionNote] | type[SessionProgress] | type[SessionConcern],
    out: Callable[[Any], OutT],
) -> Page[OutT]:
    await therapy_sessions.get_owned(db, user.id, session_id)
    rows: Sequence[Any]
    rows, total = await therapy_sessions.list_records(
        db, model, session_id, page.offset, page.page_size
    )
    return Page[OutT](
        items=[out(row) for row in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.get("/{session_id}/notes", response_model=Page[NoteOut], responses=NOT_FOUND)
async def list_notes(
    session_id: uuid.UUID, user: CurrentUser, db: DbDep, page: PaginationDep
) -> Page[NoteOut]:
    return await _records_page(db, user, session_id, page, SessionNote, NoteOut.model_validate)


@router.get("/{session_id}/progress", response_model=Page[ProgressOut], responses=NOT_FOUND)
async def list_progress(
    session_id: uuid.UUID, user: CurrentUser, db: DbDep, page: PaginationDep
) -> Page[ProgressOut]:
    return await _records_page(
        db, user, session_id, page, SessionProgress, ProgressOut.model_validate
    )


@router.get("/{session_id}/concerns", response_model=Page[ConcernOut], responses=NOT_FOUND)
async def list_concerns(
    session_id: uuid.UUID, user: CurrentUser, db: DbDep, page: PaginationDep
) -> Page[ConcernOut]:
    return await _records_page(
        db, user, session_id, page, SessionConcern, ConcernOut.model_validate
    )


@router.get("/{session_id}/summary", response_model=SummaryOut, responses=NOT_FOUND)
async def get_summary(session_id: uuid.UUID, user: CurrentUser, db: DbDep) -> SummaryOut:
    """`summary` is null until the session has ended and its summary has been written."""
    session = await therapy_sessions.get_owned(db, user.id, session_id)
    summary = SessionSummary.model_validate(session.summary) if session.summary else None
    return SummaryOut(session_id=session.id, status=session.status, summary=summary)


@router.post("/{session_id}/tool-calls", response_model=ToolResultOut, responses=NOT_FOUND)
async def relay_tool_call(
    session_id: uuid.UUID,
    body: ToolCallIn,
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    broadcaster: BroadcasterDep,
    pipeline: PipelineDep,
    ip: ClientIpDep,
) -> ToolResultOut:
    """The browser relays an EVI tool call; the result goes back to EVI as `tool_response` (or
    `tool_error`) on the browser's socket — the one answer per tool call (the webhook only records).

    Idempotent by toolCallId. Invalid parameters give `isError: true`, never a 5xx.
    """
    session = await therapy_sessions.get_owned(db, user.id, session_id)
    context = tools.ToolContext(
        db=db,
        settings=settings,
        broadcaster=broadcaster,
        pipeline=pipeline,
        actor_id=user.id,
        ip=ip,
    )
    return await tools.run_tool_call(
        context, session, body.tool_call_id, body.name, body.parameters
    )


@router.post(
    "/{session_id}/chats",
    status_code=status.HTTP_201_CREATED,
    response_model=HumeChatOut,
    responses={
        **NOT_FOUND,
        200: {"model": HumeChatOut, "description": "This chat was already bound to this session"},
        409: {
            "description": "The chat or its chat group is bound to another session, "
            "or the session is not active"
        },
    },
)
async def bind_chat(
    session_id: uuid.UUID,
    body: HumeChatIn,
    user: CurrentUser,
    db: DbDep,
    ip: ClientIpDep,
    response: Response,
) -> HumeChatOut:
    """Reports an EVI chat of this session (from EVI's `chat_metadata`: chat id and chat group).

    The owner's binding is what authorises Hume webhooks for that chat and for later chats of its
    group (a reconnect or resume makes a new chat in the same group).
    """
    chat, created = await hume_chats.bind(
        db, user.id, session_id, body.chat_id, body.chat_group_id, ip
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return HumeChatOut.model_validate(chat)


@router.get("/{session_id}/chats", response_model=list[HumeChatOut], responses=NOT_FOUND)
async def list_chats(session_id: uuid.UUID, user: CurrentUser, db: DbDep) -> list[HumeChatOut]:
    """The session's EVI chats, oldest first."""
    chats = await hume_chats.list_chats(db, user.id, session_id)
    return [HumeChatOut.model_validate(chat) for chat in chats]
