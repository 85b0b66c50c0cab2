"""Hume webhooks: signature verification on the raw body, then parsing with Hume's SDK models and
recording what happened.

Routing (see `hume_chats`): a webhook reaches a session only through a chat — or the chat group
of a chat — that the session's owner bound. `custom_session_id` comes from a browser and never
authorises anything. A webhook for an unknown chat is recorded (metadata only) and ignored.

The `tool_call` webhook is a notification: it is recorded, never run. The browser answers EVI on
its socket after relaying the call to POST /api/sessions/{id}/tool-calls, so each tool_call_id
gets exactly one answer (docs/hume.md says why).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any, Literal

from hume.empathic_voice import (
    WebhookEventChatEnded,
    WebhookEventChatStarted,
    WebhookEventToolCall,
)
from pydantic import ValidationError
from sqlalchemy import bindparam, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import Prepared, pooled_driver_connection
from app.models import AuditLog, HumeChat, HumeEvent
from app.services import audit, hume_chats
from app.services.errors import AuthenticationError, DomainError

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hume-AI-Webhook-Signature"
TIMESTAMP_HEADER = "X-Hume-AI-Webhook-Timestamp"
MAX_CLOCK_SKEW_SECONDS = 180
EventName = Literal["chat_started", "chat_ended", "tool_call"]
WebhookEvent = WebhookEventChatStarted | WebhookEventChatEnded | WebhookEventToolCall
END_REASON_LENGTH = 64


class WebhookRejected(AuthenticationError):
    """401: unsigned, badly signed, stale or from the future. Nothing is written."""

    def __init__(self, detail: str, outcome: str) -> None:
        super().__init__(detail)
        self.outcome = outcome  # the dimini_webhooks_total label (core/metrics.WEBHOOK_OUTCOMES)


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
        raise WebhookRejected("Webhook signing key not configured", "not_configured")
    if not signature or not timestamp:
        raise WebhookRejected("Missing webhook signature", "missing_signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookRejected("Invalid webhook timestamp", "bad_signature") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > MAX_CLOCK_SKEW_SECONDS:
        raise WebhookRejected("Webhook timestamp outside the allowed window", "stale")
    expected = signature_for(key.get_secret_value(), raw_body, timestamp)
    # Compared as bytes: compare_digest refuses non-ASCII str, which made a 500 of a bad header.
    given = signature.strip().lower().encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(expected.encode(), given):
        raise WebhookRejected("Invalid webhook signature", "bad_signature")


# Hume's own models (the pinned `hume` SDK) are the contract for what a webhook body holds.
EVENT_MODELS: dict[str, type[WebhookEvent]] = {
    "chat_started": WebhookEventChatStarted,
    "chat_ended": WebhookEventChatEnded,
    "tool_call": WebhookEventToolCall,
}


def parse_event(payload: Any, expected: EventName | None) -> tuple[EventName, WebhookEvent]:
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
    except (ValidationError, ValueError) as error:
        count = error.error_count() if isinstance(error, ValidationError) else 1
        raise MalformedEvent(f"Invalid {name} event: {count} errors") from None


def _event_values(name: EventName, event: WebhookEvent) -> dict[str, Any]:
    """The event's metadata. Tool arguments (what the patient said) are never stored here."""
    values: dict[str, Any] = {
        "event_name": name,
        "chat_id": event.chat_id,
        "chat_group_id": event.chat_group_id,
    }
    if isinstance(event, WebhookEventChatStarted):
        values["occurred_at"] = hume_chats.from_hume_ms(event.start_time)
    elif isinstance(event, WebhookEventChatEnded):
        values["occurred_at"] = hume_chats.from_hume_ms(event.end_time)
        values["end_reason"] = str(event.end_reason)[:END_REASON_LENGTH]
        values["duration_seconds"] = event.duration_seconds
    else:
        values.update(_tool_call_fields(event))
    return values


async def _insert_once(db: AsyncSession, values: dict[str, Any]) -> bool:
    """Record the event unless this delivery is already recorded (uq_hume_events_delivery):
    a replay, or Hume's retry of an answer it did not get. True when it is new."""
    statement = pg_insert(HumeEvent).values(**values).on_conflict_do_nothing()
    inserted = await db.execute(statement.returning(HumeEvent.id))
    return inserted.first() is not None


def _tool_call_fields(event: WebhookEventToolCall) -> dict[str, Any]:
    return {
        "occurred_at": hume_chats.from_hume_ms(event.timestamp),
        "tool_call_id": event.tool_call_message.tool_call_id[:255],
        "tool_name": event.tool_call_message.name[:100],
    }


def _typed(name: str, column: Any) -> Any:
    return bindparam(name, type_=column.type)


def _tool_call_of_bound_chat() -> Prepared:
    """One statement, so one round trip and atomic without a transaction: the bound chat's
    session, the event's metadata row and its audit row (nothing when the chat is not bound
    exactly so; the general path then routes it by chat group, or ignores it)."""
    events, audits = HumeEvent.__table__.c, AuditLog.__table__.c
    chat = (
        select(HumeChat.session_id)
        .where(
            HumeChat.chat_id == _typed("chat_id", events.chat_id),
            HumeChat.chat_group_id == _typed("chat_group_id", events.chat_group_id),
        )
        .cte("chat")
    )
    event_row = pg_insert(HumeEvent).from_select(
        [
            "event_name",
            "chat_id",
            "chat_group_id",
            "session_id",
            "occurred_at",
            "tool_call_id",
            "tool_name",
        ],
        select(
            literal("tool_call", events.event_name.type),
            _typed("chat_id", events.chat_id),
            _typed("chat_group_id", events.chat_group_id),
            chat.c.session_id,
            _typed("occurred_at", events.occurred_at),
            _typed("tool_call_id", events.tool_call_id),
            _typed("tool_name", events.tool_name),
        ),
    )
    # A replay inserts no event row (uq_hume_events_delivery), and so no audit row either.
    event = event_row.on_conflict_do_nothing().returning(events.session_id).cte("event")
    audit_row = insert(AuditLog).from_select(
        ["action", "entity_type", "entity_id", "details"],  # no actor, no address: Hume's
        select(
            literal("hume.tool_call", audits.action.type),
            literal("session", audits.entity_type.type),
            event.c.session_id,
            _typed("details", audits.details),
        ),
    )
    return Prepared.of(select(chat.c.session_id).add_cte(event, audit_row.cte("audit")))


_TOOL_CALL_OF_BOUND_CHAT = _tool_call_of_bound_chat()


async def _record_tool_call(
    engine: AsyncEngine, event: WebhookEventToolCall
) -> dict[str, Any] | None:
    """The hot path: a tool_call of a chat bound by id, recorded in one statement on a pooled
    connection. No ORM session (its setup, transaction bookkeeping and commit were ~20% of the
    request) and no HumeEvent object built only to read its values back."""
    fields = _tool_call_fields(event)
    async with pooled_driver_connection(engine) as connection:
        row = await _TOOL_CALL_OF_BOUND_CHAT.fetchrow_on(
            connection,
            chat_id=event.chat_id,
            chat_group_id=event.chat_group_id,
            details=json.dumps({"toolCallId": fields["tool_call_id"], "tool": fields["tool_name"]}),
            **fields,
        )
    return None if row is None else {"status": "recorded", "sessionId": str(row[0])}


async def handle_event(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    name: EventName,
    event: WebhookEvent,
) -> dict[str, Any]:
    if isinstance(event, WebhookEventToolCall):
        recorded = await _record_tool_call(engine, event)
        if recorded is not None:
            return recorded
    async with session_factory() as db:
        return await _record_routed(db, name, event)


async def _record_routed(db: AsyncSession, name: EventName, event: WebhookEvent) -> dict[str, Any]:
    """Every other event, and a tool_call of a chat known only by its group (or not at all).
    A delivery already recorded is answered as the first one was, and changes nothing."""
    values = _event_values(name, event)
    chat = await hume_chats.route(db, event.chat_id, event.chat_group_id)
    if chat is None:
        if await _insert_once(db, values):
            await db.commit()
            logger.info("webhook %s recorded and ignored: its chat is not bound to a session", name)
        return {"status": "ignored"}
    session_id = chat.session_id
    status = "recorded" if name == "tool_call" else "ok"
    answer = {"status": status, "sessionId": str(session_id)}
    if not await _insert_once(db, {**values, "session_id": session_id}):
        await db.commit()  # route() may have bound a new chat of the group: keep that
        return answer
    if name == "chat_started":
        chat.started_at = values["occurred_at"] or chat.started_at
    elif name == "chat_ended":
        chat.ended_at = values["occurred_at"] or chat.ended_at
        chat.end_reason = values["end_reason"]
        chat.duration_seconds = values["duration_seconds"]
        await db.flush()
        await hume_chats.refresh_session_duration(db, session_id)
    else:
        # Recorded only: the browser relay runs the tool and answers EVI (one answer per call).
        audit.record(
            db,
            "hume.tool_call",
            actor_id=None,
            entity_type="session",
            entity_id=session_id,
            details={"toolCallId": values["tool_call_id"], "tool": values["tool_name"]},
        )
    await db.commit()
    return answer
