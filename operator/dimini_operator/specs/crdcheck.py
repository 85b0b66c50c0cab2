"""Is the served CRD older than this operator? Fields the operator knows but the API server's
schema lacks are pruned silently on every write (Helm never upgraded `crds/`): name them."""

from __future__ import annotations

from typing import Any


def _fields(schema: dict[str, Any], path: str) -> set[str]:
    out: set[str] = set()
    for name, sub in (schema.get("properties") or {}).items():
        here = f"{path}.{name}"
        out.add(here)
        out |= _fields(sub, here)
    items = schema.get("items")
    if isinstance(items, dict):
        out |= _fields(items, path + "[]")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        out |= _fields(extra, path + ".*")
    return out


def served_schema(crd_obj: dict[str, Any], version: str) -> dict[str, Any] | None:
    for v in (crd_obj.get("spec") or {}).get("versions") or []:
        if v.get("name") == version:
            schema: dict[str, Any] = (v.get("schema") or {}).get("openAPIV3Schema") or {}
            return schema
    return None


def missing_fields(
    own: dict[str, Any], served: dict[str, Any] | None, limit: int = 10
) -> list[str]:
    """Field paths (`spec.postgres.parameters`) in `own` schema but not in `served`, outermost
    first (a missing object is named once, not with each of its fields), at most `limit`."""
    if served is None:
        return ["(version not served)"]
    have = _fields(served, "")
    missing = sorted(_fields(own, "") - have, key=lambda p: (p.count("."), p))
    out: list[str] = []
    for path in missing:
        if not any(path.startswith(m + ".") or path.startswith(m + "[]") for m in out):
            out.append(path)
    return [p.lstrip(".") for p in out[:limit]]
