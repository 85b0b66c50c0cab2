"""Acceptance 4 (one stack): two operators, one leads; killing it hands the Lease over."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable

import pytest

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import STACK, Kubectl, Operator, sample, stack_ready
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox


def holder(k: Kubectl) -> str | None:
    proc = k.run("get", "lease", "dimini-operator", "-o", "json", check=False)
    if proc.returncode != 0:
        return None
    value = json.loads(proc.stdout).get("spec", {}).get("holderIdentity")
    return str(value) if value else None


def test_one_leader_reconciles_and_hands_over(
    stack_ns: StackNs, start_operator: Callable[..., Operator]
) -> None:
    k = stack_ns.k
    first = start_operator()
    leader = wait_for("a Lease holder", lambda: holder(k), 30)
    second = start_operator()
    assert first.proc is not None and second.proc is not None
    assert leader.endswith(f"-{first.proc.pid}")

    k.apply(sample(stack_ns.storage_class))
    wait_for("stack Ready", lambda: stack_ready(k), 60)
    # The follower watched everything but wrote nothing: no password, Event or status race.
    assert second.writes() == 0
    assert first.writes() > 0

    first.proc.send_signal(signal.SIGKILL)  # no release: the Lease must expire
    first.proc.wait(10)
    follower_pid = second.proc.pid
    wait_for(
        "the second operator leads",
        lambda: (holder(k) or "").endswith(f"-{follower_pid}"),
        30,
    )
    k.patch("diministack", STACK, {"spec": {"frontend": {"replicas": 2}}})

    def ready_with_two() -> bool:
        fe = k.get("deployment", f"{STACK}-frontend") or {}
        return bool(stack_ready(k)) and fe.get("spec", {}).get("replicas") == 2

    wait_for("the new leader reconciles", ready_with_two, 60)
    assert second.writes() > 0
