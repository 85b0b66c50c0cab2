"""The Traefik built here routes a DiminiStack's Ingress, WebSocket upgrades included.

Sandbox pods are simulated, so Traefik runs on the host: as the install's ServiceAccount (the
rendered ClusterRole is all it may use), with the install's own command line, watching the
sandbox's API server from outside the cluster. The backend and frontend are two small aiohttp
servers on the host; selector-less Services with hand-written EndpointSlices point at them
(tests/ingress/support.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from dimini_operator.specs import ingress as stack_ingress
from lightkube import Client
from lightkube.resources.networking_v1 import Ingress

from sandbox import cluster, ingress
from tests.ingress.support import HOST, STACK, demo_stack, ingress_controller, socket_io, unowned
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox


def stack_ingress_manifest(namespace: str, class_name: str) -> dict[str, Any]:
    """The operator's Ingress for a stack."""
    spec = {"ingress": {"enabled": True, "host": HOST, "className": class_name}}
    (manifest,) = stack_ingress.render(demo_stack(namespace, spec))
    return unowned(manifest)


@dataclass(frozen=True)
class Routed:
    namespace: str
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, host: str = HOST) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"Host": host}, timeout=5, trust_env=False)


@pytest.fixture(scope="module")
def routed(
    kube: Client, sandbox: cluster.Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Routed]:
    tmp = tmp_path_factory.mktemp("traefik")
    with ingress_controller(
        kube, sandbox, tmp, "t-ingress", lambda ns, cls: [stack_ingress_manifest(ns, cls)]
    ) as on_host:
        routed = Routed(on_host.namespace, on_host.port, on_host.log)

        def ready() -> bool:
            assert on_host.process.poll() is None, on_host.log.read_text()
            try:
                return routed.get("/api/ready").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(f"Traefik routing (log: {on_host.log})", ready, 30)
        yield routed


def test_api_paths_go_to_the_backend_and_the_rest_to_the_frontend(routed: Routed) -> None:
    assert routed.get("/api/patients").text == "backend /api/patients"
    assert routed.get("/health").text == "backend /health"
    assert routed.get("/ready").text == "backend /ready"
    assert routed.get("/openapi.json").text == "backend /openapi.json"
    assert routed.get("/").text == "frontend /"
    assert routed.get("/patients/42").text == "frontend /patients/42"
    # /health is a Prefix path matched by path element (strictPrefixMatching): not /healthz.
    assert routed.get("/healthz").text == "frontend /healthz"


def test_other_hosts_are_not_routed(routed: Routed) -> None:
    assert routed.get("/api/patients", host="elsewhere.example").status_code == 404


async def test_websocket_upgrade_round_trips_on_socket_io(routed: Routed) -> None:
    async with socket_io(routed.port) as ws:
        for text in ("hello", "again"):
            await ws.send(text)
            assert await asyncio.wait_for(ws.recv(), 5) == f"backend: {text}"


def test_ingress_status_reports_the_controllers_address(routed: Routed, kube: Client) -> None:
    def addresses() -> list[str]:
        ing = kube.get(Ingress, STACK, namespace=routed.namespace)
        lb = ing.status.loadBalancer if ing.status else None
        return [i.ip or "" for i in (lb.ingress or [])] if lb else []

    wait_for("Ingress status", lambda: addresses() == [ingress.STATUS_IP], 30)
