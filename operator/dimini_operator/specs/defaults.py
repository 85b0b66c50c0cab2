"""Apply the CRD schema's defaults to a spec, as the API server does on admission."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from dimini_operator import crd


@cache
def _spec_schema() -> dict[str, Any]:
    return crd.spec_schema()


def _apply(value: Any, schema: dict[str, Any]) -> Any:
    if isinstance(value, dict) and schema.get("type") == "object":
        props: dict[str, Any] = schema.get("properties", {})
        for key, sub in props.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = _apply(value[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                if key not in props:
                    value[key] = _apply(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_apply(item, schema["items"]) for item in value]
    return value


def apply_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """Return a defaulted deep copy of `spec` (the input is not modified)."""
    result: dict[str, Any] = _apply(copy.deepcopy(spec), _spec_schema())
    return result
