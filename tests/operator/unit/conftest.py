from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml
from dimini_operator.specs.common import Stack
from dimini_operator.specs.defaults import parse_spec

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
