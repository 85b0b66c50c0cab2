"""Deciding whether to write: subset comparison, repair patches, merge diffs."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs.backend import service
from dimini_operator.specs.common import HASH_ANNOTATION, Stack, with_hash
from dimini_operator.specs.drift import is_subset, merge_diff, repair_patch, up_to_date


def test_subset_allows_server_defaults() -> None:
    desired = {"spec": {"ports": [{"port": 8000, "name": "http"}]}}
    actual = {
        "spec": {
            "ports": [{"port": 8000, "name": "http", "protocol": "TCP"}],
            "clusterIP": "10.0.0.1",
        }
    }
    assert is_subset(desired, actual)
    assert not is_subset(desired, {"spec": {"ports": []}})
    assert not is_subset({"a": True}, {"a": 1})
    assert is_subset({"a": 1}, {"a": 1.0})


def test_quantities_compare_by_value() -> None:
    assert is_subset({"cpu": "0.5", "memory": "1024Mi"}, {"cpu": "500m", "memory": "1Gi"})
    assert not is_subset({"cpu": "0.5"}, {"cpu": "501m"})
    assert not is_subset({"image": "b:1"}, {"image": "b:2"})


def test_up_to_date_needs_hash_and_fields(stack: Stack) -> None:
    desired = with_hash(service(stack))
    live: dict[str, Any] = {**desired, "status": {}}
    assert up_to_date(desired, live)
    assert not up_to_date(desired, None)
    edited = {
        **live,
        "spec": {**live["spec"], "ports": [{**live["spec"]["ports"][0], "port": 8001}]},
    }
    assert not up_to_date(desired, edited)
    stale = {**live, "metadata": {**live["metadata"], "annotations": {HASH_ANNOTATION: "x"}}}
    assert not up_to_date(desired, stale)


def test_repair_patch_replaces_edited_list() -> None:
    desired = {"ports": [{"name": "http", "port": 8000}], "type": "ClusterIP"}
    actual = {
        "ports": [{"name": "http", "port": 8001, "protocol": "TCP"}],
        "type": "ClusterIP",
        "clusterIP": "10.0.0.1",
    }
    assert repair_patch(desired, actual) == {"ports": [{"name": "http", "port": 8000}]}
    assert repair_patch(desired, {**actual, "ports": [{"name": "http", "port": 8000}]}) is None


def test_merge_diff_removes_vanished_keys() -> None:
    old = {"phase": "Ready", "backend": {"image": "a", "replicas": 1}, "x": 1}
    new = {"phase": "Ready", "backend": {}}
    assert merge_diff(old, new) == {"backend": {"image": None, "replicas": None}, "x": None}
    assert merge_diff(new, new) is None
