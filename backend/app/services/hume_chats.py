"""Hume chats of a session: the owner's binding, and how a webhook finds its session.

A session has many chats: each EVI socket is a new chat, and a reconnect or resume makes a new
chat in the same chat group. The browser reports each chat (`chat_metadata`) through an
authenticated call; that binding, made by the session's owner, is the only thing that routes
webhooks to a session — by the chat's id, or by its group once one chat of the group is bound.
Nothing in a webhook body (`custom_session_id` included) can choose a session.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import HumeChat, HumeEvent, TherapySession
from app.models.enums import SessionStatus
from app.services import audit, therapy_sessions
from app.services.errors import ConflictError

CHAT_ELSEWHERE = "This Hume chat is bound to another session"
GROUP_ELSEWHERE = "This Hume chat group is bound to another session"
NOT_ACTIVE = "The session is not active"
BIND_ATTEMPTS = 2


def from_hume_ms(value: int | None) -> datetime | None:
    """Hume's Unix milliseconds as an aware datetime; nonsense values become None."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


async def _lock_group(db: AsyncSession, chat_group_id: str) -> None:
    # Serialises bindings of one chat group, so two sessions can never both claim it.
    await db.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:group, 0))"),
        {"group": chat_group_id},
    )


async def _group_session(db: AsyncSession, chat_group_id: str) -> uuid.UUID | None:
    owner: uuid.UUID | None = await db.scalar(
        select(HumeChat.session_id)
        .where(HumeChat.chat_group_id == chat_group_id)
        .order_by(HumeChat.created_at)
        .limit(1)
    )
    return owner


async def _chat(db: AsyncSession, chat_id: str) -> HumeChat | None:
    chat: HumeChat | None = await db.scalar(select(HumeChat).where(HumeChat.chat_id == chat_id))
    return chat


async def refresh_session_duration(db: AsyncSession, session_id: uuid.UUID) -> None:
    """The session's duration is the sum of its chats' (each socket lasts at most 30 minutes)."""
    total = (
        select(func.sum(HumeChat.duration_seconds))
        .where(HumeChat.session_id == session_id)
        .scalar_subquery()
    )
    await db.execute(
        update(TherapySession).where(TherapySession.id == session_id).values(duration_seconds=total)
    )


async def _adopt_recorded_events(db: AsyncSession, chat: HumeChat) -> None:
    """Webhooks that arrived before the chat was bound: apply what they said, then file them
    under the session."""
    recorded = (
        await db.scalars(
            select(HumeEvent)
            .where(HumeEvent.chat_id == chat.chat_id, HumeEvent.session_id.is_(None))
            .order_by(HumeEvent.id)
        )
    ).all()
    for event in recorded:
        if event.chat_group_id != chat.chat_group_id:
            continue  # not this chat's events: the group must match too
        if event.event_name == "chat_started" and event.occurred_at is not None:
            chat.started_at = event.occurred_at
        if event.event_name == "chat_ended":
            chat.ended_at = event.occurred_at or chat.ended_at
            chat.end_reason = event.end_reason or chat.end_reason
            chat.duration_seconds = event.duration_seconds
        event.session_id = chat.session_id
    await db.flush()
    if any(event.event_name == "chat_ended" for event in recorded):
        await refresh_session_duration(db, chat.session_id)


async def bind(
    db: AsyncSession,
    therapist_id: uuid.UUID,
    session_id: uuid.UUID,
    chat_id: str,
    chat_group_id: str,
    ip: str | None,
) -> tuple[HumeChat, bool]:
    """Binds a chat (and so its group) to the owner's session. Returns it and whether it is new.

    404 for another therapist's session; 409 when the chat or its group belongs to another
    session, or the session is not active. Re-reporting a bound chat returns it unchanged.
    """
    for attempt in range(BIND_ATTEMPTS):
        session = await therapy_sessions.get_owned(db, therapist_id, session_id)
        await _lock_group(db, chat_group_id)
        existing = await _chat(db, chat_id)
        if existing is not None:
            await db.commit()  # nothing written; ends the transaction and its group lock
            if existing.session_id == session_id and existing.chat_group_id == chat_group_id:
                return existing, False
            raise ConflictError(CHAT_ELSEWHERE)
        if await _group_session(db, chat_group_id) not in (None, session_id):
            await db.rollback()
            raise ConflictError(GROUP_ELSEWHERE)
        if session.status != SessionStatus.active:
            await db.rollback()
            raise ConflictError(NOT_ACTIVE)
        chat = HumeChat(chat_id=chat_id, chat_group_id=chat_group_id, session_id=session_id)
        db.add(chat)
        try:
            await db.flush()
        except IntegrityError:
            # A webhook recorded the same chat (through its group) a moment ago: look again.
            await db.rollback()
            if attempt == BIND_ATTEMPTS - 1:
                raise
            continue
        await _adopt_recorded_events(db, chat)
        audit.record(
            db,
            "hume.chat_bound",
            actor_id=therapist_id,
            entity_type="session",
            entity_id=session_id,
            ip=ip,
            details={"chatId": chat_id, "chatGroupId": chat_group_id},
        )
        await db.commit()
        return chat, True
    raise AssertionError("unreachable")  # pragma: no cover


async def list_chats(
    db: AsyncSession, therapist_id: uuid.UUID, session_id: uuid.UUID
) -> Sequence[HumeChat]:
    await therapy_sessions.get_owned(db, therapist_id, session_id)
    return (
        await db.scalars(
            select(HumeChat)
            .where(HumeChat.session_id == session_id)
            .order_by(HumeChat.created_at, HumeChat.started_at, HumeChat.id)
        )
    ).all()


async def route(db: AsyncSession, chat_id: str, chat_group_id: str) -> HumeChat | None:
    """The bound chat a webhook is about, or None. A new chat of a bound group (a reconnect that
    the browser has not reported yet) is recorded in the group's session."""
    chat = await _chat(db, chat_id)
    if chat is not None:
        return chat if chat.chat_group_id == chat_group_id else None
    owner = await _group_session(db, chat_group_id)
    if owner is None:
        return None
    await db.execute(
        insert(HumeChat)
        .values(id=uuid.uuid4(), chat_id=chat_id, chat_group_id=chat_group_id, session_id=owner)
        .on_conflict_do_nothing(index_elements=["chat_id"])
    )
    chat = await _chat(db, chat_id)
    if chat is None or chat.session_id != owner or chat.chat_group_id != chat_group_id:
        return None
    await _adopt_recorded_events(db, chat)
    return chat
