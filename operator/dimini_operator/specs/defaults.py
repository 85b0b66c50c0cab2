"""Default a spec as the API server does on admission, from the same model as the CRD schema."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs.model import StackSpec


def parse_spec(spec: dict[str, Any]) -> StackSpec:
    """The validated, defaulted spec (pydantic's ValidationError names any bad field)."""
    return StackSpec.model_validate(spec)


def apply_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """The defaulted spec as the API server would store it (camelCase, unset fields absent)."""
    return to_dict(parse_spec(spec))


def to_dict(spec: StackSpec) -> dict[str, Any]:
    out: dict[str, Any] = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    return out
