"""Acceptance 5 of the packaging issue: the tunnel's Deployment is admitted in a namespace that
enforces `restricted`, runs, and the stack's status carries the webhook URL; disabling it
removes the Deployment again."""

from __future__ import annotations

import pytest

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import STACK, Operator, sample, stack_ready
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox


def test_tunnel_runs_and_status_has_the_webhook_url(stack_ns: StackNs, operator: Operator) -> None:
    k = stack_ns.k
    k.run("create", "secret", "generic", "dimini-tunnel", "--from-literal=token=not-a-real-token")
    k.apply(
        sample(
            stack_ns.storage_class,
            tunnel={
                "enabled": True,
                "tokenSecretRef": {"name": "dimini-tunnel"},
                "publicHostname": "hooks.example.com",
            },
        )
    )
    wait_for("stack Ready", lambda: stack_ready(k), 60)

    def tunnel_available() -> bool:
        dep = k.get("deployment", f"{STACK}-tunnel")
        return bool(dep and dep.get("status", {}).get("availableReplicas") == 1)

    wait_for("tunnel Deployment available", tunnel_available, 30)
    stack = k.stack()
    assert stack is not None
    assert stack["status"]["webhookUrl"] == "https://hooks.example.com/api/webhooks/hume"

    k.patch("diministack", STACK, {"spec": {"tunnel": {"enabled": False}}})
    wait_for(
        "tunnel Deployment removed", lambda: k.get("deployment", f"{STACK}-tunnel") is None, 30
    )
    wait_for(
        "webhookUrl cleared", lambda: "webhookUrl" not in (k.stack() or {}).get("status", {}), 30
    )
