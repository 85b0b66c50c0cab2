"""Hume webhooks: one endpoint dispatching on event_name, plus the seed's three paths as aliases.

The signature is verified over the raw bytes before anything is parsed or written. Webhooks are
recorded (and update a bound chat); they never run a tool or answer EVI. No database session
is opened before the signature holds: the service takes a connection only for the write.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from app.api.deps import SettingsDep
from app.core.metrics import WEBHOOKS
from app.services import webhooks

router = APIRouter(prefix="/api/webhooks/hume", tags=["webhooks"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": 'Recorded. `{"status": "ignored"}` when the chat is not bound to a session'
    },
    400: {"description": "Signed, but not a valid Hume event"},
    401: {"description": "Missing, invalid or stale signature; nothing was written"},
}

SignatureHeader = Annotated[str | None, Header(alias=webhooks.SIGNATURE_HEADER)]
TimestampHeader = Annotated[str | None, Header(alias=webhooks.TIMESTAMP_HEADER)]


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise webhooks.MalformedEvent("Webhook body is not JSON") from None


async def _receive(
    request: Request,
    expected: webhooks.EventName | None,
    settings: SettingsDep,
    signature: str | None,
    timestamp: str | None,
) -> dict[str, Any]:
    raw = await request.body()
    try:
        webhooks.verify_signature(settings, raw, signature, timestamp)
        name, event = webhooks.parse_event(_json(raw), expected)
    except webhooks.WebhookRejected as rejected:
        WEBHOOKS.labels(rejected.outcome).inc()
        raise
    except webhooks.MalformedEvent:
        WEBHOOKS.labels("malformed").inc()
        raise
    state = request.app.state
    result = await webhooks.handle_event(state.engine, state.session_factory, name, event)
    WEBHOOKS.labels("ignored" if result["status"] == "ignored" else "recorded").inc()
    return result


def _alias(expected: webhooks.EventName | None, path: str, summary: str) -> None:
    @router.post(path, summary=summary, responses=RESPONSES)
    async def receive(
        request: Request,
        settings: SettingsDep,
        signature: SignatureHeader = None,
        timestamp: TimestampHeader = None,
    ) -> dict[str, Any]:
        return await _receive(request, expected, settings, signature, timestamp)

    receive.__name__ = f"hume_webhook_{(expected or 'any')}"


_alias(None, "", "Hume EVI webhook (dispatches on event_name)")
_alias("tool_call", "/tool_call", "Hume tool_call webhook (alias)")
_alias("chat_started", "/chat_started", "Hume chat_started webhook (alias)")
_alias("chat_ended", "/chat_ended", "Hume chat_ended webhook (alias)")
