"""Hume webhooks: signature verification on the raw body, then event dispatch.

A chat reaches a session only through `custom_session_id` (the browser passes the session id when
it opens the EVI chat) or a humeChatId stored by `chat_started` — never by guessing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.models import TherapySession
from app.services import audit, tools
from app.services.background import BackgroundRunner
from app.services.errors import AuthenticationError, DomainError
from app.services.hume import HumeGateway

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hume-AI-Webhook-Signature"
TIMESTAMP_HEADER = "X-Hume-AI-Webhook-Timestamp"
MAX_CLOCK_SKEW_SECONDS = 180
EventName = Literal["chat_started", "chat_ended", "tool_call"]


class WebhookRejected(AuthenticationError):
    """401: unsigned, badly signed, stale or from the future. Nothing is written."""


class MalformedEvent(DomainError):
    status_code = 400


def signature_for(key: str, raw_body: bytes, timestamp: str) -> str:
    return hmac.new(key.encode(), raw_body + b"." + timestamp.encode(), hashlib.sha256).hexdigest()


def verify_signature(
    settings: Settings,
    raw_body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: float | None = None,
) -> None:
    key = settings.hume_webhook_signing_key
    if key is None:
        if settings.hume_webhook_insecure_skip_verify:
            return  # explicit development setting
        raise WebhookRejected("Webhook signing key not configured")
    if not signature or not timestamp:
        raise WebhookRejected("Missing webhook signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookRejected("Invalid webhook timestamp") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > MAX_CLOCK_SKEW_SECONDS:
        raise WebhookRejected("Webhook timestamp outside the allowed window")
    expected = signature_for(key.get_secret_value(), raw_body, timestamp)
    # Compared as bytes: compare_digest refuses non-ASCII str, which made a 500 of a bad header.
    given = signature.strip().lower().encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(expected.encode(), given):
        raise WebhookRejected("Invalid webhook signature")


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_name: EventName | None = None
    chat_id: str
    chat_group_id: str | None = None
    custom_session_id: str | None = None


class ChatEnded(_Event):
    end_reason: str | None = None
    duration_seconds: int | None = None


class ToolCallMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tool_call_id: str
    name: str
    parameters: str | dict[str, Any] = "{}"
    custom_session_id: str | None = None


class ToolCallEvent(_Event):
    tool_call_message: ToolCallMessage


EVENT_MODELS: dict[str, type[_Event]] = {
    "chat_started": _Event,
    "chat_ended": ChatEnded,
    "tool_call": ToolCallEvent,
}


def parse_event(payload: Any, expected: EventName | None) -> tuple[EventName, _Event]:
    if not isinstance(payload, dict):
        raise MalformedEvent("Webhook body must be a JSON object")
    name = payload.get("event_name") or expected
    if expected is not None and name != expected:
        raise MalformedEvent(f"Expected a {expected} event")
    if name not in EVENT_MODELS:
        raise MalformedEvent("Unknown event_name")
    event_name: EventName = name
    try:
        return event_name, EVENT_MODELS[event_name].model_validate(payload)
    except ValidationError as error:
        raise MalformedEvent(f"Invalid {name} event: {error.error_count()} errors") from None


async def _session_for(db: AsyncSession, event: _Event) -> TherapySession | None:
    bound = (
        await db.execute(select(TherapySession).where(TherapySession.hume_chat_id == event.chat_id))
    ).scalar_one_or_none()
    custom = event.custom_session_id
    if isinstance(event, ToolCallEvent):
        custom = custom or event.tool_call_message.custom_session_id
    if not custom:
        return bound
    try:
        requested = uuid.UUID(custom)
    except ValueError:
        return None
    if bound is not None:
        # A chat bound to one session can never be steered into another one.
        return bound if bound.id == requested else None
    session = await db.get(TherapySession, requested)
    if session is not None and session.hume_chat_id not in (None, event.chat_id):
        return None  # that session belongs to a different chat
    return session


async def handle_event(
    db: AsyncSession,
    name: EventName,
    event: _Event,
    context: tools.ToolContext,
    hume: HumeGateway,
    runner: BackgroundRunner,
) -> dict[str, Any]:
    session = await _session_for(db, event)
    if session is None:
        await db.rollback()
        logger.info("webhook %s ignored: no session for this chat", name)
        return {"status": "ignored", "reason": "no session for this chat"}
    session_id = session.id
    if name == "chat_started":
        session.hume_chat_id = event.chat_id
        session.hume_chat_group_id = event.chat_group_id
        audit.record(
            db,
            "hume.chat_started",
            actor_id=None,
            entity_type="session",
            entity_id=session_id,
            details={"chatId": event.chat_id},
        )
        try:
            await db.commit()
        except IntegrityError:  # the chat id already belongs to another session
            await db.rollback()
            return {"status": "ignored", "reason": "chat already bound"}
        return {"status": "ok", "sessionId": str(session_id)}
    if name == "chat_ended":
        assert isinstance(event, ChatEnded)
        session.hume_chat_id = session.hume_chat_id or event.chat_id
        session.end_reason = event.end_reason or session.end_reason
        session.duration_seconds = event.duration_seconds
        audit.record(
            db,
            "hume.chat_ended",
            actor_id=None,
            entity_type="session",
            entity_id=session_id,
            details={"chatId": event.chat_id},
        )
        await db.commit()
        return {"status": "ok", "sessionId": str(session_id)}
    assert isinstance(event, ToolCallEvent)
    call = event.tool_call_message
    result = await tools.run_tool_call(
        context, session, call.tool_call_id, call.name, call.parameters
    )
    if hume.configured:
        # Off the request path: EVI gets its answer; the webhook answers Hume at once.
        async def answer_evi() -> None:
            await hume.send_tool_result(
                event.chat_id, result.tool_call_id, result.content, result.is_error
            )

        runner.submit(("evi", event.chat_id), "hume_tool_result", answer_evi)
    return {
        "status": "ok",
        "sessionId": str(session_id),
        "result": result.model_dump(mode="json", by_alias=True),
    }
