"""The OpenAI path with the real `openai` client against a local fake: entities, embeddings,
summary, a timeout and a 503-then-success retry, and the fallback when the model stays down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.backend.fakes import Upstream, openai_app, serve
from tests.backend.helpers import (
    Therapist,
    api_client,
    create_patient,
    make_settings,
    register_therapist,
    start_session,
    wait_for,
)


@dataclass
class Llm:
    client: httpx.AsyncClient
    openai: Upstream
    therapist: Therapist
    session_url: str


@pytest.fixture
async def llm(migrated_url: str) -> AsyncIterator[Llm]:
    upstream = Upstream()
    async with serve(openai_app(upstream), upstream):
        settings = make_settings(
            migrated_url,
            openai_api_key="sk-fake-key-for-tests",
            openai_base_url=f"{upstream.url}/v1",
            openai_timeout_seconds=1.0,
            gpt_model="fake-small-model",
            similarity_threshold=0.75,
        )
        async with api_client(settings) as client:
            therapist = await register_therapist(client)
            patient = await create_patient(client, therapist)
            session = await start_session(client, therapist, patient["id"])
            yield Llm(client, upstream, therapist, f"/api/sessions/{session['id']}")


async def _graph_when(llm: Llm, labels: set[str]) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        graph: dict[str, Any] = (
            await llm.client.get(f"{llm.session_url}/graph", headers=llm.therapist.headers)
        ).json()
        present = {node["label"] for node in graph["nodes"]}
        return graph if labels <= present else None

    return await wait_for(ready, within=30)


async def test_entities_embeddings_and_links_come_from_openai(llm: Llm) -> None:
    response = await llm.client.post(
        f"{llm.session_url}/transcript",
        json={"text": "Deadlines at work stress me out."},
        headers=llm.therapist.headers,
    )
    assert response.status_code == 202
    graph = await _graph_when(llm, {"work deadlines", "stress", "sleep"})
    types = {node["label"]: node["type"] for node in graph["nodes"]}
    assert types == {"work deadlines": "topic", "stress": "emotion", "sleep": "topic"}
    # The fake embeds work/stress together and sleep apart: exactly one link, above threshold.
    by_id = {node["id"]: node["label"] for node in graph["nodes"]}
    linked = {frozenset((by_id[link["source"]], by_id[link["target"]])) for link in graph["links"]}
    assert linked == {frozenset({"work deadlines", "stress"})}
    chat = llm.openai.calls["chat"][0]
    assert chat["model"] == "fake-small-model"
    assert chat["response_format"] == {"type": "json_object"}
    assert llm.openai.calls["embeddings"][0]["model"] == "text-embedding-3-small"


async def test_a_timeout_and_a_503_are_retried(llm: Llm) -> None:
    llm.openai.script["chat"] = ["stall:3"]  # longer than the 1 s client timeout
    llm.openai.script["embeddings"] = ["fail:503"]
    await llm.client.post(
        f"{llm.session_url}/transcript", json={"text": "Work again."}, headers=llm.therapist.headers
    )
    await _graph_when(llm, {"work deadlines", "stress"})
    assert len(llm.openai.calls["chat"]) == 2  # timed out once, then answered
    assert len(llm.openai.calls["embeddings"]) == 2  # 503 once, then answered


async def test_extraction_falls_back_offline_when_the_model_stays_down(llm: Llm) -> None:
    llm.openai.script["chat"] = ["fail:503"] * 10
    await llm.client.post(
        f"{llm.session_url}/transcript",
        json={"text": "I feel anxious about my exams."},
        headers=llm.therapist.headers,
    )
    graph = await _graph_when(llm, {"anxiety"})
    assert any(node["type"] == "emotion" for node in graph["nodes"])


async def test_summary_at_session_end_is_written_by_the_llm(llm: Llm) -> None:
    await llm.client.post(f"{llm.session_url}/end", headers=llm.therapist.headers)

    async def summary() -> dict[str, Any] | None:
        body = (
            await llm.client.get(f"{llm.session_url}/summary", headers=llm.therapist.headers)
        ).json()
        result: dict[str, Any] | None = body["summary"]
        return result

    written = await wait_for(summary, within=30)
    assert written["insights"] == ["LLM insight"]
    assert written["recommendations"] == ["LLM advice"]
    system_prompts = [call["messages"][0]["content"] for call in llm.openai.calls["chat"]]
    assert any("summary" in prompt for prompt in system_prompts)


async def test_transcript_is_accepted_while_the_model_is_still_thinking(llm: Llm) -> None:
    llm.openai.gate.clear()  # every upstream call now waits
    try:
        response = await llm.client.post(
            f"{llm.session_url}/transcript",
            json={"text": "Work deadlines."},
            headers=llm.therapist.headers,
        )
        # 202 arrived although no model call could finish: nothing waits on the LLM.
        assert response.status_code == 202
        graph = (
            await llm.client.get(f"{llm.session_url}/graph", headers=llm.therapist.headers)
        ).json()
        assert graph["nodes"] == []
    finally:
        llm.openai.gate.set()
    await _graph_when(llm, {"work deadlines"})


async def test_openai_is_never_called_without_a_key(migrated_url: str) -> None:
    upstream = Upstream()
    async with serve(openai_app(upstream), upstream):
        settings = make_settings(migrated_url, openai_base_url=f"{upstream.url}/v1")
        async with api_client(settings) as client:
            therapist = await register_therapist(client)
            patient = await create_patient(client, therapist)
            session = await start_session(client, therapist, patient["id"])
            url = f"/api/sessions/{session['id']}"
            await client.post(
                f"{url}/transcript", json={"text": "Work stress."}, headers=therapist.headers
            )

            async def nodes() -> list[Any] | None:
                found: list[Any] = (
                    await client.get(f"{url}/graph", headers=therapist.headers)
                ).json()["nodes"]
                return found or None

            await wait_for(nodes, within=30)
    assert upstream.calls == {}
