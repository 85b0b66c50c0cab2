"""NetworkPolicies enforced on the real node (issue 12, finding 17, acceptance 7).

The policy engine (sandbox/netpol.py: kube-network-policies) runs on the real node; the sample
stack is applied with the opt-in policy set and `defaultDeny` in its namespace. In order:

1. the stack reaches Ready under enforcement (the migration Job reaches Postgres and DNS);
2. a therapist's flow through the Ingress still passes (ingress controller -> frontend/backend,
   backend -> Postgres, realtime, a signed webhook);
3. a pod that is neither the backend nor a migration/backup pod cannot open a TCP connection to
   Postgres, while a pod carrying the migration labels can; the node's address (how the sandbox's
   host-network Traefik is seen) reaches the backend through `ingressController.ipBlocks` but
   not Postgres;
4. with the engine removed, the very same pod connects: without enforcement step 3 fails.
"""

from __future__ import annotations

import ipaddress
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from dimini_operator.specs.common import APP_NAME, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_NAME
from lightkube.resources.core_v1 import Pod

from sandbox import netpol, realnode
from tests.e2e.conftest import STACK_NAMESPACE, World, stack_manifest
from tests.e2e.flow import therapist_flow
from tests.e2e.test_stack import client, pods, really_running, wait_ready
from tests.operator.integration.support import STACK
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

CONNECT_TIMEOUT = 3  # seconds a probe waits for the TCP handshake (a dropped SYN never answers)
ATTEMPTS = 3


@pytest.fixture(scope="module")
def enforced(world: World) -> Iterator[World]:
    """The engine on the real node for this module only: later modules see the node as before."""
    netpol.install(world.kube, realnode.NodePaths(world.sandbox.root))
    yield world
    netpol.uninstall(world.kube)


def node_addresses() -> list[str]:
    """Where the sandbox's Traefik (host network) connects to pods from: the bridge's gateway
    address, and the host's address for connections through a Service."""
    gateway = next(ipaddress.ip_network(realnode.POD_CIDR).hosts())
    return [f"{gateway}/32", f"{realnode.host_ip()}/32"]


def policy_manifest(world: World) -> dict[str, Any]:
    doc = stack_manifest(world.refs)
    doc["spec"]["networkPolicies"] = {
        "enabled": True,
        "defaultDeny": True,
        "ingressController": {"ipBlocks": node_addresses()},
    }
    return doc


def component_labels(component: str) -> dict[str, str]:
    """The selector labels the operator puts on the stack's pods of `component`."""
    return {LABEL_NAME: APP_NAME, LABEL_INSTANCE: STACK, LABEL_COMPONENT: component}


def probe(world: World, target: str, port: int, pod_labels: dict[str, str]) -> bool:
    """Run a pod that opens one TCP connection to target:port; True when it connected. The pod
    uses an IP address, not a name: in a default-deny namespace it has no DNS either."""
    name = f"netpol-probe-{uuid.uuid4().hex[:8]}"
    # A few attempts: the engine learns a new pod's address from the API, and a connection made
    # before that is judged as coming from an unknown address (issues.k8s.io/85966).
    script = (
        "import socket, sys, time\n"
        f"for attempt in range({ATTEMPTS}):\n"
        "    try:\n"
        f"        with socket.create_connection(({target!r}, {port}), {CONNECT_TIMEOUT}):\n"
        "            sys.exit(0)\n"
        "    except OSError as err:\n"
        "        print('attempt', attempt, err, flush=True)\n"
        "        time.sleep(1)\n"
        "sys.exit(1)\n"
    )
    world.kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {**pod_labels, "dimini.io/e2e": "netpol-probe"}},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "probe",
                        "image": world.refs["backend"],
                        "imagePullPolicy": "Never",
                        "command": ["python", "-c", script],
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            },
        }
    )

    def finished() -> str | None:
        pod = world.kube.get(Pod, name, namespace=STACK_NAMESPACE)
        phase = pod.status.phase if pod.status else None
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_for(f"probe {name} to finish", finished, 60, interval=0.5)
    world.kube.delete(Pod, name, namespace=STACK_NAMESPACE, grace_period=0)
    return phase == "Succeeded"


def host_connects(target: str, port: int) -> bool:
    """One TCP connection from the host as an unprivileged user, as the sandbox's Traefik (host
    network, uid 65532) opens them; root's connections are never filtered."""
    script = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(({target!r}, {port}), {CONNECT_TIMEOUT}).close()\n"
        "except OSError:\n"
        "    sys.exit(1)\n"
    )
    argv = ["setpriv", "--reuid=65532", "--regid=65532", "--clear-groups", "/usr/bin/python3"]
    done = subprocess.run([*argv, "-c", script], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


def pod_ip(world: World, component: str) -> str:
    found = [p for p in pods(world, component) if really_running(p)]
    assert found and found[0].status and found[0].status.podIP, component
    return found[0].status.podIP


def postgres_ip(world: World) -> str:
    (pg,) = pods(world, "postgres")
    assert pg.status and pg.status.podIP
    return pg.status.podIP


STRANGER = {"app": "netpol-stranger"}


def test_1_the_stack_is_ready_under_enforcement_in_a_default_deny_namespace(
    enforced: World,
) -> None:
    world = enforced
    world.kubectl.apply(policy_manifest(world))
    wait_ready(world)
    policies = {p["metadata"]["name"] for p in world.kubectl.list("networkpolicy")}
    assert {
        f"{STACK}-{c}" for c in ("postgres", "backend", "frontend", "migration", "default-deny")
    } <= policies
    for component in ("postgres", "backend", "frontend"):
        found = pods(world, component)
        assert found and all(really_running(p) for p in found), component
    jobs = world.kubectl.list("job", f"app.kubernetes.io/instance={STACK}")
    assert jobs and all(j["status"].get("succeeded") == 1 for j in jobs), "the migration Job"


def test_2_a_therapist_works_through_the_ingress_with_policies_enforced(enforced: World) -> None:
    world = enforced
    with client(world) as c:
        assert c.page("/").status_code == 200, "the frontend through the Ingress"
        done = therapist_flow(c, world.signing_key, "Policy")
        assert c.get_patient(done.patient)["name"] == "Pat Policy"


def test_3_only_backend_and_migration_pods_reach_postgres(enforced: World) -> None:
    world = enforced
    target = postgres_ip(world)
    assert not probe(world, target, 5432, STRANGER), "a stranger pod connected to Postgres"
    assert probe(world, target, 5432, component_labels("migration")), (
        "a pod with the migration labels could not connect: the refusal above is not the policy's"
    )
    # The frontend is a component of the stack, yet no Postgres client.
    assert not probe(world, target, 5432, component_labels("frontend"))
    # The node's address is the ingress controller (ingressController.ipBlocks): admitted to the
    # backend, yet no Postgres client either.
    assert host_connects(pod_ip(world, "backend"), 8000), "the node's address to the backend"
    assert not host_connects(target, 5432), "the node's address (not root) reached Postgres"


def test_4_without_the_engine_the_same_pod_connects(enforced: World) -> None:
    world = enforced
    netpol.uninstall(world.kube)
    try:
        target = postgres_ip(world)
        assert probe(world, target, 5432, STRANGER), (
            "without enforcement the stranger still could not connect: step 3 proves nothing"
        )
        assert host_connects(target, 5432), "without enforcement the node's address connects"
    finally:
        netpol.install(world.kube, realnode.NodePaths(world.sandbox.root))
