"""Session routes: start/one-active, list filters, end/cancel, transcript, records, tools."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.backend.helpers import (
    Therapist,
    create_patient,
    register_therapist,
    start_session,
)


async def _setup(client: httpx.AsyncClient) -> tuple[Therapist, dict[str, str]]:
    therapist = await register_therapist(client)
    return therapist, await create_patient(client, therapist)


async def test_start_takes_the_therapist_from_the_token(client: httpx.AsyncClient) -> None:
    therapist, patient = await _setup(client)
    me = (await client.get("/api/auth/me", headers=therapist.headers)).json()
    session = await start_session(client, therapist, patient["id"])
    assert session["therapistId"] == me["id"]
    assert session["patientId"] == patient["id"]
    assert session["status"] == "active"
    assert session["transcript"] == ""
    assert session["summary"] is None
    injected = await client.post(
        "/api/sessions/start",
        json={"patientId": patient["id"], "therapistId": str(uuid.uuid4())},
        headers=therapist.headers,
    )
    assert injected.status_code == 422


async def test_starting_again_completes_the_previous_session(client: httpx.AsyncClient) -> None:
    therapist, patient = await _setup(client)
    first = await start_session(client, therapist, patient["id"])
    second = await start_session(client, therapist, patient["id"])
    old = (await client.get(f"/api/sessions/{first['id']}", headers=therapist.headers)).json()
    assert old["status"] == "completed"
    assert old["endedAt"] is not None
    active = await client.get(
        "/api/sessions",
        params={"status": "active", "patientId": patient["id"]},
        headers=therapist.headers,
    )
    assert [item["id"] for item in active.json()["items"]] == [second["id"]]


async def test_start_for_a_missing_patient_is_404(client: httpx.AsyncClient) -> None:
    therapist, _ = await _setup(client)
    response = await client.post(
        "/api/sessions/start", json={"patientId": str(uuid.uuid4())}, headers=therapist.headers
    )
    assert response.status_code == 404
    assert (
        await client.post("/api/sessions/start", json={}, headers=therapist.headers)
    ).status_code == 422


async def test_list_filters_by_patient_and_status(client: httpx.AsyncClient) -> None:
    therapist, patient = await _setup(client)
    other_patient = await create_patient(client, therapist, name="Other")
    await start_session(client, therapist, patient["id"])
    await start_session(client, therapist, patient["id"])
    await start_session(client, therapist, other_patient["id"])

    async def ids(**params: str) -> int:
        response = await client.get("/api/sessions", params=params, headers=therapist.headers)
        assert response.status_code == 200
        total: int = response.json()["total"]
        return total

    assert await ids() == 3
    assert await ids(patientId=patient["id"]) == 2
    assert await ids(patientId=patient["id"], status="completed") == 1
    assert await ids(status="cancelled") == 0
    bad = await client.get("/api/sessions", params={"status": "paused"}, headers=therapist.headers)
    assert bad.status_code == 422


async def test_end_is_idempotent_and_cancel_rules(client: httpx.AsyncClient) -> None:
    therapist, patient = await _setup(client)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}"
    first = await client.post(f"{url}/end", headers=therapist.headers)
    again = await client.post(f"{url}/end", headers=therapist.headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["endedAt"] == again.json()["endedAt"]
    assert (await client.post(f"{url}/cancel", headers=therapist.headers)).status_code == 409

    cancelled = await start_session(client, therapist, patient["id"])
    curl = f"/api/sessions/{cancelled['id']}"
    response = await client.post(f"{curl}/cancel", headers=therapist.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert (await client.post(f"{curl}/cancel", headers=therapist.headers)).status_code == 200
    assert (await client.post(f"{curl}/end", headers=therapist.headers)).status_code == 409


async def test_transcript_appends_and_answers_202(client: httpx.AsyncClient) -> None:
    therapist, patient = await _setup(client)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}"
    for text in ("I feel stressed at work.", "I can't sleep."):
        response = await client.post(
            f"{url}/transcript", json={"text": text}, headers=therapist.headers
        )
        assert response.status_code == 202
        assert response.json() == {"sessionId": session["id"], "status": "queued"}
    detail = (await client.get(url, headers=therapist.headers)).json()
    assert detail["transcript"] == "I feel stressed at work.\nI can't sleep."
    assert (
        await client.post(f"{url}/transcript", json={"text": "  "}, headers=therapist.headers)
    ).status_code == 422
    await client.post(f"{url}/end", headers=therapist.headers)
    late = await client.post(f"{url}/transcript", json={"text": "late"}, headers=therapist.headers)
    assert late.status_code == 409


async def test_graph_insights_and_records_of_a_new_session_are_empty(
    client: httpx.AsyncClient,
) -> None:
    therapist, patient = await _setup(client)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}"
    graph = await client.get(f"{url}/graph", headers=therapist.headers)
    assert graph.status_code == 200
    assert graph.json() == {"nodes": [], "links": []}
    insights = await client.get(f"{url}/insights", headers=therapist.headers)
    assert insights.json() == {
        "topByWeightedDegree": [],
        "topByPagerank": [],
        "topByBetweenness": [],
    }
    for part in ("notes", "progress", "concerns"):
        response = await client.get(f"{url}/{part}", headers=therapist.headers)
        assert response.status_code == 200
        assert response.json() == {"items": [], "total": 0, "page": 1, "pageSize": 20}
    summary = await client.get(f"{url}/summary", headers=therapist.headers)
    assert summary.json() == {"sessionId": session["id"], "status": "active", "summary": None}


async def test_tool_calls_write_once_and_show_in_records(client: httpx.AsyncClient) -> None:
    therapist, patient = await _setup(client)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}"
    calls = [
        (
            "save_session_note",
            {"content": "Links stress to deadlines", "category": "insight", "importance": "high"},
        ),
        (
            "mark_progress",
            json.dumps({"progress_type": "coping_skill", "description": "Used breathing exercise"}),
        ),
        (
            "flag_concern",
            {
                "concern_type": "emotional_distress",
                "severity": "moderate",
                "description": "Tearful when discussing work",
            },
        ),
    ]
    for index, (name, parameters) in enumerate(calls):
        body = {
            "toolCallId": f"call-{session['id']}-{index}",
            "name": name,
            "parameters": parameters,
        }
        first = await client.post(f"{url}/tool-calls", json=body, headers=therapist.headers)
        replay = await client.post(f"{url}/tool-calls", json=body, headers=therapist.headers)
        assert first.status_code == replay.status_code == 200
        assert first.json() == replay.json()
        assert first.json()["isError"] is False
    for part in ("notes", "progress", "concerns"):
        listing = (await client.get(f"{url}/{part}", headers=therapist.headers)).json()
        assert listing["total"] == 1, part
    note = (await client.get(f"{url}/notes", headers=therapist.headers)).json()["items"][0]
    assert note["category"] == "insight"
    assert note["importance"] == "high"


async def test_invalid_tool_parameters_give_a_tool_error_not_a_5xx(
    client: httpx.AsyncClient,
) -> None:
    therapist, patient = await _setup(client)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}/tool-calls"
    cases = [
        ("save_session_note", {"content": "x", "category": "gossip"}),
        ("flag_concern", {"concern_type": "crisis_indicator"}),
        ("mark_progress", "{not json"),
        ("mark_progress", "[1, 2]"),
        ("no_such_tool", {}),
    ]
    for index, (name, parameters) in enumerate(cases):
        body = {
            "toolCallId": f"bad-{session['id']}-{index}",
            "name": name,
            "parameters": parameters,
        }
        response = await client.post(url, json=body, headers=therapist.headers)
        assert response.status_code == 200, response.text
        assert response.json()["isError"] is True
    notes = (
        await client.get(f"/api/sessions/{session['id']}/notes", headers=therapist.headers)
    ).json()
    assert notes["total"] == 0


async def test_summary_tool_and_session_end_summary(client: httpx.AsyncClient) -> None:
    therapist, patient = await _setup(client)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}"
    response = await client.post(
        f"{url}/tool-calls",
        json={
            "toolCallId": f"sum-{session['id']}",
            "name": "generate_session_summary",
            "parameters": {},
        },
        headers=therapist.headers,
    )
    assert response.status_code == 200
    summary = json.loads(response.json()["content"])
    assert set(summary) == {
        "keyTopics",
        "emotionalThemes",
        "insights",
        "recommendations",
        "progressNotes",
    }
