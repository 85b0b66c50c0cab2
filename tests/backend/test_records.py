"""Session records: the transcript with speakers, versioned progress notes and their export,
the patient's history and trend, and search across the therapist's sessions."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from app.models.enums import NoteFormat
from app.schemas.sessions import SessionSummary
from app.services.clinical_notes.formats import FORMATS, SessionFacts, prefill
from app.services.clinical_notes.markdown import escape

from tests.backend.helpers import (
    Therapist,
    create_patient,
    register_therapist,
    start_session,
    wait_for,
)

LINES = [
    "Work has been relentless and my sleep is getting worse.",
    "I feel anxious every Sunday evening before the week starts.",
]


async def _post(
    client: httpx.AsyncClient, therapist: Therapist, sid: str, text: str, speaker: str | None
) -> httpx.Response:
    body: dict[str, Any] = {"text": text}
    if speaker:
        body["speaker"] = speaker
    return await client.post(
        f"/api/sessions/{sid}/transcript", json=body, headers=therapist.headers
    )


async def _completed_session(
    client: httpx.AsyncClient, therapist: Therapist, patient_id: str, lines: list[str]
) -> dict[str, Any]:
    """A session with `lines` from the patient, ended, its summary written."""
    session = await start_session(client, therapist, patient_id)
    for line in lines:
        assert (await _post(client, therapist, session["id"], line, None)).status_code == 202
    url = f"/api/sessions/{session['id']}"
    await client.post(f"{url}/end", headers=therapist.headers)

    async def summary() -> dict[str, Any] | None:
        body = (await client.get(f"{url}/summary", headers=therapist.headers)).json()
        found: dict[str, Any] | None = body["summary"]
        return found

    await wait_for(summary, within=30)
    return session


async def test_transcript_lists_who_said_what_and_when_in_order(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    session = await start_session(client, therapist, patient["id"])
    sid = session["id"]
    assert (await _post(client, therapist, sid, LINES[0], None)).status_code == 202
    assert (
        await _post(client, therapist, sid, "What happens then?", "therapist")
    ).status_code == 202
    assert (await _post(client, therapist, sid, LINES[1], "patient")).status_code == 202

    body = (await client.get(f"/api/sessions/{sid}/transcript", headers=therapist.headers)).json()
    assert body["sessionId"] == sid
    said = [(entry["speaker"], entry["text"]) for entry in body["entries"]]
    assert said == [
        ("patient", LINES[0]),
        ("therapist", "What happens then?"),
        ("patient", LINES[1]),
    ]
    times = [entry["spokenAt"] for entry in body["entries"]]
    assert times == sorted(times)
    # Only the patient's words feed the graph and the summary (sessions.transcript).
    detail = (await client.get(f"/api/sessions/{sid}", headers=therapist.headers)).json()
    assert detail["transcript"] == "\n".join(LINES)


async def test_transcript_refuses_an_unknown_speaker_and_an_ended_session(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    session = await start_session(client, therapist, patient["id"])
    sid = session["id"]
    refused = await _post(client, therapist, sid, "hello", "narrator")
    assert refused.status_code == 422
    await client.post(f"/api/sessions/{sid}/end", headers=therapist.headers)
    late = await _post(client, therapist, sid, "after the end", "therapist")
    assert late.status_code == 409
    body = (await client.get(f"/api/sessions/{sid}/transcript", headers=therapist.headers)).json()
    assert body["entries"] == []
    missing = await client.get(
        f"/api/sessions/{uuid.uuid4()}/transcript", headers=therapist.headers
    )
    assert missing.status_code == 404


async def test_a_note_is_prefilled_saved_as_versions_and_exported(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist, name="Robin <Example>")
    active = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{active['id']}"
    note = {"toolCallId": f"n-{active['id']}", "name": "save_session_note"}
    await client.post(
        f"{url}/tool-calls",
        json={**note, "parameters": {"content": "Calm posture", "category": "observation"}},
        headers=therapist.headers,
    )
    empty = {"subjective": "", "objective": "", "assessment": "", "plan": ""}
    while_active = await client.post(
        f"{url}/clinical-note/versions",
        json={"format": "soap", "sections": empty},
        headers=therapist.headers,
    )
    assert while_active.status_code == 409
    for line in LINES:
        await _post(client, therapist, active["id"], line, None)
    await client.post(f"{url}/end", headers=therapist.headers)

    async def summary() -> dict[str, Any] | None:
        found: dict[str, Any] | None = (
            await client.get(f"{url}/summary", headers=therapist.headers)
        ).json()["summary"]
        return found

    written = await wait_for(summary, within=30)

    draft = (
        await client.get(f"{url}/clinical-note/draft?format=soap", headers=therapist.headers)
    ).json()
    assert [s["key"] for s in draft["sections"]] == [
        "subjective",
        "objective",
        "assessment",
        "plan",
    ]
    sections = {s["key"]: s["text"] for s in draft["sections"]}
    assert written["keyTopics"][0] in sections["subjective"]
    assert "Calm posture" in sections["objective"]
    assert (await client.get(f"{url}/clinical-note", headers=therapist.headers)).json() is None

    sections["plan"] = "Review sleep diary in two weeks. *Not* a [link](x)"
    saved = await client.post(
        f"{url}/clinical-note/versions",
        json={"format": "soap", "sections": sections},
        headers=therapist.headers,
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["version"] == 1
    stale = await client.post(
        f"{url}/clinical-note/versions",
        json={"format": "soap", "sections": sections},
        headers=therapist.headers,
    )
    assert stale.status_code == 409
    assert "version 1" in stale.json()["detail"]
    sections["assessment"] = "Edited assessment"
    second = await client.post(
        f"{url}/clinical-note/versions",
        json={"format": "soap", "sections": sections, "baseVersion": 1},
        headers=therapist.headers,
    )
    assert second.status_code == 201
    versions = (await client.get(f"{url}/clinical-note/versions", headers=therapist.headers)).json()
    assert [v["version"] for v in versions] == [2, 1]
    current = (await client.get(f"{url}/clinical-note", headers=therapist.headers)).json()
    assert current["version"] == 2
    assert {s["key"]: s["text"] for s in current["sections"]}["assessment"] == "Edited assessment"

    export = await client.get(f"{url}/export.md", headers=therapist.headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/markdown")
    assert "attachment" in export.headers["content-disposition"]
    document = export.text
    assert "# Session with Robin \\<Example\\>" in document
    assert "## SOAP progress note" in document and "Version 2" in document
    assert "Edited assessment" in document
    assert "\\*Not\\* a \\[link\\](x)" in document  # the therapist's text stays text
    assert written["keyTopics"][0] in document


async def test_note_validation_errors_are_422(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}/clinical-note"
    await client.post(f"/api/sessions/{session['id']}/end", headers=therapist.headers)
    soap = {"subjective": "", "objective": "", "assessment": "", "plan": ""}
    bad_bodies: list[dict[str, Any]] = [
        {"format": "soap", "sections": {**soap, "extra": "x"}},
        {"format": "dap", "sections": soap},
        {"format": "narrative", "sections": soap},
        {"format": "soap", "sections": {**soap, "plan": "x" * 20_001}},
        {"format": "soap", "sections": {**soap, "plan": "nul\x00"}},
        {"format": "soap", "sections": soap, "baseVersion": 0},
        {"format": "soap", "sections": soap, "author": "someone else"},
    ]
    for body in bad_bodies:
        response = await client.post(f"{url}/versions", json=body, headers=therapist.headers)
        assert response.status_code == 422, (body, response.text)
    draft = await client.get(f"{url}/draft?format=narrative", headers=therapist.headers)
    assert draft.status_code == 422
    assert (await client.get(f"{url}/versions", headers=therapist.headers)).json() == []


async def test_patient_history_lists_summaries_themes_and_a_trend(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    first = await _completed_session(client, therapist, patient["id"], LINES)
    second = await _completed_session(
        client, therapist, patient["id"], ["My sleep is better but work still worries me."]
    )

    async def themed() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/api/patients/{patient['id']}/history", headers=therapist.headers)
        ).json()
        return body if all(s["topThemes"] for s in body["sessions"]) else None

    history = await wait_for(themed, within=30)
    assert [s["id"] for s in history["sessions"]] == [first["id"], second["id"]]
    assert all(s["summary"]["keyTopics"] for s in history["sessions"])
    assert len(history["sessions"][0]["topThemes"]) <= 5
    trend = {(series["type"], series["label"]): series["mentions"] for series in history["trend"]}
    assert trend[("topic", "sleep")] == [1, 1]  # one value per session, oldest first
    assert trend[("emotion", "anxiety")] == [1, 0]
    missing = await client.get(f"/api/patients/{uuid.uuid4()}/history", headers=therapist.headers)
    assert missing.status_code == 404


async def test_search_finds_only_your_own_sessions(client: httpx.AsyncClient) -> None:
    owner = await register_therapist(client, "Owner")
    other = await register_therapist(client, "Other")
    mine = await create_patient(client, owner, name="Sam Owner")
    theirs = await create_patient(client, other, name="Kim Other")
    own_session = await start_session(client, owner, mine["id"])
    other_session = await start_session(client, other, theirs["id"])
    await _post(client, owner, own_session["id"], "The insomnia started in spring.", None)
    await _post(client, other, other_session["id"], "Insomnia keeps me awake too.", None)

    found = await client.get("/api/search", params={"q": "insomnia"}, headers=owner.headers)
    assert found.status_code == 200
    body = found.json()
    assert body["total"] == 1
    (hit,) = body["items"]
    assert hit["sessionId"] == own_session["id"]
    assert hit["patientName"] == "Sam Owner"
    assert hit["snippet"] == "The insomnia started in spring."  # a short line is shown whole
    long_line = "We talked about the week. " * 12 + "Then the nightmares came back. " + "Ok. " * 30
    await _post(client, owner, own_session["id"], long_line, None)
    (long_hit,) = (
        await client.get("/api/search", params={"q": "nightmares"}, headers=owner.headers)
    ).json()["items"]
    assert long_hit["snippet"].startswith("…") and long_hit["snippet"].endswith("…")
    assert "nightmares" in long_hit["snippet"] and "<" not in long_hit["snippet"]
    assert len(long_hit["snippet"]) < len(long_line)
    # Stemmed, like Postgres' English configuration: "started" matches "starting".
    stemmed = await client.get("/api/search", params={"q": "starting"}, headers=owner.headers)
    assert stemmed.json()["total"] == 1
    bad: list[dict[str, str | int]] = [{"q": "x"}, {"q": "a" * 201}, {}, {"q": "ok", "limit": 500}]
    for params in bad:
        refused = await client.get("/api/search", params=params, headers=owner.headers)
        assert refused.status_code == 422, params


def test_prefill_fills_every_section_of_every_format() -> None:
    facts = SessionFacts(
        summary=SessionSummary(
            key_topics=["work"],
            emotional_themes=["anxiety"],
            insights=["Sunday dread"],
            recommendations=["Sleep diary"],
            progress_notes=["Named the trigger"],
        ),
        notes=[],
        progress=[],
        concerns=[],
    )
    for note_format in NoteFormat:
        values = prefill(note_format, facts)
        assert list(values) == [section.key for section in FORMATS[note_format]]
        assert "Sleep diary" in values["plan"]
        assert all(values.values()), (note_format, values)


def test_markdown_escape_keeps_text_as_text() -> None:
    assert escape("# <b>x</b> [a](b) *c*") == "\\# \\<b\\>x\\</b\\> \\[a\\](b) \\*c\\*"
