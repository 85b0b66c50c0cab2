"""The voice-agent tools behind one handler, run for the browser relay (POST .../tool-calls).

Every call is idempotent by toolCallId: the first call records its result in `tool_calls` in the
same transaction as its effect; a replay (or a concurrent duplicate) returns that result and
writes nothing. Invalid parameters produce an error *result* for EVI, never an HTTP error.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.models import SessionConcern, SessionNote, SessionProgress, TherapySession, ToolCall
from app.models.enums import (
    ConcernType,
    Importance,
    NoteCategory,
    ProgressType,
    SessionStatus,
    Severity,
)
from app.schemas.events import ConcernFlagged, NoteAdded, ProgressMarked
from app.schemas.tools import ToolResultOut
from app.services import audit
from app.services.events import Broadcaster
from app.services.graph.pipeline import GraphPipeline

logger = logging.getLogger(__name__)

Text = Annotated[str, Field(min_length=1, max_length=5000)]
OptionalText = Annotated[str, Field(max_length=5000)] | None


class _ToolParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SaveSessionNote(_ToolParameters):
    content: Text
    category: NoteCategory
    importance: Importance = Importance.medium


class MarkProgress(_ToolParameters):
    progress_type: ProgressType
    description: Text
    evidence: OptionalText = None


class FlagConcern(_ToolParameters):
    concern_type: ConcernType
    severity: Severity
    description: Text
    recommended_action: OptionalText = None


class GenerateSessionSummary(_ToolParameters):
    pass


@dataclass
class ToolContext:
    db: AsyncSession
    settings: Settings
    broadcaster: Broadcaster
    pipeline: GraphPipeline
    actor_id: uuid.UUID | None
    ip: str | None
    source: str = "voice_agent"


@dataclass(frozen=True)
class Outcome:
    content: str
    is_error: bool = False
    # Run after commit: broadcasts and graph work must not see uncommitted rows.
    after_commit: Callable[[], Awaitable[None]] | None = None


async def _save_note(context: ToolContext, session: TherapySession, p: SaveSessionNote) -> Outcome:
    note = SessionNote(
        session_id=session.id,
        content=p.content,
        category=p.category,
        importance=p.importance,
        source=context.source,
    )
    context.db.add(note)
    await context.db.flush()
    note_id = note.id

    async def after() -> None:
        await context.broadcaster.emit_to_session(
            session.id,
            NoteAdded(
                session_id=session.id,
                id=note_id,
                content=p.content,
                category=p.category,
                importance=p.importance,
            ),
        )
        context.pipeline.submit_text(session.id, p.content)

    return Outcome(f"Note saved ({p.category.value}, {p.importance.value}).", after_commit=after)


async def _mark_progress(context: ToolContext, session: TherapySession, p: MarkProgress) -> Outcome:
    progress = SessionProgress(
        session_id=session.id,
        progress_type=p.progress_type,
        description=p.description,
        evidence=p.evidence,
    )
    context.db.add(progress)
    await context.db.flush()
    progress_id = progress.id

    async def after() -> None:
        await context.broadcaster.emit_to_session(
            session.id,
            ProgressMarked(
                session_id=session.id,
                id=progress_id,
                progress_type=p.progress_type,
                description=p.description,
            ),
        )

    return Outcome(f"Progress recorded ({p.progress_type.value}).", after_commit=after)


async def _flag_concern(context: ToolContext, session: TherapySession, p: FlagConcern) -> Outcome:
    concern = SessionConcern(
        session_id=session.id,
        concern_type=p.concern_type,
        severity=p.severity,
        description=p.description,
        recommended_action=p.recommended_action,
    )
    context.db.add(concern)
    await context.db.flush()
    concern_id = concern.id

    async def after() -> None:
        await context.broadcaster.emit_to_session(
            session.id,
            ConcernFlagged(
                session_id=session.id,
                id=concern_id,
                concern_type=p.concern_type,
                severity=p.severity,
                description=p.description,
            ),
        )
        context.pipeline.submit_text(session.id, p.description)

    return Outcome(
        f"Concern flagged ({p.concern_type.value}, {p.severity.value}); the therapist "
        "has been alerted.",
        after_commit=after,
    )


async def _generate_summary(
    context: ToolContext, session: TherapySession, p: GenerateSessionSummary
) -> Outcome:
    summary = await context.pipeline.summarize(context.db, session)
    return Outcome(json.dumps(summary.model_dump(mode="json", by_alias=True)))


ToolFunction = Callable[[ToolContext, TherapySession, Any], Awaitable[Outcome]]
TOOLS: dict[str, tuple[type[_ToolParameters], ToolFunction]] = {
    "save_session_note": (SaveSessionNote, _save_note),
    "mark_progress": (MarkProgress, _mark_progress),
    "flag_concern": (FlagConcern, _flag_concern),
    "generate_session_summary": (GenerateSessionSummary, _generate_summary),
}


# Largest parameters stored and evaluated; real calls are a few hundred bytes.
MAX_PARAMETERS_BYTES = 16 * 1024


def _parse_parameters(raw: dict[str, Any] | str | None) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        parsed = json.loads(raw)
        if not isinstance(parsed, dict):
            raise ValueError("parameters must be a JSON object")
        return parsed
    return raw


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"]) or "parameters"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


async def _evaluate(
    context: ToolContext, session: TherapySession, name: str, parameters: dict[str, Any]
) -> Outcome:
    tool = TOOLS.get(name)
    if tool is None:
        return Outcome(f"Unknown tool {name!r}", is_error=True)
    if session.status != SessionStatus.active and name != "generate_session_summary":
        return Outcome("The session is not active", is_error=True)
    model, function = tool
    try:
        validated = model.model_validate(parameters)
    except ValidationError as error:
        return Outcome(f"Invalid parameters: {_describe(error)}", is_error=True)
    return await function(context, session, validated)


async def run_tool_call(
    context: ToolContext,
    session: TherapySession,
    tool_call_id: str,
    name: str,
    raw_parameters: dict[str, Any] | str | None,
) -> ToolResultOut:
    db = context.db
    session_id = session.id  # read before any rollback expires the instance
    try:
        parameters = _parse_parameters(raw_parameters)
        parse_error = None
    except (ValueError, json.JSONDecodeError) as error:
        parameters, parse_error = {}, f"Invalid parameters: {error}"
    # Only what a known tool could use is kept: the call record is no dump for arbitrary data.
    if name not in TOOLS:
        parameters, parse_error = {}, f"Unknown tool {name!r}"
    elif len(json.dumps(parameters)) > MAX_PARAMETERS_BYTES:
        parameters, parse_error = {}, "Invalid parameters: too large"

    # Claim the toolCallId first: a concurrent duplicate blocks here until we commit, then finds
    # the claim taken and returns the stored result.
    claimed = (
        await db.execute(
            insert(ToolCall)
            .values(
                id=uuid.uuid4(),
                tool_call_id=tool_call_id,
                session_id=session_id,
                name=name,
                parameters=parameters,
                result={},
            )
            .on_conflict_do_nothing(index_elements=["tool_call_id"])
            .returning(ToolCall.id)
        )
    ).scalar_one_or_none()
    if claimed is None:
        await db.rollback()
        return await _stored_result(db, session_id, tool_call_id, name)

    outcome = (
        Outcome(parse_error, is_error=True)
        if parse_error
        else await _evaluate(context, session, name, parameters)
    )
    result = {"content": outcome.content, "isError": outcome.is_error}
    stored = await db.get(ToolCall, claimed)
    assert stored is not None
    stored.result = result
    audit.record(
        db,
        "tool.call",
        actor_id=context.actor_id,
        entity_type="session",
        entity_id=session_id,
        ip=context.ip,
        details={"tool": name, "toolCallId": tool_call_id, "isError": outcome.is_error},
    )
    await db.commit()
    logger.info("tool call handled", extra={"tool": name, "is_error": outcome.is_error})
    if outcome.after_commit is not None:
        await outcome.after_commit()
    return ToolResultOut(
        tool_call_id=tool_call_id, name=name, content=outcome.content, is_error=outcome.is_error
    )


async def _stored_result(
    db: AsyncSession, session_id: uuid.UUID, tool_call_id: str, name: str
) -> ToolResultOut:
    stored = (
        await db.execute(select(ToolCall).where(ToolCall.tool_call_id == tool_call_id))
    ).scalar_one()
    if stored.session_id != session_id:
        # Never reveal another session's result; the id is simply unusable here.
        return ToolResultOut(
            tool_call_id=tool_call_id, name=name, content="toolCallId already used", is_error=True
        )
    return ToolResultOut(
        tool_call_id=tool_call_id,
        name=stored.name,
        content=str(stored.result.get("content", "")),
        is_error=bool(stored.result.get("isError", False)),
    )
