"""The operator reports a served CRD older than itself (issue 14, finding 7): a condition on
every stack naming the fields the API server prunes, and a log line; gone after the upgrade."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from dimini_operator import crd

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import CRD_FILE, Kubectl, Operator, sample, stack_ready
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox


def crd_outdated(k: Kubectl) -> dict[str, Any] | None:
    return k.condition("CRDOutdated")


@pytest.fixture
def old_crd(stack_ns: StackNs) -> Iterator[Kubectl]:
    """The CRD as an older release had it (no spec.postgres.parameters); restored afterwards."""
    old = copy.deepcopy(crd.crd())
    schema = old["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    postgres = schema["properties"]["spec"]["properties"]["postgres"]
    del postgres["properties"]["parameters"]
    # Rules that name the field would not compile without it (that release had none of them).
    postgres["x-kubernetes-validations"] = [
        r for r in postgres.get("x-kubernetes-validations", []) if "parameters" not in r["rule"]
    ]
    k = stack_ns.k
    k.run("replace", "-f", "-", stdin=yaml.safe_dump(old), namespaced=False)
    try:
        yield k
    finally:
        k.run("replace", "-f", str(CRD_FILE), namespaced=False)


def test_an_older_crd_is_reported_until_it_is_upgraded(
    stack_ns: StackNs, old_crd: Kubectl, start_operator: Callable[..., Operator]
) -> None:
    k = old_crd
    op = start_operator("--resync-seconds", "3")
    k.apply(sample(stack_ns.storage_class))
    wait_for("stack Ready", lambda: stack_ready(k), 60)
    cond = wait_for("CRDOutdated on the stack", lambda: crd_outdated(k), 30)
    assert cond["status"] == "True" and "spec.postgres.parameters" in cond["message"]
    assert "is older than this operator" in op.log_path.read_text()
    assert "dimini_operator_crd_outdated 1.0" in op.metrics_text()

    k.run("replace", "-f", str(CRD_FILE), namespaced=False)  # the upgrade
    wait_for("CRDOutdated gone", lambda: crd_outdated(k) is None and stack_ready(k), 30)
    assert "dimini_operator_crd_outdated 0.0" in op.metrics_text()
