"""An Ingress with spec.ingress.tls is served over https by the Traefik built here, with the
certificate of the stack's TLS Secret (self-signed, made here), WebSocket upgrades included.

As test_routing.py: Traefik on the host with the install's command line (its websecure
entrypoint), as the install's ServiceAccount, against the sandbox's API server; the backend and
frontend are aiohttp servers on the host behind selector-less Services.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from dimini_operator.specs import ingress as stack_ingress
from lightkube import Client

from sandbox import cluster, ingress
from tests.ingress.support import HOST, demo_stack, ingress_controller, unowned
from tests.support.tls import self_signed
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox

TLS_SECRET = "demo-tls"


def stack_tls_ingress(namespace: str, class_name: str) -> dict[str, Any]:
    ingress_spec = {"host": HOST, "className": class_name, "tls": {"secretName": TLS_SECRET}}
    stack = demo_stack(namespace, {"ingress": ingress_spec})
    assert stack.url == f"https://{HOST}"
    (manifest,) = stack_ingress.render(stack)
    return unowned(manifest)


@dataclass(frozen=True)
class Served:
    port: int
    ca: Path

    @property
    def https_port(self) -> int:
        return ingress.https_port_for(self.port)

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def get(self, path: str) -> httpx.Response:
        # SNI and Host both name the stack (Traefik picks the certificate by SNI).
        with httpx.Client(verify=self.context(), timeout=5, trust_env=False) as client:
            return client.get(
                f"https://127.0.0.1:{self.https_port}{path}",
                headers={"Host": HOST},
                extensions={"sni_hostname": HOST},
            )


@pytest.fixture(scope="module")
def served(
    kube: Client, sandbox: cluster.Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("traefik-tls")
    cert, key = self_signed(HOST)
    (tmp / "ca.pem").write_bytes(cert)

    def manifests(namespace: str, class_name: str) -> list[dict[str, Any]]:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": TLS_SECRET, "namespace": namespace},
            "data": {
                "tls.crt": base64.b64encode(cert).decode(),
                "tls.key": base64.b64encode(key).decode(),
            },
        }
        return [secret, stack_tls_ingress(namespace, class_name)]

    with ingress_controller(kube, sandbox, tmp, "t-tls", manifests) as on_host:
        served = Served(on_host.port, tmp / "ca.pem")

        def ready() -> httpx.Response | None:
            assert on_host.process.poll() is None, on_host.log.read_text()
            # Until routed, Traefik answers with its default certificate: verification fails.
            response = served.get("/api/ready")
            return response if response.status_code == 200 else None

        wait_for(f"Traefik serving https (log: {on_host.log})", ready, 30)
        yield served


def test_https_with_the_stacks_certificate_routes_like_http(served: Served) -> None:
    assert served.get("/api/patients").text == "backend /api/patients"
    assert served.get("/").text == "frontend /"
    assert served.get("/patients/1").text == "frontend /patients/1"


async def test_a_secure_websocket_round_trips_on_socket_io(served: Served) -> None:
    async with websockets.connect(
        f"wss://{HOST}/socket.io/?EIO=4&transport=websocket",
        host="127.0.0.1",
        port=served.https_port,
        ssl=served.context(),
        proxy=None,
    ) as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), 5) == "backend: hello"
