"""A session has many Hume chats; its owner's binding authorises webhooks; one answer per tool call.

- Binding (POST /api/sessions/{id}/chats), made by the session's owner, is the only thing that
  routes a webhook to a session: by chat id, or by the chat group of a bound chat (a reconnect
  makes a new chat in the same group). `custom_session_id` never authorises anything.
- A webhook for an unknown chat is recorded (metadata only) and answered 200 "ignored".
- The `tool_call` webhook only records: the browser answers EVI on the socket after relaying the
  call to POST /api/sessions/{id}/tool-calls, which runs the tool once per toolCallId.

Every event is built with the `hume` SDK's own models (tests.backend.fakes).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from app.core.security import CSRF_COOKIE, CSRF_HEADER

from tests.backend.fakes import (
    HUME_SIGNING_KEY,
    Voice,
    chat_ended,
    chat_started,
    signed_event,
    tool_call,
    tool_call_message,
    voice_backend,
)
from tests.backend.helpers import PASSWORD, create_patient, register_therapist, start_session
from tests.support.postgres import PostgresServer

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, in Hume's milliseconds
MINUTE = 60_000


@pytest.fixture
async def voice(migrated_url: str) -> AsyncIterator[Voice]:
    async with voice_backend(migrated_url) as stack:
        yield stack


def ms(value: str) -> int:
    return int(datetime.fromisoformat(value).timestamp() * 1000)


def rows(postgres: PostgresServer, database: str, sql: str) -> list[dict[str, Any]]:
    out = postgres.psql(f"SELECT coalesce(json_agg(t), '[]') FROM ({sql}) t", database)  # noqa: S608
    result: list[dict[str, Any]] = json.loads(out)
    return result


async def send(voice: Voice, event: Any) -> dict[str, Any]:
    raw, headers = signed_event(event, HUME_SIGNING_KEY)
    response = await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def bind(
    voice: Voice,
    session_id: str,
    chat_id: str,
    group_id: str,
    headers: dict[str, str] | None = None,
) -> Any:
    return await voice.client.post(
        f"/api/sessions/{session_id}/chats",
        json={"chatId": chat_id, "chatGroupId": group_id},
        headers=headers if headers is not None else voice.therapist.headers,
    )


async def test_a_signed_webhook_naming_another_therapists_session_writes_nothing_there(
    voice: Voice, postgres: PostgresServer
) -> None:
    """Finding 5 / acceptance 5: custom_session_id comes from a browser; it binds nothing."""
    victim = await register_therapist(voice.client, "Victim")
    victim_patient = await create_patient(voice.client, victim)
    victim_session = (await start_session(voice.client, victim, victim_patient["id"]))["id"]
    forged = tool_call_message(
        "forged-1",
        "flag_concern",
        {"concern_type": "crisis_indicator", "severity": "urgent", "description": "forged"},
        custom_session_id=victim_session,
    )
    answers = [
        await send(
            voice,
            chat_started(
                "attacker-chat", "attacker-group", start_ms=T0, custom_session_id=victim_session
            ),
        ),
        await send(
            voice,
            tool_call(
                "attacker-chat",
                "attacker-group",
                forged,
                at_ms=T0 + MINUTE,
                custom_session_id=victim_session,
            ),
        ),
    ]
    assert answers == [{"status": "ignored"}, {"status": "ignored"}]
    for path in ("concerns", "notes", "chats"):
        listed = await voice.client.get(
            f"/api/sessions/{victim_session}/{path}", headers=victim.headers
        )
        assert listed.status_code == 200
        items = listed.json() if path == "chats" else listed.json()["items"]
        assert items == [], path
    written = rows(
        postgres,
        voice.database,
        f"SELECT 1 FROM tool_calls WHERE session_id = '{victim_session}' UNION ALL "  # noqa: S608
        f"SELECT 1 FROM hume_chats WHERE session_id = '{victim_session}' UNION ALL "
        f"SELECT 1 FROM hume_events WHERE session_id = '{victim_session}'",
    )
    assert written == []
    recorded = rows(
        postgres,
        voice.database,
        "SELECT event_name, chat_id, chat_group_id, session_id FROM hume_events "
        "WHERE chat_id = 'attacker-chat' ORDER BY id",
    )
    assert recorded == [
        {
            "event_name": "chat_started",
            "chat_id": "attacker-chat",
            "chat_group_id": "attacker-group",
            "session_id": None,
        },
        {
            "event_name": "tool_call",
            "chat_id": "attacker-chat",
            "chat_group_id": "attacker-group",
            "session_id": None,
        },
    ]
    # The victim can still bind a chat of their own: the forged events claimed nothing.
    assert (
        await bind(voice, victim_session, "victim-chat", "victim-group", victim.headers)
    ).status_code == 201


async def test_a_reconnect_makes_a_new_chat_of_the_group_and_it_lands_in_the_same_session(
    voice: Voice,
) -> None:
    """Finding 3: a socket lasts at most 30 minutes; the resumed chat has a new chat id."""
    created = await bind(voice, voice.session_id, "chat-a", "group-1")
    assert created.status_code == 201, created.text
    first = await send(voice, chat_started("chat-a", "group-1", start_ms=T0))
    assert first == {"status": "ok", "sessionId": voice.session_id}
    await send(
        voice,
        chat_ended(
            "chat-a",
            "group-1",
            end_ms=T0 + 30 * MINUTE,
            duration_seconds=1800,
            end_reason="MAX_DURATION_TIMEOUT",
        ),
    )
    # The browser has not reported chat-b yet: its group alone routes it, custom_session_id null.
    resumed = chat_started(
        "chat-b", "group-1", start_ms=T0 + 30 * MINUTE + 2000, start_type="resumed_chat_group"
    )
    assert resumed.custom_session_id is None
    assert await send(voice, resumed) == {"status": "ok", "sessionId": voice.session_id}
    await send(
        voice,
        chat_ended("chat-b", "group-1", end_ms=T0 + 50 * MINUTE, duration_seconds=1198),
    )
    # The browser's own report of chat-b arrives late: the same chat, already here.
    late = await bind(voice, voice.session_id, "chat-b", "group-1")
    assert late.status_code == 200, late.text

    chats = (
        await voice.client.get(
            f"/api/sessions/{voice.session_id}/chats", headers=voice.therapist.headers
        )
    ).json()
    assert [(c["chatId"], c["chatGroupId"]) for c in chats] == [
        ("chat-a", "group-1"),
        ("chat-b", "group-1"),
    ]
    assert [ms(c["startedAt"]) for c in chats] == [T0, T0 + 30 * MINUTE + 2000]
    assert [ms(c["endedAt"]) for c in chats] == [T0 + 30 * MINUTE, T0 + 50 * MINUTE]
    assert [c["endReason"] for c in chats] == ["MAX_DURATION_TIMEOUT", "USER_ENDED"]
    assert [c["durationSeconds"] for c in chats] == [1800, 1198]
    session = (
        await voice.client.get(f"/api/sessions/{voice.session_id}", headers=voice.therapist.headers)
    ).json()
    assert session["durationSeconds"] == 1800 + 1198


async def test_an_unknown_chat_is_recorded_and_its_start_applies_once_the_owner_binds_it(
    voice: Voice, postgres: PostgresServer
) -> None:
    # Hume's chat_started webhook can beat the browser's chat_metadata report.
    early = await send(voice, chat_started("chat-early", "group-early", start_ms=T0 + 5 * MINUTE))
    assert early == {"status": "ignored"}
    recorded = rows(
        postgres,
        voice.database,
        "SELECT event_name, chat_group_id, session_id, received_at IS NOT NULL AS received "
        "FROM hume_events WHERE chat_id = 'chat-early'",
    )
    assert recorded == [
        {
            "event_name": "chat_started",
            "chat_group_id": "group-early",
            "session_id": None,
            "received": True,
        }
    ]
    bound = await bind(voice, voice.session_id, "chat-early", "group-early")
    assert bound.status_code == 201
    assert bound.json()["chatId"] == "chat-early"
    assert ms(bound.json()["startedAt"]) == T0 + 5 * MINUTE
    assert bound.json()["endedAt"] is None
    owned = rows(
        postgres,
        voice.database,
        "SELECT session_id FROM hume_events WHERE chat_id = 'chat-early'",
    )
    assert owned == [{"session_id": voice.session_id}]


async def test_binding_is_owner_only_and_a_chat_or_group_belongs_to_one_session(
    voice: Voice,
) -> None:
    second_patient = await create_patient(voice.client, voice.therapist, name="Second")
    second = (await start_session(voice.client, voice.therapist, second_patient["id"]))["id"]
    other = await register_therapist(voice.client, "Other")
    other_patient = await create_patient(voice.client, other)
    other_session = (await start_session(voice.client, other, other_patient["id"]))["id"]

    assert (await bind(voice, voice.session_id, "c-1", "g-1")).status_code == 201
    again = await bind(voice, voice.session_id, "c-1", "g-1")
    assert again.status_code == 200
    assert again.json()["chatId"] == "c-1"
    # Same chat, or another chat of the same group, into another session: refused.
    assert (await bind(voice, second, "c-1", "g-1")).status_code == 409
    assert (await bind(voice, second, "c-2", "g-1")).status_code == 409
    assert (await bind(voice, other_session, "c-1", "g-1", other.headers)).status_code == 409
    assert (await bind(voice, other_session, "c-3", "g-1", other.headers)).status_code == 409
    # The same chat id reported with another group is a different claim: refused too.
    assert (await bind(voice, voice.session_id, "c-1", "g-other")).status_code == 409
    # Another therapist's session is not found; neither is its list of chats.
    assert (await bind(voice, other_session, "c-4", "g-4")).status_code == 404
    listed = await voice.client.get(
        f"/api/sessions/{other_session}/chats", headers=voice.therapist.headers
    )
    assert listed.status_code == 404
    # A session that is not active takes no new chat.
    ended = await voice.client.post(f"/api/sessions/{second}/end", headers=voice.therapist.headers)
    assert ended.status_code == 200
    assert (await bind(voice, second, "c-5", "g-5")).status_code == 409
    # Unknown keys and empty ids are the client's bug.
    bad = await voice.client.post(
        f"/api/sessions/{voice.session_id}/chats",
        json={"chatId": "", "chatGroupId": "g", "customSessionId": "x"},
        headers=voice.therapist.headers,
    )
    assert bad.status_code == 422


async def test_binding_with_the_cookie_needs_the_csrf_header(voice: Voice) -> None:
    login = await voice.client.post(
        "/api/auth/login", json={"email": voice.therapist.email, "password": PASSWORD}
    )
    assert login.status_code == 200
    csrf = voice.client.cookies.get(CSRF_COOKIE)
    assert csrf
    url = f"/api/sessions/{voice.session_id}/chats"
    body = {"chatId": "cookie-chat", "chatGroupId": "cookie-group"}
    refused = await voice.client.post(url, json=body)
    assert refused.status_code == 403
    accepted = await voice.client.post(url, json=body, headers={CSRF_HEADER: csrf})
    assert accepted.status_code == 201
    listed = await voice.client.get(url)
    assert [c["chatId"] for c in listed.json()] == ["cookie-chat"]
    voice.client.cookies.clear()


async def test_the_tool_call_webhook_records_only_and_the_browser_relay_answers_once(
    voice: Voice, postgres: PostgresServer
) -> None:
    """Finding 4: one answer per tool_call_id. The webhook never runs the tool and never posts to
    the control plane; the browser relays the call (and answers EVI on its socket)."""
    assert (await bind(voice, voice.session_id, "chat-t", "group-t")).status_code == 201
    # As a browser connects: custom_session_id set, in the event and in the tool call message.
    message = tool_call_message(
        f"call-{voice.session_id}",
        "save_session_note",
        {"content": "Walks help", "category": "insight"},
        custom_session_id=voice.session_id,
    )
    event = tool_call("chat-t", "group-t", message, at_ms=T0, custom_session_id=voice.session_id)
    # The second is a replay (as a retried delivery): the same answer, recorded once.
    assert await send(voice, event) == {"status": "recorded", "sessionId": voice.session_id}
    assert await send(voice, event) == {"status": "recorded", "sessionId": voice.session_id}

    notes_url = f"/api/sessions/{voice.session_id}/notes"
    notes = await voice.client.get(notes_url, headers=voice.therapist.headers)
    assert notes.json()["total"] == 0
    calls = rows(postgres, voice.database, "SELECT 1 FROM tool_calls")
    assert calls == []
    # No request other than the ones the fake serves reached Hume (no control-plane /send).
    assert voice.hume.calls.get("unexpected", []) == []
    assert set(voice.hume.calls) <= {"token"}
    # Metadata only: the tool's arguments (patient data) are stored nowhere by the webhook.
    stored = postgres.psql(
        "SELECT coalesce(json_agg(e)::text, '') FROM hume_events e", voice.database
    ) + postgres.psql("SELECT coalesce(json_agg(a)::text, '') FROM audit_log a", voice.database)
    assert "Walks help" not in stored
    recorded = rows(
        postgres,
        voice.database,
        "SELECT event_name, tool_call_id, session_id FROM hume_events WHERE chat_id = 'chat-t'",
    )
    assert recorded == [
        {
            "event_name": "tool_call",
            "tool_call_id": message.tool_call_id,
            "session_id": voice.session_id,
        }
    ]

    # The browser relay: exactly the ToolCallMessage EVI put on the socket, relayed twice.
    relay = {
        "toolCallId": message.tool_call_id,
        "name": message.name,
        "parameters": message.parameters,
    }
    url = f"/api/sessions/{voice.session_id}/tool-calls"
    first = await voice.client.post(url, json=relay, headers=voice.therapist.headers)
    replay = await voice.client.post(url, json=relay, headers=voice.therapist.headers)
    assert first.status_code == replay.status_code == 200
    assert first.json() == replay.json()
    assert first.json()["isError"] is False
    notes = await voice.client.get(notes_url, headers=voice.therapist.headers)
    assert [n["content"] for n in notes.json()["items"]] == ["Walks help"]
    assert voice.hume.calls.get("unexpected", []) == []


async def test_a_tool_call_of_a_bound_chat_is_recorded_as_the_general_path_records_it(
    voice: Voice, postgres: PostgresServer
) -> None:
    """The one-statement path (a chat bound by id) writes the same event and audit rows as the
    general path (a new chat of a bound group, routed by its group)."""
    assert (await bind(voice, voice.session_id, "chat-fast", "group-same")).status_code == 201
    for chat_id in ("chat-fast", "chat-general"):  # the second is routed by its group
        message = tool_call_message(f"call-{chat_id}", "mark_progress", {"description": "x"})
        event = tool_call(chat_id, "group-same", message, at_ms=T0)
        assert await send(voice, event) == {"status": "recorded", "sessionId": voice.session_id}
    events = rows(
        postgres,
        voice.database,
        "SELECT chat_id, event_name, chat_group_id, session_id, occurred_at, end_reason, "
        "duration_seconds, tool_call_id, tool_name FROM hume_events ORDER BY id",
    )
    # The database is shared by the module's tests: only this test's two chats.
    events = [
        event
        for event in events
        if event["chat_id"] in ("chat-fast", "chat-general")
        and str(event["session_id"]) == str(voice.session_id)
        and str(event["tool_call_id"]).startswith("call-chat-")
    ]
    assert [event.pop("chat_id") for event in events] == ["chat-fast", "chat-general"]
    assert [event.pop("tool_call_id") for event in events] == [
        "call-chat-fast",
        "call-chat-general",
    ]
    assert events[0] == events[1]
    assert events[0]["session_id"] == voice.session_id
    assert events[0]["tool_name"] == "mark_progress"
    audits = rows(
        postgres,
        voice.database,
        "SELECT actor_id, action, entity_type, entity_id, ip, details FROM audit_log "
        "WHERE action = 'hume.tool_call' ORDER BY id",
    )
    audits = [a for a in audits if str(a["details"].get("toolCallId")).startswith("call-chat-")]
    assert [audit["details"].pop("toolCallId") for audit in audits] == [
        "call-chat-fast",
        "call-chat-general",
    ]
    assert audits[0] == audits[1]
    assert audits[0] == {
        "actor_id": None,
        "action": "hume.tool_call",
        "entity_type": "session",
        "entity_id": voice.session_id,
        "ip": None,
        "details": {"tool": "mark_progress"},
    }


async def test_a_replayed_or_redelivered_webhook_is_recorded_once_and_answered_the_same(
    voice: Voice, postgres: PostgresServer
) -> None:
    """Every event kind on each path (a chat bound by id, a chat of a bound group, an unknown
    chat): the same signed request again, and a redelivery signed anew, change nothing."""
    sid = voice.session_id
    assert (await bind(voice, sid, f"chat-r-{sid}", f"group-r-{sid}")).status_code == 201
    events = [
        chat_started(f"chat-r-{sid}", f"group-r-{sid}", start_ms=T0),
        tool_call(f"chat-r-{sid}", f"group-r-{sid}", tool_call_message(f"r1-{sid}"), at_ms=T0),
        tool_call(f"chat-r2-{sid}", f"group-r-{sid}", tool_call_message(f"r2-{sid}"), at_ms=T0),
        chat_ended(f"chat-r-{sid}", f"group-r-{sid}", end_ms=T0 + MINUTE, duration_seconds=60),
        chat_started(f"chat-u-{sid}", f"group-u-{sid}", start_ms=T0),
    ]
    for event in events:
        raw, headers = signed_event(event, HUME_SIGNING_KEY)
        answers = [
            await voice.client.post("/api/webhooks/hume", content=raw, headers=headers)
            for _ in range(2)
        ]
        resigned = await send(voice, event)
        assert [a.status_code for a in answers] == [200, 200]
        assert answers[0].json() == answers[1].json() == resigned, type(event).__name__
    recorded = rows(
        postgres,
        voice.database,
        "SELECT event_name, chat_id, tool_call_id FROM hume_events "  # noqa: S608
        f"WHERE chat_group_id IN ('group-r-{sid}', 'group-u-{sid}') ORDER BY id",
    )
    assert recorded == [
        {"event_name": "chat_started", "chat_id": f"chat-r-{sid}", "tool_call_id": None},
        {"event_name": "tool_call", "chat_id": f"chat-r-{sid}", "tool_call_id": f"r1-{sid}"},
        {"event_name": "tool_call", "chat_id": f"chat-r2-{sid}", "tool_call_id": f"r2-{sid}"},
        {"event_name": "chat_ended", "chat_id": f"chat-r-{sid}", "tool_call_id": None},
        {"event_name": "chat_started", "chat_id": f"chat-u-{sid}", "tool_call_id": None},
    ]
    audited = rows(
        postgres,
        voice.database,
        "SELECT details->>'toolCallId' AS call FROM audit_log "  # noqa: S608
        "WHERE action = 'hume.tool_call' "
        f"AND details->>'toolCallId' LIKE '%-{sid}' ORDER BY id",
    )
    assert audited == [{"call": f"r1-{sid}"}, {"call": f"r2-{sid}"}]
