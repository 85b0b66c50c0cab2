"""The therapist's flow every e2e stack is proven with, through whatever a client reaches (the
Ingress, a Gateway, https, under NetworkPolicies, under Tilt): register, a patient, a session, a
transcript -> a graph update over the websocket, a tool call relayed by the browser, and Hume's
signed webhook for the same call (recorded, not run twice)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.e2e.dimini_client import DiminiClient

PASSWORD = "e2e-Passw0rd-long-enough"
TRANSCRIPT = (
    "I have been so stressed about work lately. The deadlines keep piling up and my manager "
    "keeps adding more. I can't sleep at night; I lie awake worrying about work and feel anxious."
)


@dataclass(frozen=True)
class Flow:
    email: str
    patient: str
    session: str


def therapist_flow(c: DiminiClient, signing_key: str, label: str) -> Flow:
    """The whole flow as a new therapist (`label` names the account, patient and chat)."""
    email = f"{label.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    c.register(email, PASSWORD, f"Dr {label}")
    c.login(email, PASSWORD)
    patient = c.create_patient(f"Pat {label}", email=f"pat.{label.lower()}@example.com")
    session = c.start_session(patient["id"])
    with c.realtime(session["id"], timeout=30) as live:
        c.post_transcript(session["id"], TRANSCRIPT)
        batch = live.wait_for("graph_batch_update", timeout=60)
    assert batch["nodes"], "graph nodes over the websocket"
    note = {"content": "Sleep is the lever this week.", "category": "insight"}
    chat = (f"{label}-chat-{session['id']}", f"{label}-group-{session['id']}")
    assert c.bind_chat(session["id"], *chat).status_code == 201
    assert c.relay_tool_call(session["id"], "save_session_note", note)["isError"] is False
    answer = c.signed_webhook_tool_call(*chat, "save_session_note", signing_key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "recorded"
    assert [n["content"] for n in c.session_notes(session["id"])["items"]] == [note["content"]]
    return Flow(email, str(patient["id"]), str(session["id"]))
