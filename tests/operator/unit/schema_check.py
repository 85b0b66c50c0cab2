"""A small validator for the CRD's OpenAPI schema (types, enums, patterns, bounds, required).

CEL rules are not evaluated here; the sandbox tests cover them against the real API server.
"""

from __future__ import annotations

import re
from typing import Any


def validate(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    errors: list[str] = []
    if "anyOf" in schema and schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, int | str):
            errors.append(f"{path}: not int-or-string")
        elif (
            isinstance(value, str)
            and "pattern" in schema
            and not re.search(schema["pattern"], value)
        ):
            errors.append(f"{path}: does not match {schema['pattern']}")
        return errors
    typ = schema.get("type")
    checks = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
    }
    if typ in checks and not isinstance(value, checks[typ]):
        return [f"{path}: expected {typ}"]
    if typ == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return [f"{path}: expected integer"]
    if typ == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return [f"{path}: expected number"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} > maximum {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for req in schema.get("required", []):
            if req not in value:
                errors.append(f"{path}.{req}: required")
        for key, sub in value.items():
            if key in props:
                errors += validate(sub, props[key], f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(sub, schema["additionalProperties"], f"{path}.{key}")
            elif not schema.get("x-kubernetes-preserve-unknown-fields") and typ == "object":
                errors.append(f"{path}.{key}: unknown field")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], f"{path}[{i}]")
    return errors
