"""What the Traefik routing tests share: Traefik on the host against the sandbox's API server
(sandbox pods are simulated), as a ServiceAccount, with the backend and frontend as two small
aiohttp servers on the host behind selector-less Services."""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets
import yaml
from aiohttp import WSMsgType, web
from dimini_operator.specs.common import BACKEND_PORT, FRONTEND_PORT, Stack
from dimini_operator.specs.defaults import parse_spec
from lightkube import Client, codecs
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, ServiceAccount
from lightkube.resources.networking_v1 import IngressClass
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding

from images import traefik
from sandbox import cluster, ingress, realnode
from tests.support.waiting import wait_for

HOST = "dimini.localhost"
STACK = "demo"
FIELD_MANAGER = "dimini-tests"
Manifest = dict[str, Any]


def socket_io(port: int) -> Any:
    """A websocket to the stack's Socket.IO path through the controller listening on `port`, as
    a browser opens it (Host: HOST, no proxy)."""
    return websockets.connect(
        f"ws://{HOST}/socket.io/?EIO=4&transport=websocket",
        host="127.0.0.1",
        port=port,
        proxy=None,
    )


def apply(kube: Client, manifest: Manifest) -> None:
    kube.apply(codecs.from_dict(manifest), field_manager=FIELD_MANAGER, force=True)


def demo_stack(namespace: str, spec: dict[str, Any], name: str = STACK) -> Stack:
    """A stack with `spec` (the images are required by the spec model; routes do not use them)."""
    images = {"backend": {"image": "unused/backend:1"}, "frontend": {"image": "unused/frontend:1"}}
    return Stack(
        name=name,
        namespace=namespace,
        uid=str(uuid.uuid4()),
        generation=1,
        spec=parse_spec({**images, **spec}),
    )


def unowned(manifest: Manifest) -> Manifest:
    """An operator render without its owner reference: no DiminiStack object exists here, and
    the garbage collector would delete an object owned by a missing one."""
    del manifest["metadata"]["ownerReferences"]
    return manifest


class Upstream:
    """An HTTP + WebSocket server on 0.0.0.0 in its own thread: answers `<name> <path>` (and a
    request with a body `<name> <path> <n> bytes`, recording n in `bodies`), and echoes
    WebSocket text messages as `<name>: <text>`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self.bodies: list[int] = []
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
        if request.can_read_body:
            size = len(await request.read())
            self.bodies.append(size)
            return web.Response(text=f"{self.name} {request.path} {size} bytes")
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


@contextmanager
def host_upstreams(kube: Client, namespace: str) -> Iterator[dict[str, Upstream]]:
    """The stack's backend and frontend Services, pointing at two Upstreams on the host."""
    upstreams = {name: Upstream(name).start() for name in ("backend", "frontend")}
    try:
        address = realnode.host_ip()
        for name, port in (("backend", BACKEND_PORT), ("frontend", FRONTEND_PORT)):
            for m in service_and_endpoints(
                namespace, f"{STACK}-{name}", port, address, upstreams[name].port
            ):
                apply(kube, m)
        yield upstreams
    finally:
        for upstream in upstreams.values():
            upstream.stop()


def token_file(kube: Client, account: str, namespace: str, path: Path) -> Path:
    """A one-hour token of the ServiceAccount, written to `path` (Traefik reads it from a file)."""
    token = kube.create(
        ServiceAccount.Token(
            metadata=ObjectMeta(name=account, namespace=namespace),
            spec=TokenRequestSpec(audiences=[], expirationSeconds=3600),
        ),
        name=account,
        namespace=namespace,
    )
    assert token.status is not None and token.status.token
    path.write_text(token.status.token)
    return path


def outside_cluster(
    provider: str, sandbox: cluster.Sandbox, token: Path, namespace: str
) -> list[str]:
    """Arguments pointing a Traefik Kubernetes provider at the sandbox's API server from the host,
    as the token's account, watching one namespace."""
    api = api_server(sandbox)
    return [
        f"--providers.{provider}.endpoint={api['server']}",
        f"--providers.{provider}.token={token}",
        f"--providers.{provider}.certAuthFilePath={api['certificate-authority']}",
        f"--providers.{provider}.namespaces={namespace}",
    ]


def api_server(sandbox: cluster.Sandbox) -> dict[str, str]:
    """The sandbox API server's address and CA file, from its kubeconfig."""
    cluster_entry: dict[str, str] = yaml.safe_load(sandbox.kubeconfig.read_text())["clusters"][0][
        "cluster"
    ]
    return cluster_entry


@dataclass(frozen=True)
class OnHost:
    """Traefik's Ingress provider on the host, watching one test namespace."""

    namespace: str
    class_name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    upstreams: dict[str, Upstream]


@contextmanager
def ingress_controller(
    kube: Client,
    sandbox: cluster.Sandbox,
    tmp: Path,
    prefix: str,
    manifests: Callable[[str, str], list[Manifest]],
) -> Iterator[OnHost]:
    """The install (minus its Deployment; not the default class, to leave other tests' Ingresses
    be) in a new namespace, the host upstreams, `manifests(namespace, class_name)`, then Traefik
    with the install's own command line as the install's ServiceAccount."""
    namespace = f"{prefix}-{uuid.uuid4().hex[:6]}"
    class_name = f"traefik-{namespace}"
    role = ingress.cluster_role_name(namespace)
    process: subprocess.Popen[bytes] | None = None
    try:
        ingress.install_crds(kube)
        for m in ingress.render(
            traefik.IMAGE, namespace=namespace, class_name=class_name, default_class=False
        ):
            if m["kind"] != "Deployment":
                apply(kube, m)
        with host_upstreams(kube, namespace) as upstreams:
            for m in manifests(namespace, class_name):
                apply(kube, m)
            token = token_file(kube, "traefik", namespace, tmp / "token")
            binary = traefik.binary()

            def command(port: int) -> list[str]:
                return [
                    str(binary),
                    *ingress.args(port, class_name, address="127.0.0.1"),
                    *outside_cluster("kubernetesingress", sandbox, token, namespace),
                    *outside_cluster("kubernetescrd", sandbox, token, namespace),
                ]

            log = tmp / "traefik.log"
            process, port = start_traefik(command, log)
            yield OnHost(namespace, class_name, port, process, log, upstreams)
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
        kube.delete(Namespace, namespace)
        kube.delete(ClusterRoleBinding, role)
        kube.delete(ClusterRole, role)
        kube.delete(IngressClass, class_name)
