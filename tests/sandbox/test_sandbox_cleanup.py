"""`sandbox down` leaves no container process on the host (issue 16, acceptance 0).

A container's first process is PID 1 of its namespace and ignores SIGTERM; with its shim gone it
would be reparented to the host's init and run on. Each test starts its own real-node sandbox,
runs a pod whose processes ignore SIGTERM, and checks after `down` by cgroup and by PID
(with the process start time, so a reused PID does not count), never by name.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.codecs import from_dict
from lightkube.resources.core_v1 import Pod

from sandbox import cluster, podprocs
from sandbox.nodes import client as sandbox_client
from tests.support import busybox
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

# Two children beside the shell, all ignoring SIGTERM.
STUBBORN = "trap '' TERM; sleep 100000 & sleep 100000 & wait"


def start_time(pid: int) -> str | None:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


@pytest.fixture
def node_sandbox(tmp_path: Path) -> Iterator[cluster.Sandbox]:
    if podprocs.pod_pids():
        pytest.fail(f"container processes already run on this host: {sorted(podprocs.pod_pids())}")
    sb = cluster.up(tmp_path / "sb", nodes=0, real_node=True)
    try:
        yield sb
    finally:
        cluster.down(sb.root, quiet=True)  # idempotent: a test has usually done it already


def run_stubborn_pod(sb: cluster.Sandbox) -> dict[int, str | None]:
    kube: Client = sandbox_client(sb)
    image = busybox.ensure_loaded(sb)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "stubborn", "namespace": "default"},
        "spec": {
            "terminationGracePeriodSeconds": 300,
            "containers": [{"name": "s", "image": image, "command": ["sh", "-c", STUBBORN]}],
        },
    }
    kube.create(from_dict(pod))

    def running() -> bool:
        status = kube.get(Pod, "stubborn", namespace="default").status
        return bool(status and status.phase == "Running")

    wait_for("the stubborn pod Running", running, 120)
    # pause + sh + two sleeps, each in its own PID namespace, not ours.
    pids = wait_for("the pod's processes", lambda: podprocs.pod_pids() or None, 30)
    own_ns = os.readlink("/proc/self/ns/pid")
    assert len(pids) >= 4, pids
    assert all(os.readlink(f"/proc/{p}/ns/pid") != own_ns for p in pids)
    return {pid: start_time(pid) for pid in pids}


def assert_all_gone(ran: dict[int, str | None]) -> None:
    survivors = [pid for pid, started in ran.items() if started and start_time(pid) == started]
    assert survivors == [], f"container processes survived down: {survivors}"
    assert podprocs.pod_pids() == set()


def test_down_stops_containers_that_ignore_sigterm(
    node_sandbox: cluster.Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    ran = run_stubborn_pod(node_sandbox)
    cluster.down(node_sandbox.root)
    assert_all_gone(ran)
    assert "through containerd" in capfd.readouterr().err


def test_down_after_the_node_crashed_kills_by_cgroup(node_sandbox: cluster.Sandbox) -> None:
    ran = run_stubborn_pod(node_sandbox)
    # A killed `make dev` or a crashed host process: containerd and the kubelet are gone, and
    # nothing can stop the containers through them any more.
    for name in ("kubelet", "containerd"):
        os.killpg(node_sandbox.pids()[name], signal.SIGKILL)
    wait_for(
        "containerd and the kubelet gone",
        lambda: not any(cluster._alive(node_sandbox.pids()[n]) for n in ("kubelet", "containerd")),
        10,
    )
    assert set(ran) <= podprocs.pod_pids()  # the containers still run: down must end them
    cluster.down(node_sandbox.root)
    assert_all_gone(ran)
