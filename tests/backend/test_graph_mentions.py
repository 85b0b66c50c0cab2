"""The moments a graph node was mentioned: one per transcript batch naming it, with its words."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.backend.helpers import create_patient, register_therapist, start_session, wait_for

UTTERANCES = [
    "I can't sleep before a deadline.",
    "My sister calls every evening and it helps.",
    "Last night my sleep was better after the walk.",
]


async def test_a_node_lists_each_moment_it_was_mentioned_in_order(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}"
    for text in UTTERANCES:
        response = await client.post(
            f"{url}/transcript", json={"text": text}, headers=therapist.headers
        )
        assert response.status_code == 202

    async def sleep_twice() -> dict[str, Any] | None:
        nodes = (await client.get(f"{url}/graph", headers=therapist.headers)).json()["nodes"]
        sleep = next((node for node in nodes if node["label"] == "sleep"), None)
        return sleep if sleep and sleep["mentionCount"] == 2 else None

    sleep = await wait_for(sleep_twice, within=30)
    response = await client.get(
        f"{url}/graph/nodes/{sleep['id']}/mentions", headers=therapist.headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["nodeId"] == sleep["id"]
    contexts = [mention["context"] for mention in body["mentions"]]
    assert contexts == [UTTERANCES[0], UTTERANCES[2]]
    moments = [mention["at"] for mention in body["mentions"]]
    assert moments == sorted(moments)
    assert moments[0] >= session["startedAt"]


async def test_mentions_of_another_therapists_node_or_an_unknown_node_are_not_found(
    client: httpx.AsyncClient,
) -> None:
    owner = await register_therapist(client)
    patient = await create_patient(client, owner)
    session = await start_session(client, owner, patient["id"])
    url = f"/api/sessions/{session['id']}"
    await client.post(f"{url}/transcript", json={"text": UTTERANCES[0]}, headers=owner.headers)

    async def any_node() -> str | None:
        nodes = (await client.get(f"{url}/graph", headers=owner.headers)).json()["nodes"]
        return str(nodes[0]["id"]) if nodes else None

    node_id = await wait_for(any_node, within=30)
    other = await register_therapist(client)
    foreign = await client.get(f"{url}/graph/nodes/{node_id}/mentions", headers=other.headers)
    assert foreign.status_code == 404
    unknown = await client.get(f"{url}/graph/nodes/{uuid.uuid4()}/mentions", headers=owner.headers)
    assert unknown.status_code == 404
