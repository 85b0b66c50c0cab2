"""Acceptance 4 (one stack): two operators, one leads; killing it hands the Lease over."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable

import pytest
from lightkube import Client

from tests.operator.integration.conftest import StackNs, add_volume
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


STACKS = [f"s{i:02d}" for i in range(20)]


def stack_events(k: Kubectl) -> list[tuple[str, str, str]]:
    """The stacks' Events as (stack, message, reportingInstance), one entry per Event object."""
    return [
        (e["involvedObject"]["name"], e.get("message") or "", e.get("reportingInstance") or "")
        for e in k.list("events")
        if e.get("involvedObject", {}).get("kind") == "DiminiStack"
    ]


def no_repeats(events: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """(stack, message) pairs posted more than once: two writers posting one transition."""
    seen = [(s, m) for s, m, _ in events]
    return sorted({p for p in seen if seen.count(p) > 1})


def test_twenty_stacks_hand_over_within_fifteen_seconds(
    kube: Client, stack_ns: StackNs, start_operator: Callable[..., Operator]
) -> None:
    """Acceptance 4 over 20 stacks: one leader writes, the follower takes over within the
    issue's 15 s of the leader's death, no Event is posted twice, no password regenerated."""
    k = stack_ns.k
    first = start_operator()
    wait_for("a Lease holder", lambda: holder(k), 30)
    second = start_operator()
    assert first.proc is not None and second.proc is not None
    for name in STACKS:
        add_volume(kube, stack_ns.name, stack_ns.storage_class, stack=name)
        doc = sample(stack_ns.storage_class)
        doc["metadata"]["name"] = name
        k.apply(doc)
    wait_for("20 stacks Ready", lambda: all(stack_ready(k, n) for n in STACKS), 240)
    assert second.writes() == 0, "the follower wrote"
    passwords = {n: (k.get("secret", f"{n}-db") or {}).get("metadata", {}) for n in STACKS}

    first.proc.send_signal(signal.SIGKILL)  # no release: the Lease must expire
    first.proc.wait(10)
    follower_pid = second.proc.pid
    wait_for(
        "the follower leads (issue bound: 15 s)",
        lambda: (holder(k) or "").endswith(f"-{follower_pid}"),
        15,
    )
    for name in STACKS:
        k.patch("diministack", name, {"spec": {"frontend": {"replicas": 2}}})

    def all_two() -> bool:
        return all(
            stack_ready(k, n)
            and (k.get("deployment", f"{n}-frontend") or {}).get("spec", {}).get("replicas") == 2
            for n in STACKS
        )

    wait_for("the new leader reconciles all 20", all_two, 240)
    for name in STACKS:
        meta = (k.get("secret", f"{name}-db") or {}).get("metadata", {})
        before = passwords[name]
        assert (meta.get("uid"), meta.get("resourceVersion")) == (
            before.get("uid"),
            before.get("resourceVersion"),
        ), f"{name}-db was rewritten"
    after = stack_events(k)
    before_kill = [e for e in after if e[2].endswith(f"-{first.proc.pid}")]
    by_follower = [e for e in after if e[2].endswith(f"-{follower_pid}")]
    assert len(before_kill) + len(by_follower) == len(after)
    assert {s for s, _, _ in before_kill} == set(STACKS)
    # Each replica posted each transition once; the new leader re-posted none of the old one's.
    assert no_repeats(before_kill) == [] and no_repeats(by_follower) == []
    assert {m for _, m, _ in by_follower} <= {
        "phase Ready -> Provisioning",
        "phase Provisioning -> Ready",
    }, by_follower
