"""A real Prometheus (Debian's `prometheus`) scrapes a real two-worker backend and the real
postgres_exporter, loads the chart's alert rules, and every dashboard query over those two returns
data through Prometheus' HTTP API after the traffic that feeds each panel.

The series get `namespace` and `stack` as static target labels, as the chart's PodMonitors'
relabelling gives them in a cluster. Operator panels are left to the operator's own tests (its
per-stack metrics are still owed: docs/observability.md)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.backend.fakes import HUME_SIGNING_KEY, signed_body
from tests.backend.helpers import (
    SocketRecorder,
    backend_env,
    create_patient,
    register_therapist,
    start_session,
    wait_for,
)
from tests.backend.workers import Served, serve
from tests.monitoring.promql import RULES, dashboard_expressions, grafana_to_promql, metric_names
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer
from tests.support.processes import stop
from tests.support.waiting import wait_for as sync_wait_for

pytestmark = pytest.mark.postgres

PROMETHEUS = "/usr/bin/prometheus"
POSTGRES_EXPORTER = "/usr/bin/prometheus-postgres-exporter"
TARGET_LABELS = {"namespace": "team-a", "stack": "clinic"}


def _start(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    if not os.access(args[0], os.X_OK):
        raise RuntimeError(
            f"{args[0]} not found: apt-get install prometheus prometheus-postgres-exporter"
        )
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)


@pytest.fixture(scope="module")
def backend(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = backend_env(migrated_url, HUME_WEBHOOK_SIGNING_KEY=HUME_SIGNING_KEY)
    with serve(env, tmp_path_factory.mktemp("dashboard")) as served:
        yield served


@pytest.fixture(scope="module")
def prometheus(
    backend: Served, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("prometheus")
    exporter_port, prometheus_port = free_port(), free_port()
    exporter = _start(
        [POSTGRES_EXPORTER, f"--web.listen-address=127.0.0.1:{exporter_port}"],
        tmp / "exporter.log",
        env={
            "PATH": "/usr/bin:/bin",
            "DATA_SOURCE_NAME": postgres.url("postgres", driver="postgresql") + "?sslmode=disable",
        },
    )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": name,
                "static_configs": [{"targets": [target], "labels": TARGET_LABELS}],
            }
            for name, target in (
                ("backend", f"127.0.0.1:{backend.port}"),
                ("postgres", f"127.0.0.1:{exporter_port}"),
            )
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    server = _start(
        [
            PROMETHEUS,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        tmp / "prometheus.log",
    )
    try:
        yield f"http://127.0.0.1:{prometheus_port}"
    finally:
        stop(server, grace=15)
        stop(exporter, grace=15)


async def feed_every_panel(backend: Served) -> None:
    """Requests (2xx and 4xx), a Socket.IO client and its events, a transcript through the graph
    pipeline and a summary, and a rejected webhook."""
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        therapist = await register_therapist(client, "Dashboard")
        patient = await create_patient(client, therapist)
        session = await start_session(client, therapist, patient["id"])
        url = f"/api/sessions/{session['id']}"
        text = {"text": "Work stress keeps me awake; the exhaustion is constant."}
        posted = await client.post(f"{url}/transcript", json=text, headers=therapist.headers)
        assert posted.status_code == 202
        recorder = SocketRecorder()
        await recorder.connect(backend.url, therapist.token)
        try:
            joined = await recorder.client.call("join_session", {"sessionId": session["id"]})
            assert joined["ok"]
            await recorder.wait_for_event("metrics_updated", within=30)
        finally:
            await recorder.disconnect()
        await client.post(f"{url}/end", headers=therapist.headers)
        body, headers = signed_body(b"{}", "not-the-signing-key")
        assert (
            await client.post("/api/webhooks/hume", content=body, headers=headers)
        ).status_code == 401
        await client.get(f"/api/patients/{uuid.uuid4()}")  # a 4xx


async def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{prometheus}/api/v1/query", params={"query": expr})
    body = response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def backend_and_postgres_panels() -> dict[str, str]:
    panels = {}
    for where, expr in dashboard_expressions().items():
        names = metric_names(expr)
        if names and not any(name.startswith("dimini_operator_") for name in names):
            # Two minutes: rate() needs two samples, and a scrape every second gives plenty.
            panels[where] = grafana_to_promql(expr).replace("[5m]", "[2m]")
    return panels


async def test_dashboard_queries_return_data_from_a_real_prometheus(
    backend: Served, prometheus: str
) -> None:
    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{prometheus}/-/ready")).status_code == 200
        except httpx.TransportError:
            return False

    await wait_for(ready, within=30)
    await feed_every_panel(backend)
    panels = backend_and_postgres_panels()
    assert len(panels) >= 12

    async def without_data() -> list[str]:
        return sorted(
            [where for where, expr in panels.items() if not await query(prometheus, expr)]
        )

    async def all_answer() -> bool:
        return not await without_data()

    try:
        await wait_for(all_answer, within=60, interval=1)
    except AssertionError:
        raise AssertionError(f"panels without data: {await without_data()}") from None


def test_prometheus_loads_and_evaluates_every_alert_rule(prometheus: str) -> None:
    def evaluated() -> list[dict[str, Any]] | None:
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        done = rules and all(rule["lastEvaluation"].startswith("20") for rule in rules)
        return rules if done else None

    rules = sync_wait_for("Prometheus evaluates the rules", evaluated, timeout=30)
    expected = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    assert {rule["name"] for rule in rules} == expected
    assert [rule["name"] for rule in rules if rule["health"] != "ok"] == []
