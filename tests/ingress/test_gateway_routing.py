"""Traefik's Gateway API provider routes a DiminiStack's HTTPRoute, WebSocket upgrades included,
and its verdicts (Accepted, ResolvedRefs on status.parents) are what RouteReady reads.

As in test_routing.py: the real Traefik binary on the host with the Gateway API provider,
authenticated as a ServiceAccount holding exactly sandbox.gateway.RBAC_RULES, against the
sandbox's API server with the standard-channel CRDs of sigs.k8s.io/gateway-api installed. The
backend and frontend are aiohttp servers on the host behind selector-less Services.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from dimini_operator.specs import gateway as stack_gateway
from dimini_operator.specs.common import Stack
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding

from images import traefik
from sandbox import cluster, gateway, ingress
from tests.ingress.support import (
    HOST,
    STACK,
    Upstream,
    api_server,
    apply,
    demo_stack,
    host_upstreams,
    outside_cluster,
    socket_io,
    start_traefik,
    token_file,
    unowned,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox

HTTPRoute = gateway.HTTPRoute
GatewayClass = gateway.GatewayClass


# The backend's rule carries Traefik's body limit (spec.ingress.controller Traefik).
LIMIT = 64 * 1024


def stack(namespace: str, name: str, parent: dict[str, Any], https: bool = False) -> Stack:
    spec = {
        "gateway": {"parentRefs": [parent], "hostnames": [HOST], "https": https},
        "ingress": {"controller": "Traefik", "maxBodySize": "64Ki"},
    }
    return demo_stack(namespace, spec, name)


def apply_stack(kube: Client, s: Stack) -> None:
    """The operator's Middleware and HTTPRoute without the owner reference (no DiminiStack
    exists here)."""
    for manifest in stack_gateway.render(s):
        apply(kube, unowned(manifest))


@dataclass(frozen=True)
class Routed:
    gw_namespace: str
    namespace: str
    port: int
    log: Path
    upstreams: dict[str, Upstream]

    def get(self, path: str, host: str = HOST) -> httpx.Response:
        return httpx.get(
            f"http://127.0.0.1:{self.port}{path}",
            headers={"Host": host},
            timeout=5,
            trust_env=False,
        )


@pytest.fixture(scope="module")
def routed(
    kube: Client, sandbox: cluster.Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Routed]:
    binary = traefik.binary()
    gateway.install_crds(kube)
    ingress.install_crds(kube)
    suffix = uuid.uuid4().hex[:6]
    gw_ns, ns = f"t-gw-{suffix}", f"t-gwstack-{suffix}"
    class_name = f"traefik-{suffix}"
    # Only this test's GatewayClass: another Traefik in the sandbox must not claim it, nor this
    # one another test's.
    selector = {"dimini.io/test-gateway": suffix}
    role = f"dimini-traefik-gateway-{suffix}"
    tmp = tmp_path_factory.mktemp("traefik-gateway")
    process = None
    resources = ExitStack()
    try:
        for name in (gw_ns, ns):
            kube.create(Namespace(metadata=ObjectMeta(name=name, labels={"dimini.io/test": "1"})))
        apply(kube, {"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": "traefik", "namespace": gw_ns}})  # fmt: skip
        apply(kube, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                     "metadata": {"name": role},
                     "rules": gateway.RBAC_RULES + ingress.CRD_RBAC_RULES})  # fmt: skip
        apply(
            kube,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": role},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": "traefik", "namespace": gw_ns}],
            },
        )  # fmt: skip
        apply(kube, gateway.gateway_class(class_name, selector))
        upstreams = resources.enter_context(host_upstreams(kube, ns))
        # The stack's route, and two the Gateways refuse: a listener that admits only routes of
        # its own namespace, and a listener name that does not exist.
        apply_stack(kube, stack(ns, STACK, {"name": "shared", "namespace": gw_ns,
                                            "sectionName": "web"}))  # fmt: skip
        apply_stack(kube, stack(ns, "closed", {"name": "closed", "namespace": gw_ns}))
        apply_stack(kube, stack(ns, "nosection", {"name": "shared", "namespace": gw_ns,
                                                  "sectionName": "nope"}))  # fmt: skip

        token = token_file(kube, "traefik", gw_ns, tmp / "token")
        api = api_server(sandbox)
        log = tmp / "traefik.log"

        def command(port: int) -> list[str]:
            # The listeners' port is the entrypoint's: the Gateways follow the port tried.
            apply(kube, gateway.gateway("shared", gw_ns, class_name, port))
            apply(kube, gateway.gateway("closed", gw_ns, class_name, port,
                                        allowed_namespaces="Same"))  # fmt: skip
            return [
                str(binary),
                f"--entryPoints.web.address=127.0.0.1:{port}",
                f"--entryPoints.traefik.address=127.0.0.1:{ingress.health_port_for(port)}",
                "--ping=true",
                "--ping.entryPoint=traefik",
                *gateway.args(label_selector=f"dimini.io/test-gateway={suffix}"),
                f"--providers.kubernetesgateway.endpoint={api['server']}",
                f"--providers.kubernetesgateway.token={token}",
                f"--providers.kubernetesgateway.certAuthFilePath={api['certificate-authority']}",
                f"--providers.kubernetesgateway.namespaces={gw_ns},{ns}",
                # The Middleware of the ExtensionRef filter.
                "--providers.kubernetescrd=true",
                *outside_cluster("kubernetescrd", sandbox, token, ns),
                "--log.format=json",
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
            ]

        process, port = start_traefik(command, log)
        routed = Routed(gw_ns, ns, port, log, upstreams)

        def ready() -> bool:
            assert process is not None and process.poll() is None, log.read_text()
            try:
                # Served by the backend only once Traefik has loaded the filter's Middleware.
                return routed.get("/api/ready").text == "backend /api/ready"
            except httpx.TransportError:
                return False

        wait_for(f"Traefik routing the HTTPRoute (log: {log})", ready, 60)
        yield routed
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
        resources.close()
        for name in (gw_ns, ns):
            kube.delete(Namespace, name)
        kube.delete(ClusterRoleBinding, role)
        kube.delete(ClusterRole, role)
        kube.delete(GatewayClass, class_name)


def verdict(
    kube: Client, routed: Routed, name: str, parent: dict[str, Any]
) -> tuple[bool, str, str]:
    obj = kube.get(HTTPRoute, name, namespace=routed.namespace)
    live: dict[str, Any] = obj.to_dict()  # type: ignore[no-untyped-call]  # generic resource
    return stack_gateway.route_ready(stack(routed.namespace, name, parent), live)


def test_api_paths_go_to_the_backend_and_the_rest_to_the_frontend(routed: Routed) -> None:
    assert routed.get("/api/patients").text == "backend /api/patients"
    assert routed.get("/health").text == "backend /health"
    assert routed.get("/openapi.json").text == "backend /openapi.json"
    assert routed.get("/socket.io/?EIO=4").text == "backend /socket.io/"
    assert routed.get("/").text == "frontend /"
    assert routed.get("/patients/42").text == "frontend /patients/42"
    # PathPrefix matches whole path elements: /healthz is not /health.
    assert routed.get("/healthz").text == "frontend /healthz"
    assert routed.get("/api/patients", host="elsewhere.example").status_code == 404


def test_the_backend_rule_refuses_a_body_over_the_limit(routed: Routed) -> None:
    def post(path: str, size: int) -> httpx.Response:
        url = f"http://127.0.0.1:{routed.port}{path}"
        headers = {"Host": HOST}
        return httpx.post(url, headers=headers, content=b"x" * size, timeout=30, trust_env=False)

    backend = routed.upstreams["backend"]
    seen = len(backend.bodies)
    assert post("/api/auth/token", LIMIT + 1).status_code == 413
    assert len(backend.bodies) == seen  # refused by Traefik, never forwarded
    assert post("/api/auth/token", LIMIT).text == f"backend /api/auth/token {LIMIT} bytes"
    # The frontend's rule has no filter.
    assert post("/upload", 2 * LIMIT).text == f"frontend /upload {2 * LIMIT} bytes"


async def test_websocket_upgrade_round_trips_on_socket_io(routed: Routed) -> None:
    async with socket_io(routed.port) as ws:
        for text in ("hello", "again"):
            await ws.send(text)
            assert await asyncio.wait_for(ws.recv(), 5) == f"backend: {text}"


def test_route_ready_once_the_gateway_accepted_the_route(kube: Client, routed: Routed) -> None:
    parent = {"name": "shared", "namespace": routed.gw_namespace, "sectionName": "web"}

    def accepted() -> tuple[bool, str, str] | None:
        v = verdict(kube, routed, STACK, parent)
        return v if v[0] else None

    ok, reason, message = wait_for("RouteReady True", accepted, 30)
    assert (ok, reason) == (True, "Accepted"), message


@pytest.mark.parametrize(
    ("name", "parent", "reason"),
    [
        ("closed", {"name": "closed"}, "NotAllowedByListeners"),
        ("nosection", {"name": "shared", "sectionName": "nope"}, "NoMatchingParent"),
    ],
)
def test_route_not_ready_when_the_gateway_refuses_it(
    kube: Client, routed: Routed, name: str, parent: dict[str, Any], reason: str
) -> None:
    parent = {**parent, "namespace": routed.gw_namespace}

    def refused() -> tuple[bool, str, str] | None:
        v = verdict(kube, routed, name, parent)
        return v if v[1] != "Pending" else None

    ok, got, message = wait_for(f"a verdict on {name}", refused, 30)
    assert not ok and got == reason, message
    assert routed.get("/api/ready", host=HOST).status_code == 200  # the stack's route still serves


def test_an_https_route_sets_hsts_on_every_response(kube: Client, routed: Routed) -> None:
    """spec.gateway.https: Traefik applies the route's ResponseHeaderModifier on both rules (the
    backend's beside its body-limit ExtensionRef). The filter does not depend on the listener's
    protocol, so the plain `web` listener shows it; the stack's route is put back afterwards."""
    parent = {"name": "shared", "namespace": routed.gw_namespace, "sectionName": "web"}

    def hsts(path: str) -> str | None:
        value: str | None = routed.get(path).headers.get("strict-transport-security")
        return value

    apply_stack(kube, stack(routed.namespace, STACK, parent, https=True))
    try:
        wait_for(
            "HSTS on the backend's and the frontend's responses",
            lambda: all(hsts(p) == stack_gateway.HSTS for p in ("/api/ready", "/")),
            30,
        )
        assert routed.get("/api/ready").text == "backend /api/ready"
    finally:
        apply_stack(kube, stack(routed.namespace, STACK, parent))
    wait_for(
        "no HSTS once https is off", lambda: hsts("/") is None and hsts("/api/ready") is None, 30
    )
