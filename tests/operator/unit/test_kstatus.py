"""The status the operator writes, read by the real kstatus library (cli-utils, Go).

kstatus is what Helm 4 `--wait`, `flux wait`/health checks and kpt use; these cases are the
phases a stack goes through. The live-stack counterpart is tests/operator/integration/
test_kstatus.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dimini_operator.specs import storage
from dimini_operator.specs.common import Stack
from dimini_operator.specs.plan import Observed, plan_migration
from dimini_operator.specs.status import derive

from tests.operator.kstatus_tool import compute
from tests.operator.unit.conftest import stored
from tests.operator.unit.test_status import T0, _conds, converged


def _derive(stack: Stack, obs: Observed, *, paused: bool = False) -> dict[str, Any]:
    return derive(stack, obs, plan_migration(stack, obs), old_status={}, now=T0, paused=paused)


def _lost(converged_obs: Observed) -> Observed:
    """A converged stack whose `-db` Secret is gone while its volume exists."""
    return Observed(
        db_password="",
        secret_key="sk",
        children=converged_obs.children,
        credentials_lost=True,
        applied_image=converged_obs.applied_image,
    )


def _growing(obs: Observed, reason: str) -> Observed:
    growth = storage.Growth(None, reason, f"data-demo-postgres-0: {reason}")
    return dataclasses.replace(obs, storage_growth=growth)


def _scenarios(stack: Stack) -> dict[str, tuple[dict[str, Any], str]]:
    ready = converged(stack)
    db_only = Observed(
        db_password="pw",
        secret_key="sk",
        children={("StatefulSet", "demo-postgres"): {"status": {"readyReplicas": 1}}},
    )
    waiting_db = Observed(
        db_password="pw",
        secret_key="sk",
        children={("StatefulSet", "demo-postgres"): {"status": {}}},
    )
    missing = Observed(
        db_password="pw",
        secret_key="sk",
        children=ready.children,
        secret_problems=('Secret "oa" (spec.secretRefs.openai) not found',),
        applied_image=ready.applied_image,
    )
    lost = _lost(ready)
    ready_status = _derive(stack, ready)
    return {
        "pending": (
            stored(stack, _derive(stack, Observed(db_password="p", secret_key="s"))),
            "InProgress",
        ),
        "provisioning": (stored(stack, _derive(stack, waiting_db)), "InProgress"),
        "migrating": (stored(stack, _derive(stack, db_only)), "InProgress"),
        "missing-secret": (stored(stack, _derive(stack, missing)), "Failed"),
        "credentials-lost": (stored(stack, _derive(stack, lost)), "Failed"),
        "ready": (stored(stack, ready_status), "Current"),
        "paused": (stored(stack, _derive(stack, ready, paused=True)), "Current"),
        # A spec change the operator has not seen yet: a stale Ready must not count.
        "stale-ready": (stored(stack, ready_status, generation=stack.generation + 1), "InProgress"),
        # A larger spec.postgres.storage.size: the app serves (Ready) while the claim grows, and
        # a class that cannot expand stalls it.
        "storage-resizing": (
            stored(stack, _derive(stack, _growing(ready, "Resizing"))),
            "InProgress",
        ),
        "storage-refused": (
            stored(stack, _derive(stack, _growing(ready, "StorageExpansionNotSupported"))),
            "Failed",
        ),
    }


def test_kstatus_reads_every_phase_right(stack: Stack) -> None:
    cases = _scenarios(stack)
    results = compute(*(body for body, _ in cases.values()))
    got = {name: r["status"] for name, r in zip(cases, results, strict=True)}
    assert got == {name: want for name, (_, want) in cases.items()}


def test_lost_credentials_stall_with_their_reason(stack: Stack) -> None:
    st = _derive(stack, _lost(converged(stack)))
    stalled = _conds(st)["Stalled"]
    assert st["phase"] == "Degraded"
    assert (stalled["status"], stalled["reason"]) == ("True", "CredentialsLost")
    assert "demo-db" in stalled["message"] and "data-demo-postgres-0" in stalled["message"]


def test_paused_is_not_reconciling(stack: Stack) -> None:
    conds = _conds(_derive(stack, converged(stack), paused=True))
    for t in ("Reconciling", "Progressing", "Stalled"):
        assert conds[t]["status"] == "False", conds[t]
    assert conds["Reconciling"]["reason"] == "Paused"
    assert conds["Paused"]["status"] == "True"
