"""Acceptance 5 with a real fault injector: the operator talks to the sandbox's API server
through tests/support/faultproxy.py, which answers 20 % of the non-watch requests with 429
(Retry-After) or 503. Every failed call is retried; the stack's phase never shows Degraded."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.cluster import Sandbox
from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import STACK, Operator, sample, stack_ready
from tests.support.faultproxy import FaultProxy
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox


@pytest.fixture
def faulty_operator(
    sandbox: Sandbox, stack_ns: StackNs, tmp_path: Path
) -> Iterator[tuple[Operator, FaultProxy]]:
    proxy = FaultProxy(sandbox.kubeconfig, fraction=0.2).start()
    env = {**sandbox.env(), "KUBECONFIG": str(proxy.kubeconfig(tmp_path / "faulty.kubeconfig"))}
    op = Operator(env, stack_ns.name)
    try:
        op.start()
        yield op, proxy
    finally:
        op.stop()
        proxy.stop()


def test_injected_429_and_503_are_retried_and_never_degrade(
    stack_ns: StackNs, faulty_operator: tuple[Operator, FaultProxy]
) -> None:
    op, proxy = faulty_operator
    k = stack_ns.k
    phases: list[str] = []
    stop = threading.Event()

    def watch_phase() -> None:  # the status over the whole run, not just at the end
        while not stop.is_set():
            # A failed kubectl poll is no observation.
            with contextlib.suppress(AssertionError):
                phases.append(((k.stack() or {}).get("status") or {}).get("phase") or "")
            stop.wait(0.2)

    watcher = threading.Thread(target=watch_phase, daemon=True)
    watcher.start()
    try:
        k.apply(sample(stack_ns.storage_class))
        wait_for("stack Ready through the faults", lambda: stack_ready(k), 120)
        k.patch("diministack", STACK, {"spec": {"frontend": {"replicas": 2}}})

        def two() -> bool:
            fe = k.get("deployment", f"{STACK}-frontend") or {}
            return bool(stack_ready(k)) and fe.get("spec", {}).get("replicas") == 2

        wait_for("a change reconciled through the faults", two, 120)
    finally:
        stop.set()
        watcher.join(5)
    assert proxy.injected[429] > 0 and proxy.injected[503] > 0, proxy.injected
    assert op.counter("dimini_operator_api_retries") > 0
    assert "Ready" in phases
    assert "Degraded" not in phases, phases
    cond = k.condition("Stalled") or {}
    assert cond.get("status") == "False", cond
