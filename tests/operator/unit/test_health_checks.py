"""The Argo CD health Lua and the Flux CEL expressions in docs/operator.md, executed.

The snippets are read from the docs (what users copy is what is tested) and run against the
statuses the operator derives for each phase.
"""

from __future__ import annotations

import re
from typing import Any

import celpy
import lupa
import yaml
from celpy.adapter import json_to_cel

from tests.operator.unit.conftest import ROOT, make_stack
from tests.operator.unit.test_kstatus import _scenarios

DOC = (ROOT / "docs" / "operator.md").read_text()


def _block(tag: str) -> str:
    match = re.search(r"```\w+ " + tag + r"\n(.*?)```", DOC, re.S)
    assert match, f"docs/operator.md has no ``` {tag} block"
    return match.group(1)


def _argocd(obj: dict[str, Any]) -> str:
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    # Argo CD hands the object to the script as the global `obj` (a Lua table).
    lua.globals()["obj"] = _to_lua(lua, obj)
    result: Any = lua.execute(_block("argocd-health"))
    return str(result["status"])


def _to_lua(lua: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return lua.table_from({k: _to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([_to_lua(lua, v) for v in value])
    return value


def _flux(obj: dict[str, Any]) -> str:
    (check,) = yaml.safe_load(_block("flux-health"))["healthCheckExprs"]
    assert (check["apiVersion"], check["kind"]) == ("dimini.io/v1alpha1", "DiminiStack")
    env = celpy.Environment()
    # Flux's kustomize-controller, like kstatus, waits for status.observedGeneration first.
    if obj["status"].get("observedGeneration") != obj["metadata"]["generation"]:
        return "InProgress"
    activation = {k: json_to_cel(v) for k, v in obj.items()}
    for outcome, key in (
        ("Failed", "failed"),
        ("Current", "current"),
        ("InProgress", "inProgress"),
    ):
        if bool(env.program(env.compile(check[key])).evaluate(activation)):
            return outcome
    return "InProgress"


ARGO = {"InProgress": "Progressing", "Failed": "Degraded", "Current": "Healthy"}


def test_argocd_health_matches_kstatus_for_every_phase() -> None:
    for name, (body, kstatus) in _scenarios(make_stack()).items():
        want = "Suspended" if name == "paused" else ARGO[kstatus]
        assert _argocd(body) == want, name


def test_argocd_health_of_a_stack_without_status_is_progressing() -> None:
    body = {"metadata": {"name": "s", "generation": 1}, "spec": {}}
    assert _argocd(body) == "Progressing"


def test_flux_expressions_match_kstatus_for_every_phase() -> None:
    for name, (body, kstatus) in _scenarios(make_stack()).items():
        assert _flux(body) == kstatus, name
