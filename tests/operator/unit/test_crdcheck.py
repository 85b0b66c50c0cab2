"""The operator names the fields an older served CRD lacks (issue 14, finding 7)."""

from __future__ import annotations

import copy
from typing import Any

from dimini_operator import crd
from dimini_operator.specs.crdcheck import missing_fields, served_schema


def own_schema() -> dict[str, Any]:
    schema: dict[str, Any] = crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_the_operators_own_crd_lacks_nothing() -> None:
    assert missing_fields(own_schema(), served_schema(crd.crd(), crd.VERSION)) == []


def test_a_crd_without_a_field_names_it_once() -> None:
    old = copy.deepcopy(crd.crd())
    schema = old["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    del schema["properties"]["spec"]["properties"]["postgres"]["properties"]["parameters"]
    del schema["properties"]["spec"]["properties"]["tunnel"]  # an object with fields of its own
    missing = missing_fields(own_schema(), served_schema(old, crd.VERSION))
    assert missing == ["spec.tunnel", "spec.postgres.parameters"]


def test_a_crd_not_serving_the_version_is_reported() -> None:
    old = copy.deepcopy(crd.crd())
    old["spec"]["versions"][0]["name"] = "v0"
    assert missing_fields(own_schema(), served_schema(old, crd.VERSION)) == ["(version not served)"]


def test_an_outdated_crd_is_a_condition_on_the_stack_but_no_problem() -> None:
    from dimini_operator.specs.plan import plan_migration
    from dimini_operator.specs.status import derive

    from tests.operator.unit.conftest import make_stack
    from tests.operator.unit.test_status import converged

    stack = make_stack()
    obs = converged(stack)
    mig = plan_migration(stack, obs)
    current = derive(stack, obs, mig, old_status={}, now="t0", paused=False)
    assert "CRDOutdated" not in {c["type"] for c in current["conditions"]}
    old = derive(
        stack, obs, mig, old_status={}, now="t0", paused=False, crd_missing=("spec.tunnel",)
    )
    conds = {c["type"]: c for c in old["conditions"]}
    assert conds["CRDOutdated"]["status"] == "True"
    assert "spec.tunnel" in conds["CRDOutdated"]["message"]
    assert old["phase"] == "Ready"  # the stack itself works; the warning is the condition
