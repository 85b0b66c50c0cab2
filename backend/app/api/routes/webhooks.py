"""Hume webhooks: one endpoint dispatching on event_name, plus the seed's three paths as aliases.

The signature is verified over the raw bytes before anything is parsed or written.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from app.api.deps import BroadcasterDep, DbDep, PipelineDep, SettingsDep
from app.services import tools, webhooks
from app.services.background import BackgroundRunner
from app.services.hume import HumeGateway

router = APIRouter(prefix="/api/webhooks/hume", tags=["webhooks"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Signed, but not a valid Hume event"},
    401: {"description": "Missing, invalid or stale signature; nothing was written"},
}


async def get_runner(request: Request) -> BackgroundRunner:
    runner: BackgroundRunner = request.app.state.runner
    return runner


async def get_hume(request: Request) -> HumeGateway:
    gateway: HumeGateway = request.app.state.hume
    return gateway


async def _receive(
    request: Request,
    expected: webhooks.EventName | None,
    db: DbDep,
    settings: SettingsDep,
    broadcaster: BroadcasterDep,
    pipeline: PipelineDep,
    runner: BackgroundRunner,
    hume: HumeGateway,
    signature: str | None,
    timestamp: str | None,
) -> dict[str, Any]:
    raw = await request.body()
    webhooks.verify_signature(settings, raw, signature, timestamp)
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise webhooks.MalformedEvent("Webhook body is not JSON") from None
    name, event = webhooks.parse_event(payload, expected)
    context = tools.ToolContext(
        db=db,
        settings=settings,
        broadcaster=broadcaster,
        pipeline=pipeline,
        actor_id=None,
        ip=None,
        source="hume_webhook",
    )
    return await webhooks.handle_event(db, name, event, context, hume, runner)


SignatureHeader = Annotated[str | None, Header(alias=webhooks.SIGNATURE_HEADER)]
TimestampHeader = Annotated[str | None, Header(alias=webhooks.TIMESTAMP_HEADER)]
RunnerDep = Annotated[BackgroundRunner, Depends(get_runner)]
HumeDep = Annotated[HumeGateway, Depends(get_hume)]


def _alias(expected: webhooks.EventName | None, path: str, summary: str) -> None:
    @router.post(path, summary=summary, responses=RESPONSES)
    async def receive(
        request: Request,
        db: DbDep,
        settings: SettingsDep,
        broadcaster: BroadcasterDep,
        pipeline: PipelineDep,
        runner: RunnerDep,
        hume: HumeDep,
        signature: SignatureHeader = None,
        timestamp: TimestampHeader = None,
    ) -> dict[str, Any]:
        return await _receive(
            request,
            expected,
            db,
            settings,
            broadcaster,
            pipeline,
            runner,
            hume,
            signature,
            timestamp,
        )

    receive.__name__ = f"hume_webhook_{(expected or 'any')}"


_alias(None, "", "Hume EVI webhook (dispatches on event_name)")
_alias("tool_call", "/tool_call", "Hume tool_call webhook (alias)")
_alias("chat_started", "/chat_started", "Hume chat_started webhook (alias)")
_alias("chat_ended", "/chat_ended", "Hume chat_ended webhook (alias)")
