"""Hume webhooks: HMAC on the raw body, timestamp window, routing, replay; token; control plane."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from app.core.config import Settings
from app.services.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_for

from tests.backend.fakes import Upstream, hume_app, serve
from tests.backend.helpers import (
    Therapist,
    api_client,
    create_patient,
    make_settings,
    register_therapist,
    start_session,
    wait_for,
)
from tests.support.postgres import PostgresServer

SIGNING_KEY = "webhook-signing-key-for-tests"
HUME_KEY = "hume-api-key-for-tests"
HUME_SECRET = "hume-secret-for-tests"


@dataclass
class Voice:
    client: httpx.AsyncClient
    hume: Upstream
    therapist: Therapist
    session_id: str
    database: str


@pytest.fixture
async def voice(migrated_url: str) -> AsyncIterator[Voice]:
    upstream = Upstream()
    async with serve(hume_app(upstream, HUME_KEY, HUME_SECRET), upstream):
        settings = make_settings(
            migrated_url,
            hume_webhook_signing_key=SIGNING_KEY,
            hume_api_key=HUME_KEY,
            hume_secret_key=HUME_SECRET,
            hume_base_url=upstream.url,
            hume_config_id="cfg-1",
        )
        async with api_client(settings) as client:
            therapist = await register_therapist(client)
            patient = await create_patient(client, therapist)
            session = await start_session(client, therapist, patient["id"])
            yield Voice(client, upstream, therapist, session["id"], migrated_url.rsplit("/", 1)[1])


def signed(
    body: dict[str, Any], *, key: str = SIGNING_KEY, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time() if at is None else at))
    return raw, {
        SIGNATURE_HEADER: signature_for(key, raw, timestamp),
        TIMESTAMP_HEADER: timestamp,
        "Content-Type": "application/json",
    }


def tool_call(
    session_id: str | None, call_id: str, chat_id: str = "chat-1", **parameters: Any
) -> dict[str, Any]:
    return {
        "event_name": "tool_call",
        "chat_id": chat_id,
        "chat_group_id": "group-1",
        "timestamp": 0,
        "tool_call_message": {
            "tool_call_id": call_id,
            "name": "save_session_note",
            "type": "tool_call",
            "tool_type": "function",
            "response_required": True,
            "parameters": json.dumps(
                parameters or {"content": "Sleep affects mood", "category": "insight"}
            ),
            "custom_session_id": session_id,
        },
    }


def count(postgres: PostgresServer, database: str, table: str) -> int:
    return int(postgres.psql(f"SELECT count(*) FROM {table}", database))  # noqa: S608


async def test_signed_tool_call_runs_once_and_answers_evi(
    voice: Voice, postgres: PostgresServer
) -> None:
    body = tool_call(voice.session_id, f"wh-{voice.session_id}")
    raw, headers = signed(body)
    first = await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
    replay = await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert first.json()["result"] == replay.json()["result"]
    assert first.json()["result"]["isError"] is False
    notes = await voice.client.get(
        f"/api/sessions/{voice.session_id}/notes", headers=voice.therapist.headers
    )
    assert notes.json()["total"] == 1

    async def answered() -> list[Any]:
        return voice.hume.calls.get("send", [])

    sent = (await wait_for(answered))[0]
    assert sent["chat_id"] == "chat-1"
    assert sent["api_key"] == HUME_KEY
    assert sent["body"]["type"] == "tool_response"
    assert sent["body"]["tool_call_id"] == f"wh-{voice.session_id}"


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong-signature",
        "missing-signature",
        "missing-timestamp",
        "stale-181s",
        "future-181s",
        "body-altered",
        "other-key",
    ],
)
async def test_bad_signatures_get_401_and_write_nothing(
    voice: Voice, postgres: PostgresServer, tamper: str
) -> None:
    body = tool_call(voice.session_id, f"bad-{tamper}-{voice.session_id}")
    now = time.time()
    raw, headers = signed(
        body,
        at={"stale-181s": now - 181, "future-181s": now + 181}.get(tamper),
        key="another-key" if tamper == "other-key" else SIGNING_KEY,
    )
    if tamper == "wrong-signature":
        headers[SIGNATURE_HEADER] = "0" * 64
    if tamper == "missing-signature":
        del headers[SIGNATURE_HEADER]
    if tamper == "missing-timestamp":
        del headers[TIMESTAMP_HEADER]
    if tamper == "body-altered":
        raw = raw.replace(b"Sleep affects mood", b"Sleep affects MOOD")
    before = (
        count(postgres, voice.database, "session_notes"),
        count(postgres, voice.database, "tool_calls"),
    )
    for path in ("/api/webhooks/hume", "/api/webhooks/hume/tool_call"):
        response = await voice.client.post(path, content=raw, headers=headers)
        assert response.status_code == 401, (path, response.text)
    after = (
        count(postgres, voice.database, "session_notes"),
        count(postgres, voice.database, "tool_calls"),
    )
    assert before == after


async def test_timestamp_within_the_window_is_accepted(voice: Voice) -> None:
    raw, headers = signed(
        tool_call(voice.session_id, f"edge-{voice.session_id}"), at=time.time() - 170
    )
    response = await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
    assert response.status_code == 200


async def test_chat_events_bind_the_chat_and_record_its_end(voice: Voice) -> None:
    started = {
        "event_name": "chat_started",
        "chat_id": "chat-bound",
        "chat_group_id": "grp-9",
        "custom_session_id": voice.session_id,
        "start_time": 1,
        "chat_start_type": "new_chat_group",
    }
    raw, headers = signed(started)
    response = await voice.client.post(
        "/api/webhooks/hume/chat_started", content=raw, headers=headers
    )
    assert response.status_code == 200
    ended = {
        "event_name": "chat_ended",
        "chat_id": "chat-bound",
        "chat_group_id": "grp-9",
        "end_time": 2,
        "duration_seconds": 321,
        "end_reason": "USER_ENDED",
    }
    raw, headers = signed(ended)  # no custom_session_id: found through the stored chat id
    response = await voice.client.post(
        "/api/webhooks/hume/chat_ended", content=raw, headers=headers
    )
    assert response.status_code == 200
    session = (
        await voice.client.get(f"/api/sessions/{voice.session_id}", headers=voice.therapist.headers)
    ).json()
    assert session["humeChatId"] == "chat-bound"
    assert session["humeChatGroupId"] == "grp-9"
    assert session["durationSeconds"] == 321
    assert session["endReason"] == "USER_ENDED"
    mismatched = await voice.client.post(
        "/api/webhooks/hume/chat_started", content=raw, headers=headers
    )
    assert mismatched.status_code == 400  # a chat_ended body on the chat_started alias


async def test_events_cannot_be_routed_to_another_session(
    voice: Voice, postgres: PostgresServer
) -> None:
    other = await register_therapist(voice.client, "Other")
    other_patient = await create_patient(voice.client, other)
    other_session = await start_session(voice.client, other, other_patient["id"])
    bind = {
        "event_name": "chat_started",
        "chat_id": "chat-of-a",
        "chat_group_id": "g",
        "custom_session_id": voice.session_id,
        "start_time": 1,
        "chat_start_type": "new_chat_group",
    }
    raw, headers = signed(bind)
    assert (
        await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
    ).status_code == 200
    before = count(postgres, voice.database, "session_notes")
    attempts = [
        tool_call(other_session["id"], "steer-1", chat_id="chat-of-a"),  # bound chat, other id
        tool_call(None, "steer-2", chat_id="chat-unknown"),  # nothing identifies a session
        tool_call("not-a-uuid", "steer-3", chat_id="chat-new"),
    ]
    for body in attempts:
        raw, headers = signed(body)
        response = await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
        assert response.status_code == 200
        assert response.json()["status"] == "ignored"
    assert count(postgres, voice.database, "session_notes") == before
    other_notes = await voice.client.get(
        f"/api/sessions/{other_session['id']}/notes", headers=other.headers
    )
    assert other_notes.json()["total"] == 0


async def test_signed_but_malformed_events_get_400(voice: Voice) -> None:
    for body in ({"event_name": "mystery", "chat_id": "c"}, {"event_name": "tool_call"}):
        raw, headers = signed(body)
        response = await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
        assert response.status_code == 400
    timestamp = str(int(time.time()))
    raw = b"not json"
    headers = {
        SIGNATURE_HEADER: signature_for(SIGNING_KEY, raw, timestamp),
        TIMESTAMP_HEADER: timestamp,
    }
    assert (
        await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
    ).status_code == 400


async def test_webhooks_are_refused_without_a_signing_key(migrated_url: str) -> None:
    raw, headers = signed(tool_call(None, "nokey"))
    async with api_client(make_settings(migrated_url)) as client:
        response = await client.post("/api/webhooks/hume", content=raw, headers=headers)
        assert response.status_code == 401
    dev: Settings = make_settings(
        migrated_url, environment="development", hume_webhook_insecure_skip_verify=True
    )
    async with api_client(dev) as client:
        response = await client.post("/api/webhooks/hume", content=raw)
        assert response.status_code == 200
        assert response.json()["status"] == "ignored"


async def test_hume_token_retries_then_returns_a_browser_token(voice: Voice) -> None:
    voice.hume.script["token"] = ["fail:503"]
    response = await voice.client.get("/api/hume/token", headers=voice.therapist.headers)
    assert response.status_code == 200
    assert response.json() == {
        "accessToken": "hume-browser-token",
        "expiresIn": 1800,
        "configId": "cfg-1",
    }
    calls = voice.hume.calls["token"]
    assert len(calls) == 2
    assert all(call["auth_ok"] and call["grant_type"] == "client_credentials" for call in calls)
    assert (await voice.client.get("/api/hume/token")).status_code == 401
    voice.hume.script["token"] = ["fail:503"] * 3
    unavailable = await voice.client.get("/api/hume/token", headers=voice.therapist.headers)
    assert unavailable.status_code == 503


async def test_hume_token_without_credentials_is_503(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    response = await client.get("/api/hume/token", headers=therapist.headers)
    assert response.status_code == 503


async def test_tools_and_prompt_are_registered_in_a_hume_config(migrated_url: str) -> None:
    from app.tools import agent_prompt, tool_definitions
    from app.tools.register_hume import register

    upstream = Upstream()
    async with serve(hume_app(upstream, HUME_KEY, HUME_SECRET), upstream):
        settings = make_settings(migrated_url, hume_api_key=HUME_KEY, hume_base_url=upstream.url)
        config_id = await register(
            settings, "Dimini test", "https://dimini.example/api/webhooks/hume"
        )
    assert config_id == "config-123"
    names = [tool["name"] for tool in upstream.calls["tools"]]
    assert names == [definition["name"] for definition in tool_definitions()]
    assert names == [
        "save_session_note",
        "mark_progress",
        "flag_concern",
        "generate_session_summary",
    ]
    schema = json.loads(upstream.calls["tools"][0]["parameters"])
    assert schema["properties"]["category"]["enum"] == [
        "insight",
        "observation",
        "concern",
        "progress",
    ]
    config = upstream.calls["configs"][0]
    assert config["prompt"]["text"] == agent_prompt()
    assert [tool["id"] for tool in config["tools"]] == [f"tool-{name}" for name in names]
    assert config["webhooks"][0]["events"] == ["chat_started", "chat_ended", "tool_call"]


def test_shipped_tool_schemas_match_the_handlers() -> None:
    from app.services.tools import TOOLS
    from app.tools import tool_definitions

    for definition in tool_definitions():
        model, _ = TOOLS[definition["name"]]
        schema = definition["parameters"]
        assert set(schema["properties"]) == set(model.model_fields), definition["name"]
        required = {name for name, field in model.model_fields.items() if field.is_required()}
        assert set(schema.get("required", [])) == required, definition["name"]
