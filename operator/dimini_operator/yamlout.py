"""YAML that kubectl reads back as written: PyYAML (YAML 1.1) leaves a string such as `12e34`
unquoted, which kubectl's parser reads as a number (an image-hash annotation then fails to
decode: "cannot unmarshal number into … annotations of type string")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Any

import yaml

# What kubectl's YAML (go-yaml) resolves as a number, exponent without a dot included.
_NUMBER = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "'" if _NUMBER.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_all(docs: Iterable[Any], stream: IO[str] | None = None) -> str | None:
    """yaml.safe_dump_all (key order kept) with number-like strings quoted."""
    return yaml.dump_all(docs, stream, Dumper=_Dumper, sort_keys=False)
