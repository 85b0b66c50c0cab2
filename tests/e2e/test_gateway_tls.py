"""The e2e user flow (REST, Socket.IO over a websocket, a signed webhook) through Traefik's
Gateway API provider on the real node, then over https through a TLS Ingress; RouteReady goes
False when the Gateway refuses the route. One scenario, one step per test, in order.

1. a stack with spec.gateway: an HTTPRoute (no Ingress), accepted by the Gateway, serves the flow;
2. a parentRef naming a listener the Gateway does not have: RouteReady False (NoMatchingParent),
   the stack not Ready; fixed: Ready again;
3. the same stack on a TLS Ingress (a self-signed Secret made here): the flow over https;
4. spec.observability.postgresExporter: the sidecar runs in the restricted Postgres pod and
   exports pg_up 1 on the pod's port 9187.
"""

from __future__ import annotations

import base64
import ssl
import time
from typing import Any

import httpx
import pytest
from lightkube import codecs

from sandbox import gateway, ingress
from tests.e2e.conftest import HOST, World, since, stack_manifest
from tests.e2e.dimini_client import DiminiClient
from tests.e2e.flow import therapist_flow
from tests.operator.integration.support import STACK, stack_ready
from tests.support.tls import self_signed
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

GATEWAY = "dimini"
LISTENER = "web"
TLS_SECRET = "dimini-e2e-tls"
READY_TIMEOUT = 420


def gateway_stack(world: World, section: str = LISTENER) -> dict[str, Any]:
    doc = stack_manifest(world.refs)
    doc["spec"]["gateway"] = {
        "parentRefs": [{"name": GATEWAY, "namespace": ingress.NAMESPACE, "sectionName": section}],
        "hostnames": [HOST],
    }
    return doc


def conditions(world: World) -> dict[str, dict[str, Any]]:
    obj = world.kubectl.stack() or {}
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def answers(c: DiminiClient) -> bool:
    try:
        return c.ready() == 200
    except Exception:  # not routed yet (or, for https, Traefik's default certificate)
        return False


def test_1_a_gateway_stack_serves_the_flow_through_traefiks_gateway_provider(
    world: World,
) -> None:
    # The Gateway lives in Traefik's namespace (kubectl here is bound to the stack's).
    world.kube.apply(
        codecs.from_dict(
            gateway.gateway(
                GATEWAY,
                ingress.NAMESPACE,
                ingress.CLASS_NAME,
                ingress.DEFAULT_HTTP_PORT,
                listener=LISTENER,
            )
        ),
        field_manager="dimini-tests",
        force=True,
    )
    started = time.monotonic()
    world.kubectl.apply(gateway_stack(world))
    wait_for("the gateway stack Ready", lambda: stack_ready(world.kubectl), READY_TIMEOUT, 1)
    world.record("gateway_apply_to_ready_seconds", since(started))
    assert world.kubectl.get("ingress", STACK) is None, "spec.gateway replaces the Ingress"
    route = world.kubectl.get("httproute", STACK)
    assert route is not None
    (parent,) = route["status"]["parents"]
    assert parent["controllerName"] == gateway.CONTROLLER
    verdicts = {c["type"]: c["status"] for c in parent["conditions"]}
    assert verdicts["Accepted"] == verdicts["ResolvedRefs"] == "True", verdicts
    assert conditions(world)["RouteReady"]["status"] == "True"
    with DiminiClient(world.base_url, HOST, timeout=15) as c:
        wait_for("backend /ready through the Gateway", lambda: answers(c), 120, 0.5)
        assert c.page("/").status_code == 200
        therapist_flow(c, world.signing_key, "Gateway")


def test_2_route_ready_goes_false_when_the_gateway_refuses_the_route(world: World) -> None:
    world.kubectl.apply(gateway_stack(world, section="nope"))

    def refused() -> dict[str, Any] | None:
        cond = conditions(world).get("RouteReady") or {}
        return cond if cond.get("status") == "False" and cond["reason"] != "Pending" else None

    cond = wait_for("RouteReady False", refused, 120, 1)
    assert cond["reason"] == "NoMatchingParent", cond
    assert conditions(world)["Ready"]["status"] == "False"
    world.kubectl.apply(gateway_stack(world))
    wait_for("Ready again", lambda: stack_ready(world.kubectl), 120, 1)


def tls_stack(world: World, cert: bytes, **spec: Any) -> dict[str, Any]:
    doc = stack_manifest(world.refs)  # no spec.gateway: kubectl apply removes it
    doc["spec"]["ingress"]["tls"] = {"secretName": TLS_SECRET}
    doc["spec"].update(spec)
    world.facts["cert"] = cert
    return doc


def test_3_a_tls_ingress_serves_the_flow_over_https(world: World) -> None:
    cert, key = self_signed(HOST)
    world.kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": TLS_SECRET},
            "data": {
                "tls.crt": base64.b64encode(cert).decode(),
                "tls.key": base64.b64encode(key).decode(),
            },
        }
    )
    world.kubectl.apply(tls_stack(world, cert))

    def on_tls() -> dict[str, Any] | None:
        obj = stack_ready(world.kubectl)
        return obj if obj and obj["status"]["url"] == f"https://{HOST}" else None

    wait_for("the stack Ready on https", on_tls, 300, 1)
    assert world.kubectl.get("httproute", STACK) is None, "the HTTPRoute was pruned"
    context = ssl.create_default_context(cadata=cert.decode())
    base = f"https://127.0.0.1:{ingress.https_port_for(ingress.DEFAULT_HTTP_PORT)}"
    with DiminiClient(base, HOST, timeout=15, tls=context) as c:
        wait_for("backend /ready over https", lambda: answers(c), 120, 0.5)
        health = c.page("/health")
        assert health.headers["strict-transport-security"].startswith("max-age=")
        therapist_flow(c, world.signing_key, "Gateway")


def test_4_the_postgres_exporter_sidecar_exports_pg_up(world: World) -> None:
    exporter = {"postgresExporter": {"enabled": True}}
    world.kubectl.apply(tls_stack(world, world.facts["cert"], observability=exporter))

    def exporter_running() -> dict[str, Any] | None:
        (pod,) = world.kubectl.list("pod", "app.kubernetes.io/component=postgres")
        statuses = {c["name"]: c for c in pod["status"].get("containerStatuses") or []}
        ready = statuses.get("postgres-exporter", {}).get("ready") and stack_ready(world.kubectl)
        return pod if ready else None

    pod = wait_for("the exporter sidecar ready", exporter_running, 300, 1)
    url = f"http://{pod['status']['podIP']}:9187/metrics"

    def scraped() -> str | None:
        text = httpx.get(url, timeout=5).text
        return text if "\npg_up 1" in text else None

    text = wait_for("pg_up 1 from the pod's exporter", scraped, 60)
    assert "pg_stat_database_numbackends" in text
    service = world.kubectl.get("service", f"{STACK}-postgres")
    assert service is not None
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    assert ports["metrics"] == 9187, ports
