"""The backend's metrics in-process: webhook outcomes, graph pipeline stages, bounded labels.

prometheus-client's default registry is the process's: each test compares before and after.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from app.core.metrics import GRAPH_STAGES, WEBHOOK_OUTCOMES
from prometheus_client import REGISTRY

from tests.backend.fakes import HUME_SIGNING_KEY, chat_started, signed_body, signed_event
from tests.backend.helpers import (
    api_client,
    create_patient,
    make_settings,
    register_therapist,
    start_session,
    wait_for,
)

pytestmark = pytest.mark.postgres

WEBHOOK = "/api/webhooks/hume"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def webhook_counts() -> dict[str, float]:
    return {
        outcome: sample("dimini_webhooks_total", outcome=outcome) for outcome in WEBHOOK_OUTCOMES
    }


@pytest.fixture
async def signed_client(migrated_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(migrated_url, hume_webhook_signing_key=HUME_SIGNING_KEY)
    async with api_client(settings) as client:
        yield client


async def test_webhook_outcomes_are_counted(signed_client: httpx.AsyncClient) -> None:
    before = webhook_counts()
    event = chat_started(f"chat-{uuid.uuid4()}", "group-1", start_ms=int(time.time() * 1000))
    body, headers = signed_event(event, HUME_SIGNING_KEY)
    unbound = await signed_client.post(WEBHOOK, content=body, headers=headers)
    assert unbound.json()["status"] == "ignored"  # no session owns that chat
    forged = await signed_client.post(
        WEBHOOK, content=body, headers={**headers, "X-Hume-AI-Webhook-Signature": "0" * 64}
    )
    unsigned = await signed_client.post(
        WEBHOOK, content=body, headers={"Content-Type": "application/json"}
    )
    old_body, old_headers = signed_event(event, HUME_SIGNING_KEY, at=time.time() - 3600)
    stale = await signed_client.post(WEBHOOK, content=old_body, headers=old_headers)
    junk_body, junk_headers = signed_body(
        json.dumps({"event_name": "nope"}).encode(), HUME_SIGNING_KEY
    )
    junk = await signed_client.post(WEBHOOK, content=junk_body, headers=junk_headers)
    assert [r.status_code for r in (forged, unsigned, stale, junk)] == [401, 401, 401, 400]
    after = webhook_counts()
    delta = {outcome: after[outcome] - before[outcome] for outcome in WEBHOOK_OUTCOMES}
    assert delta == {
        "recorded": 0,
        "ignored": 1,
        "bad_signature": 1,
        "missing_signature": 1,
        "stale": 1,
        "not_configured": 0,
        "malformed": 1,
    }


async def test_webhooks_without_a_signing_key_count_as_not_configured(
    client: httpx.AsyncClient,
) -> None:
    before = sample("dimini_webhooks_total", outcome="not_configured")
    body, headers = signed_body(b"{}", HUME_SIGNING_KEY)
    assert (await client.post(WEBHOOK, content=body, headers=headers)).status_code == 401
    assert sample("dimini_webhooks_total", outcome="not_configured") == before + 1


async def test_graph_pipeline_stages_are_timed(client: httpx.AsyncClient) -> None:
    def counts() -> dict[str, float]:
        return {
            stage: sample("dimini_graph_stage_duration_seconds_count", stage=stage)
            for stage in GRAPH_STAGES
        }

    before = counts()
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/sessions/{session['id']}"
    text = {"text": "Work stress keeps me awake and the exhaustion is constant."}
    assert (
        await client.post(f"{url}/transcript", json=text, headers=therapist.headers)
    ).status_code == 202

    async def graph_stages_ran() -> dict[str, float] | None:
        now = counts()
        done = all(now[stage] > before[stage] for stage in ("extract", "embed", "link", "metrics"))
        return now if done else None

    await wait_for(graph_stages_ran, within=30)
    await client.post(f"{url}/end", headers=therapist.headers)

    async def summarised() -> bool:
        return counts()["summary"] > before["summary"]

    await wait_for(summarised, within=30)


async def test_labels_stay_bounded(client: httpx.AsyncClient) -> None:
    # Unknown paths share one label value; a made-up verb does not become one.
    for path in ("/no/such/thing", f"/{uuid.uuid4()}"):
        await client.get(path)
    await client.request("BREW", "/health")
    text = (await client.get("/metrics")).text
    assert 'route="unmatched",status="404"' in text
    assert 'method="other"' in text
    assert "BREW" not in text and "/no/such/thing" not in text
