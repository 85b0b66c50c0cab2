"""The render's YAML keeps number-like strings strings for kubectl (go-yaml reads `12e34` as a
number; PyYAML leaves it unquoted)."""

from __future__ import annotations

import yaml
from dimini_operator import yamlout


def test_number_like_strings_are_quoted_for_kubectl() -> None:
    doc = {"metadata": {"annotations": {"hash": "123e45", "plain": "abc", "int": "7"}}, "n": 3}
    text = yamlout.dump_all([doc])
    assert text is not None
    assert "hash: '123e45'" in text
    assert "plain: abc" in text and "n: 3" in text
    assert "hash: 123e45" in yaml.safe_dump(doc)  # what PyYAML alone writes
    assert list(yaml.safe_load_all(text)) == [doc]
