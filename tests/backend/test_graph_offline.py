"""The graph pipeline without an OpenAI key: no network, shipped lexicon, offline vectors."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from app.models.enums import NodeType
from app.services.graph.extract import extract_offline
from app.services.graph.metrics import compute_metrics

from tests.backend.helpers import create_patient, register_therapist, start_session, wait_for

TRANSCRIPT = [
    "I've been really stressed at work lately.",
    "My boss keeps piling on deadlines and I feel overwhelmed.",
    "At night I can't sleep because I keep worrying about the project.",
    "I'm exhausted every morning and my sleep is a mess.",
]


def test_offline_extraction_finds_topics_and_emotions() -> None:
    entities = extract_offline(" ".join(TRANSCRIPT))
    by_type = {entity.key: entity.type for entity in entities}
    assert by_type["topic:work"] == NodeType.topic
    assert by_type["topic:sleep"] == NodeType.topic
    assert by_type["emotion:stress"] == NodeType.emotion
    assert by_type["emotion:exhaustion"] == NodeType.emotion
    assert len(by_type) == len(entities)  # keys are unique within a batch


def test_metrics_rank_the_hub_highest() -> None:
    import uuid

    hub, a, b, c = (uuid.uuid4() for _ in range(4))
    metrics = compute_metrics([hub, a, b, c], [(hub, a, 0.9), (hub, b, 0.8), (hub, c, 0.85)])
    assert max(metrics, key=lambda node: metrics[node].pagerank) == hub
    assert metrics[hub].betweenness == pytest.approx(1.0)
    assert metrics[hub].weighted_degree == pytest.approx(2.55)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach a non-local address fails the test."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("::1", "localhost") or host.startswith("/")
        ):
            raise AssertionError(f"network access attempted: {host}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


async def test_transcript_grows_a_linked_graph_and_a_summary_offline(
    client: httpx.AsyncClient, no_network: None
) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}"
    for sentence in TRANSCRIPT:
        response = await client.post(
            f"{url}/transcript", json={"text": sentence}, headers=therapist.headers
        )
        assert response.status_code == 202

    expected = {"work", "sleep", "stress", "exhaustion"}

    async def ranked_graph() -> dict[str, Any] | None:
        # Done when every utterance is in and the metrics have caught up with the last batch.
        graph: dict[str, Any] = (await client.get(f"{url}/graph", headers=therapist.headers)).json()
        labels = {node["label"]: node for node in graph["nodes"]}
        complete = expected <= set(labels) and labels["sleep"]["mentionCount"] == 2
        ranked = all(node["pagerank"] > 0 for node in graph["nodes"])
        return graph if complete and ranked else None

    graph = await wait_for(ranked_graph, within=30)
    types = {node["type"] for node in graph["nodes"]}
    assert types == {"topic", "emotion"}
    pairs = [tuple(sorted((link["source"], link["target"]))) for link in graph["links"]]
    assert len(pairs) == len(set(pairs))  # each link once
    assert all(link["value"] >= 0.75 for link in graph["links"])
    sleep = next(node for node in graph["nodes"] if node["label"] == "sleep")
    assert sleep["mentionCount"] == 2  # mentioned in two utterances

    insights = (await client.get(f"{url}/insights", headers=therapist.headers)).json()
    assert insights["topByPagerank"]

    await client.post(f"{url}/end", headers=therapist.headers)

    async def summary_ready() -> dict[str, Any] | None:
        body = (await client.get(f"{url}/summary", headers=therapist.headers)).json()
        summary: dict[str, Any] | None = body["summary"]
        return summary

    summary = await wait_for(summary_ready, within=30)
    assert "work" in summary["keyTopics"] or "sleep" in summary["keyTopics"]
    assert summary["emotionalThemes"]


async def test_concurrent_posts_keep_node_keys_unique(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}"
    responses = await asyncio.gather(
        *(
            client.post(
                f"{url}/transcript",
                json={"text": "Work stress keeps me anxious."},
                headers=therapist.headers,
            )
            for _ in range(8)
        )
    )
    assert {response.status_code for response in responses} == {202}

    async def all_mentions_counted() -> list[dict[str, Any]] | None:
        nodes: list[dict[str, Any]] = (
            await client.get(f"{url}/graph", headers=therapist.headers)
        ).json()["nodes"]
        return nodes if nodes and all(n["mentionCount"] == 8 for n in nodes) else None

    nodes = await wait_for(all_mentions_counted, within=30)
    labels = [node["label"] for node in nodes]
    assert len(labels) == len(set(labels))
