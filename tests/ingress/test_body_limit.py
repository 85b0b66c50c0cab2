"""Issue 12 #1 at the ingress: with spec.ingress.controller Traefik, the Traefik built here refuses
a body over spec.ingress.maxBodySize with 413 before it reaches the backend, through the
operator's Middleware and Ingresses; the frontend's Ingress has no limit; WebSockets still pass.

As in test_routing.py: Traefik on the host (Ingress and CRD providers, as the install's
ServiceAccount), aiohttp upstreams on the host behind selector-less Services.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dimini_operator.specs import ingress as stack_ingress
from lightkube import Client

from sandbox import cluster
from tests.ingress.support import HOST, OnHost, demo_stack, ingress_controller, socket_io, unowned
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox

LIMIT = 64 * 1024


def rendered(namespace: str, class_name: str) -> list[dict[str, Any]]:
    """The operator's Middleware and two Ingresses for a stack limited to 64 KiB."""
    spec = {
        "ingress": {
            "host": HOST,
            "className": class_name,
            "controller": "Traefik",
            "maxBodySize": "64Ki",
        }
    }
    return [unowned(m) for m in stack_ingress.render(demo_stack(namespace, spec))]


@pytest.fixture(scope="module")
def limited(
    kube: Client, sandbox: cluster.Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OnHost]:
    tmp = tmp_path_factory.mktemp("traefik-limit")
    with ingress_controller(kube, sandbox, tmp, "t-limit", rendered) as on_host:

        def ready() -> bool:
            assert on_host.process.poll() is None, on_host.log.read_text()
            try:
                # The backend's Ingress is routed only once Traefik has loaded the Middleware.
                return get(on_host, "/api/ready").text == "backend /api/ready"
            except httpx.TransportError:
                return False

        wait_for(f"Traefik routing (log: {on_host.log})", ready, 30)
        yield on_host


def get(on_host: OnHost, path: str) -> httpx.Response:
    url = f"http://127.0.0.1:{on_host.port}{path}"
    return httpx.get(url, headers={"Host": HOST}, timeout=5, trust_env=False)


def post(on_host: OnHost, path: str, size: int) -> httpx.Response:
    url = f"http://127.0.0.1:{on_host.port}{path}"
    body = b"x" * size
    return httpx.post(url, headers={"Host": HOST}, content=body, timeout=30, trust_env=False)


def test_a_body_over_the_limit_is_refused_before_the_backend(limited: OnHost) -> None:
    backend = limited.upstreams["backend"]
    seen = len(backend.bodies)
    refused = post(limited, "/api/auth/token", LIMIT + 1)
    assert refused.status_code == 413, refused.text
    assert len(backend.bodies) == seen  # the backend never saw it
    # At the limit the body arrives whole.
    passed = post(limited, "/api/auth/token", LIMIT)
    assert passed.status_code == 200 and passed.text == f"backend /api/auth/token {LIMIT} bytes"


def test_the_frontend_routes_are_not_limited(limited: OnHost) -> None:
    # The frontend's own Ingress: no buffering Middleware (its responses stream).
    response = post(limited, "/anything", 4 * LIMIT)
    assert response.text == f"frontend /anything {4 * LIMIT} bytes"


async def test_websockets_pass_the_buffering_middleware(limited: OnHost) -> None:
    async with socket_io(limited.port) as ws:
        # A message larger than the body limit: the limit is on request bodies only.
        text = "y" * (2 * LIMIT)
        await ws.send(text)
        assert await asyncio.wait_for(ws.recv(), 5) == f"backend: {text}"
