"""Structural OpenAPI v3 schemas (as a CRD needs them) generated from the pydantic models.

pydantic's own JSON Schema uses `$ref`, `anyOf: [.., null]` and `title`, none of which a CRD
accepts; this walker emits the structural subset Kubernetes wants, inline.
"""

from __future__ import annotations

import inspect
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from dimini_operator.specs.model import CPU_OR_MEMORY

Schema = dict[str, Any]

# Constraint attributes of pydantic/annotated-types metadata -> OpenAPI keyword per type.
_STRING = {"min_length": "minLength", "max_length": "maxLength", "pattern": "pattern"}
_ARRAY = {"min_length": "minItems", "max_length": "maxItems"}
_NUMBER = {"ge": "minimum", "le": "maximum"}


def _doc(cls: type) -> str:
    return " ".join(inspect.cleandoc(cls.__doc__ or "").split())


def _without_none(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
        return Union[tuple(args)]  # noqa: UP007 - rebuilding a union from its parts
    return tp


def type_schema(tp: Any) -> Schema:
    tp = _without_none(tp)
    origin = get_origin(tp)
    if origin in (Union, types.UnionType) and set(get_args(tp)) == {int, str}:
        return {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
            "pattern": CPU_OR_MEMORY,
        }
    if origin is Literal:
        return {"type": "string", "enum": list(get_args(tp))}
    if origin is list:
        (item,) = get_args(tp)
        return {"type": "array", "items": type_schema(item)}
    if origin is dict:
        _, value = get_args(tp)
        if value is Any:
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return {"type": "object", "additionalProperties": type_schema(value)}
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return object_schema(tp)
    simple: dict[Any, Schema] = {
        str: {"type": "string"},
        bool: {"type": "boolean"},
        int: {"type": "integer", "format": "int32"},
        float: {"type": "number"},
    }
    if tp in simple:
        return dict(simple[tp])
    raise TypeError(f"no OpenAPI mapping for {tp!r}")


def _constraints(info: FieldInfo, schema: Schema) -> Schema:
    table = {"string": _STRING, "array": _ARRAY, "integer": _NUMBER, "number": _NUMBER}.get(
        schema.get("type", ""), {}
    )
    out: Schema = {}
    for meta in info.metadata:
        for attr, keyword in table.items():
            value = getattr(meta, attr, None)
            if value is not None:
                out[keyword] = value
    return out


def _default(info: FieldInfo) -> Any:
    factory = info.default_factory
    if inspect.isclass(factory) and issubclass(factory, BaseModel):
        return {}
    if info.default is PydanticUndefined or info.default is None:
        return PydanticUndefined
    return info.default


def field_schema(info: FieldInfo) -> Schema:
    schema = type_schema(info.annotation)
    body = {k: v for k, v in schema.items() if k not in ("type", "description")}
    out: Schema = {}
    if "type" in schema:
        out["type"] = schema["type"]
    description = info.description or schema.get("description")
    if description:
        out["description"] = description
    out.update(body)
    out.update(_constraints(info, schema))
    default = _default(info)
    if default is not PydanticUndefined:
        out["default"] = default
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    for key, value in extra.items():
        if key == "x-items":  # applies to the items of a list field
            assert isinstance(value, dict)
            out["items"] = {**out["items"], **value}
        elif key == "format":
            out["format"] = value
        else:
            out[key] = value
    return out


def object_schema(model: type[BaseModel]) -> Schema:
    properties: Schema = {}
    required: list[str] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        properties[key] = field_schema(info)
        if info.is_required():
            required.append(key)
    out: Schema = {"type": "object"}
    if model.__doc__:
        out["description"] = _doc(model)
    out["properties"] = properties
    if required:
        out["required"] = required
    return out
