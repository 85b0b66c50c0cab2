"""The Traefik built here routes a DiminiStack's Ingress, WebSocket upgrades included.

Sandbox pods are simulated, so Traefik runs on the host: as the install's ServiceAccount (the
rendered ClusterRole is all it may use), with the install's own command line, watching the
sandbox's API server from outside the cluster. The backend and frontend are two small aiohttp
servers on the host; selector-less Services with hand-written EndpointSlices point at them.
"""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
import yaml
from aiohttp import WSMsgType, web
from dimini_operator.specs import ingress as stack_ingress
from dimini_operator.specs.common import BACKEND_PORT, FRONTEND_PORT, Stack
from dimini_operator.specs.defaults import parse_spec
from lightkube import Client, codecs
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, ServiceAccount
from lightkube.resources.networking_v1 import Ingress, IngressClass
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding

from images import traefik
from sandbox import cluster, ingress, realnode
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox

HOST = "dimini.localhost"
STACK = "demo"


class Upstream:
    """An HTTP + WebSocket server on 0.0.0.0 in its own thread: answers `<name> <path>`, and
    echoes WebSocket text messages as `<name>: <text>`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await ws.send_str(f"{self.name}: {msg.data}")
            return ws
        return web.Response(text=f"{self.name} {request.path}")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "0.0.0.0", 0)  # noqa: S104 - reached via the host's IP
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    def start(self) -> Upstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def service_and_endpoints(
    namespace: str, name: str, port: int, address: str, target: int
) -> list[dict[str, Any]]:
    """A Service without selector and the EndpointSlice the endpoint controller would have made."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"ports": [{"name": "http", "port": port, "protocol": "TCP"}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-host",
                "namespace": namespace,
                "labels": {
                    "kubernetes.io/service-name": name,
                    "endpointslice.kubernetes.io/managed-by": "dimini-tests",
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": target, "protocol": "TCP"}],
        },
    ]


def stack_ingress_manifest(namespace: str, class_name: str) -> dict[str, Any]:
    """The operator's Ingress for a stack, without the owner reference: no DiminiStack object
    exists here, and the garbage collector would delete an Ingress owned by a missing one."""
    stack = Stack(
        name=STACK,
        namespace=namespace,
        uid=str(uuid.uuid4()),
        generation=1,
        # The images are required by the spec model; the Ingress does not use them.
        spec=parse_spec(
            {
                "backend": {"image": "unused/backend:1"},
                "frontend": {"image": "unused/frontend:1"},
                "ingress": {"enabled": True, "host": HOST, "className": class_name},
            }
        ),
    )
    (manifest,) = stack_ingress.render(stack)
    del manifest["metadata"]["ownerReferences"]
    return manifest


def free_port_pair() -> int:
    """A free loopback port whose successor is free too (Traefik's web and health entrypoints),
    below the ephemeral range so that outgoing connections do not take it meanwhile."""
    while True:
        port = random.randrange(20000, 32000)
        try:
            for p in (port, port + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port


def start_traefik(
    command: Callable[[int], list[str]], log: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """Traefik on a free port pair, listening. Another process may still bind a port between the
    check and Traefik's own bind: then Traefik exits and new ports are tried."""
    for _ in range(5):
        port = free_port_pair()
        with log.open("wb") as out:
            process = subprocess.Popen(command(port), stdout=out, stderr=subprocess.STDOUT)

        def up_or_exited(process: subprocess.Popen[bytes] = process, port: int = port) -> bool:
            if process.poll() is not None:
                return True
            url = f"http://127.0.0.1:{ingress.health_port_for(port)}/ping"
            try:
                return httpx.get(url, timeout=2, trust_env=False).status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_for(f"Traefik up or exited (log: {log})", up_or_exited, 30)
        except TimeoutError:
            process.kill()
            raise
        if process.poll() is None:
            return process, port
        if "address already in use" not in log.read_text():
            raise AssertionError(log.read_text())
    raise AssertionError(f"no free port pair for Traefik after 5 tries: {log.read_text()}")


@dataclass(frozen=True)
class Routed:
    namespace: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, host: str = HOST) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"Host": host}, timeout=5, trust_env=False)


@pytest.fixture(scope="module")
def traefik_binary() -> Path:
    return traefik.binary()


@pytest.fixture(scope="module")
def routed(
    kube: Client,
    sandbox: cluster.Sandbox,
    traefik_binary: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Routed]:
    namespace = f"t-ingress-{uuid.uuid4().hex[:6]}"
    class_name = f"traefik-{namespace}"
    tmp = tmp_path_factory.mktemp("traefik")
    # The install minus its Deployment; not the default class, to leave other tests' Ingresses be.
    install = [
        m
        for m in ingress.render(
            traefik.IMAGE, namespace=namespace, class_name=class_name, default_class=False
        )
        if m["kind"] != "Deployment"
    ]
    role = ingress.cluster_role_name(namespace)
    upstreams = {name: Upstream(name).start() for name in ("backend", "frontend")}
    process: subprocess.Popen[bytes] | None = None
    try:
        for m in install:
            kube.apply(codecs.from_dict(m), field_manager="dimini-tests", force=True)
        address = realnode.host_ip()
        for name, port in (("backend", BACKEND_PORT), ("frontend", FRONTEND_PORT)):
            child = f"{STACK}-{name}"
            for m in service_and_endpoints(namespace, child, port, address, upstreams[name].port):
                kube.apply(codecs.from_dict(m), field_manager="dimini-tests", force=True)
        kube.apply(
            codecs.from_dict(stack_ingress_manifest(namespace, class_name)),
            field_manager="dimini-tests",
            force=True,
        )

        token = kube.create(
            ServiceAccount.Token(
                metadata=ObjectMeta(name="traefik", namespace=namespace),
                spec=TokenRequestSpec(audiences=[], expirationSeconds=3600),
            ),
            name="traefik",
            namespace=namespace,
        )
        assert token.status is not None and token.status.token
        (tmp / "token").write_text(token.status.token)
        kubeconfig = yaml.safe_load(sandbox.kubeconfig.read_text())
        api = kubeconfig["clusters"][0]["cluster"]

        log = tmp / "traefik.log"

        def command(port: int) -> list[str]:
            return [
                str(traefik_binary),
                *ingress.args(port, class_name, address="127.0.0.1"),
                f"--providers.kubernetesingress.endpoint={api['server']}",
                f"--providers.kubernetesingress.token={tmp / 'token'}",
                f"--providers.kubernetesingress.certAuthFilePath={api['certificate-authority']}",
                f"--providers.kubernetesingress.namespaces={namespace}",
            ]

        process, port = start_traefik(command, log)
        routed = Routed(namespace, port, process, log)

        def ready() -> bool:
            assert process is not None and process.poll() is None, log.read_text()
            try:
                return routed.get("/api/ready").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(f"Traefik routing (log: {log})", ready, 30)
        yield routed
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
        for upstream in upstreams.values():
            upstream.stop()
        kube.delete(Namespace, namespace)
        kube.delete(ClusterRoleBinding, role)
        kube.delete(ClusterRole, role)
        kube.delete(IngressClass, class_name)


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
    async with websockets.connect(
        f"ws://{HOST}/socket.io/?EIO=4&transport=websocket",
        host="127.0.0.1",
        port=routed.port,
        proxy=None,
    ) as ws:
        for text in ("hello", "again"):
            await ws.send(text)
            assert await asyncio.wait_for(ws.recv(), 5) == f"backend: {text}"


def test_ingress_status_reports_the_controllers_address(routed: Routed, kube: Client) -> None:
    def addresses() -> list[str]:
        ing = kube.get(Ingress, STACK, namespace=routed.namespace)
        lb = ing.status.loadBalancer if ing.status else None
        return [i.ip or "" for i in (lb.ingress or [])] if lb else []

    wait_for("Ingress status", lambda: addresses() == [ingress.STATUS_IP], 30)
