from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml
from dimini_operator import crd
from dimini_operator.specs.common import Stack
from dimini_operator.specs.defaults import parse_spec, to_dict

ROOT = pathlib.Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "manifests" / "samples" / "diministack.yaml"


def sample_body() -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    return body


def make_stack(spec: dict[str, Any] | None = None, name: str = "demo") -> Stack:
    raw = spec if spec is not None else sample_body()["spec"]
    return Stack(
        name=name,
        namespace="ns1",
        uid="11111111-2222-3333-4444-555555555555",
        generation=3,
        spec=parse_spec(raw),
    )


@pytest.fixture
def stack() -> Stack:
    return make_stack()


def stored(stack: Stack, status: dict[str, Any], generation: int | None = None) -> dict[str, Any]:
    """The DiminiStack as the API server returns it, with `status`; `generation` when the spec
    moved on since the status was computed."""
    return {
        "apiVersion": f"{crd.GROUP}/{crd.VERSION}",
        "kind": crd.KIND,
        "metadata": {
            "name": stack.name,
            "namespace": stack.namespace,
            "uid": stack.uid,
            "generation": generation or stack.generation,
        },
        "spec": to_dict(stack.spec),
        "status": status,
    }
