"""Hume webhooks: HMAC on the raw body, timestamp window, parsing with Hume's own SDK models; the
browser token and the EVI address it comes with.

Every event here is built with the `hume` SDK's models (see `tests.backend.fakes`); routing to
sessions, chats and tool calls is in test_hume_chats.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from app.application import build_socket_app, create_app
from app.core.config import Settings
from app.services.hume import evi_url
from app.services.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_for
from fastapi import FastAPI
from hume.empathic_voice import (
    WebhookEventChatEnded,
    WebhookEventChatStarted,
    WebhookEventToolCall,
)
from sqlalchemy import event as sqlalchemy_event

from tests.backend.fakes import (
    HUME_KEY,
    HUME_SIGNING_KEY,
    Voice,
    chat_ended,
    chat_started,
    hume_json,
    signed_body,
    signed_event,
    tool_call,
    tool_call_message,
    voice_backend,
)
from tests.backend.helpers import api_client, make_settings, register_therapist
from tests.support.postgres import PostgresServer

NOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture
async def voice(migrated_url: str) -> AsyncIterator[Voice]:
    async with voice_backend(migrated_url) as stack:
        yield stack


def count(postgres: PostgresServer, database: str, table: str) -> int:
    return int(postgres.psql(f"SELECT count(*) FROM {table}", database))  # noqa: S608


def a_tool_call(voice: Voice, call_id: str) -> WebhookEventToolCall:
    return tool_call(
        "chat-1",
        "group-1",
        tool_call_message(call_id, custom_session_id=voice.session_id),
        at_ms=NOW_MS,
        custom_session_id=voice.session_id,
    )


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong-signature",
        "missing-signature",
        "missing-timestamp",
        "stale-181s",
        "future-190s",
        "body-altered",
        "other-key",
    ],
)
async def test_bad_signatures_get_401_and_write_nothing(
    voice: Voice, postgres: PostgresServer, tamper: str
) -> None:
    now = time.time()
    raw, headers = signed_event(
        a_tool_call(voice, f"bad-{tamper}-{voice.session_id}"),
        "another-key" if tamper == "other-key" else HUME_SIGNING_KEY,
        # A future stamp gets closer to the window while the request runs (and is truncated to
        # whole seconds), so it keeps a margin; a stale one only gets older.
        at={"stale-181s": now - 181, "future-190s": now + 190}.get(tamper),
    )
    if tamper == "wrong-signature":
        headers[SIGNATURE_HEADER] = "0" * 64
    if tamper == "missing-signature":
        del headers[SIGNATURE_HEADER]
    if tamper == "missing-timestamp":
        del headers[TIMESTAMP_HEADER]
    if tamper == "body-altered":
        raw = raw.replace(b"Sleep affects mood", b"Sleep affects MOOD")
    tables = ("session_notes", "tool_calls", "hume_events", "hume_chats", "audit_log")
    before = [count(postgres, voice.database, table) for table in tables]
    for path in ("/api/webhooks/hume", "/api/webhooks/hume/tool_call"):
        response = await voice.client.post(path, content=raw, headers=headers)
        assert response.status_code == 401, (path, response.text)
    assert [count(postgres, voice.database, table) for table in tables] == before


def test_our_signature_is_the_one_hume_documents() -> None:
    # The fake signs the way Hume's own examples verify; the backend's helper must agree.
    raw, headers = signed_body(b'{"chat_id": "c"}', HUME_SIGNING_KEY, at=1_767_225_600)
    expected = signature_for(HUME_SIGNING_KEY, raw, headers[TIMESTAMP_HEADER])
    assert headers[SIGNATURE_HEADER] == expected


async def test_timestamp_within_the_window_is_accepted(voice: Voice) -> None:
    raw, headers = signed_event(
        a_tool_call(voice, f"edge-{voice.session_id}"), HUME_SIGNING_KEY, at=time.time() - 170
    )
    response = await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
    assert response.status_code == 200


async def test_signed_but_malformed_events_get_400(voice: Voice) -> None:
    started = hume_json(chat_started("c", "g", start_ms=NOW_MS))
    without_group = {key: value for key, value in started.items() if key != "chat_group_id"}
    bodies = [
        {"event_name": "mystery", "chat_id": "c", "chat_group_id": "g"},
        {"event_name": "tool_call", "chat_id": "c", "chat_group_id": "g"},
        without_group,  # Hume's model requires the chat group
    ]
    for body in bodies:
        raw, headers = signed_body(json.dumps(body).encode(), HUME_SIGNING_KEY)
        response = await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
        assert response.status_code == 400, body
    raw, headers = signed_body(b"not json", HUME_SIGNING_KEY)
    response = await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
    assert response.status_code == 400


async def test_an_alias_only_takes_its_own_event(voice: Voice) -> None:
    ended = chat_ended("c", "g", end_ms=NOW_MS, duration_seconds=3)
    raw, headers = signed_event(ended, HUME_SIGNING_KEY)
    mismatched = await voice.client.post(
        "/api/webhooks/hume/chat_started", content=raw, headers=headers
    )
    assert mismatched.status_code == 400
    matched = await voice.client.post("/api/webhooks/hume/chat_ended", content=raw, headers=headers)
    assert matched.status_code == 200


def test_hume_sdk_events_parse_with_a_null_custom_session_id() -> None:
    # custom_session_id is documented as relevant only for custom language models: it may be null.
    for event in (
        chat_started("c", "g", start_ms=NOW_MS),
        chat_ended("c", "g", end_ms=NOW_MS, duration_seconds=1),
        tool_call("c", "g", tool_call_message("t"), at_ms=NOW_MS),
    ):
        wire = hume_json(event) | {"custom_session_id": None}
        parsed = type(event).model_validate(wire)
        assert parsed.custom_session_id is None
    assert WebhookEventChatStarted.model_fields["custom_session_id"].is_required() is False
    assert WebhookEventChatEnded.model_fields["custom_session_id"].is_required() is False


async def test_webhooks_are_refused_without_a_signing_key(migrated_url: str) -> None:
    event = tool_call("nokey-chat", "nokey-group", tool_call_message("nokey"), at_ms=NOW_MS)
    raw, headers = signed_event(event, HUME_SIGNING_KEY)
    async with api_client(make_settings(migrated_url)) as client:
        response = await client.post("/api/webhooks/hume", content=raw, headers=headers)
        assert response.status_code == 401
    dev: Settings = make_settings(
        migrated_url, environment="development", hume_webhook_insecure_skip_verify=True
    )
    async with api_client(dev) as client:
        response = await client.post("/api/webhooks/hume", content=raw)
        assert response.status_code == 200
        assert response.json() == {"status": "ignored"}


async def test_no_database_connection_is_taken_before_the_signature_holds(
    migrated_url: str,
) -> None:
    """Unsigned traffic costs no pool connection: a flood of forged webhooks cannot exhaust the
    pool that authenticated requests need (the route opens no session; the service connects)."""
    settings = make_settings(migrated_url, hume_webhook_signing_key=HUME_SIGNING_KEY)
    app, sio = create_app(settings)
    transport = httpx.ASGITransport(app=build_socket_app(app, sio))
    event = tool_call("pool-chat", "pool-group", tool_call_message("pool-call"), at_ms=NOW_MS)
    raw, headers = signed_event(event, HUME_SIGNING_KEY)
    checkouts: list[object] = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        _count_checkouts(app, checkouts)
        forged = {**headers, SIGNATURE_HEADER: "0" * 64}
        for path in ("/api/webhooks/hume", "/api/webhooks/hume/tool_call"):
            assert (await client.post(path, content=raw, headers=forged)).status_code == 401
            unsigned = {TIMESTAMP_HEADER: headers[TIMESTAMP_HEADER]}
            assert (await client.post(path, content=raw, headers=unsigned)).status_code == 401
        assert checkouts == []
        # The counter sees the signed one's connection (an unbound chat: recorded and ignored).
        signed = await client.post("/api/webhooks/hume", content=raw, headers=headers)
        assert signed.json() == {"status": "ignored"}
        assert checkouts


def _count_checkouts(app: FastAPI, into: list[object]) -> None:
    sqlalchemy_event.listen(
        app.state.engine.sync_engine.pool, "checkout", lambda *args: into.append(args[0])
    )


async def test_hume_token_retries_then_returns_a_browser_token(voice: Voice) -> None:
    voice.hume.script["token"] = ["fail:503"]
    response = await voice.client.get("/api/hume/token", headers=voice.therapist.headers)
    assert response.status_code == 200
    port = voice.hume.url.rsplit(":", 1)[1]
    assert response.json() == {
        "accessToken": "hume-browser-token",
        "expiresIn": 1800,
        "configId": "cfg-1",
        "eviUrl": f"ws://127.0.0.1:{port}/v0/evi/chat",
    }
    calls = voice.hume.calls["token"]
    assert len(calls) == 2
    assert all(call["auth_ok"] and call["grant_type"] == "client_credentials" for call in calls)
    assert (await voice.client.get("/api/hume/token")).status_code == 401
    voice.hume.script["token"] = ["fail:503"] * 3
    unavailable = await voice.client.get("/api/hume/token", headers=voice.therapist.headers)
    assert unavailable.status_code == 503


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.hume.ai", "wss://api.hume.ai/v0/evi/chat"),
        ("https://api.hume.ai/", "wss://api.hume.ai/v0/evi/chat"),
        ("http://127.0.0.1:9000", "ws://127.0.0.1:9000/v0/evi/chat"),
        ("http://fake-hume.test/prefix/", "ws://fake-hume.test/prefix/v0/evi/chat"),
    ],
)
def test_evi_url_is_derived_from_the_hume_base_url(
    migrated_url: str, base_url: str, expected: str
) -> None:
    assert evi_url(make_settings(migrated_url, hume_base_url=base_url)) == expected


async def test_hume_token_without_credentials_is_503(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    response = await client.get("/api/hume/token", headers=therapist.headers)
    assert response.status_code == 503


async def test_the_fake_hume_refuses_requests_without_the_api_key(voice: Voice) -> None:
    async with httpx.AsyncClient(base_url=voice.hume.url) as raw:
        assert (await raw.get("/v0/evi/tools")).status_code == 401
        listed = await raw.get("/v0/evi/tools", headers={"X-Hume-Api-Key": HUME_KEY})
        assert listed.status_code == 200


def test_shipped_tool_schemas_match_the_handlers() -> None:
    from app.services.tools import TOOLS
    from app.tools import tool_definitions

    for definition in tool_definitions():
        model, _ = TOOLS[definition["name"]]
        schema = definition["parameters"]
        assert set(schema["properties"]) == set(model.model_fields), definition["name"]
        required = {name for name, field in model.model_fields.items() if field.is_required()}
        assert set(schema.get("required", [])) == required, definition["name"]
