"""Deciding whether to write: subset comparison, repair patches, merge diffs."""

from __future__ import annotations

import json
from typing import Any

from dimini_operator.specs.backend import deployment, service
from dimini_operator.specs.common import HASH_ANNOTATION, Stack, with_hash
from dimini_operator.specs.drift import (
    is_subset,
    merge_diff,
    repair_patch,
    same_image,
    up_to_date,
    update_entry_removal,
)

DIGEST = "sha256:" + "ab" * 32


def _pin(manifest: dict[str, Any]) -> dict[str, Any]:
    """What a digest-pinning admission webhook leaves of `manifest` (every image by digest)."""
    out: dict[str, Any] = json.loads(json.dumps(manifest))
    for c in out["spec"]["template"]["spec"]["containers"]:
        c["image"] = c["image"].rsplit(":", 1)[0] + "@" + DIGEST
    return out


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


def test_a_digest_pinned_image_satisfies_its_tag() -> None:
    assert same_image(
        "registry.local/dimini-backend:0.1.0", f"registry.local/dimini-backend@{DIGEST}"
    )
    assert same_image("registry.local/b:1", f"registry.local/b:1@{DIGEST}")
    assert same_image("postgres:16-alpine", f"docker.io/library/postgres@{DIGEST}")
    assert same_image("localhost:5000/b", f"localhost:5000/b:latest@{DIGEST}")
    assert not same_image("registry.local/b:1", f"registry.local/other@{DIGEST}")
    assert not same_image("registry.local/b:1", f"registry.local/b:2@{DIGEST}")
    assert not same_image("registry.local/b:1", "registry.local/b:2")
    assert not same_image("registry.local/b:1", "registry.local/b")
    assert same_image("registry.local/b", "registry.local/b:latest")
    # A desired digest is compared as such.
    assert same_image(f"registry.local/b@{DIGEST}", f"registry.local/b:1@{DIGEST}")
    assert not same_image(f"registry.local/b@{DIGEST}", "registry.local/b@sha256:" + "cd" * 32)


def test_a_pinned_deployment_is_up_to_date_and_needs_no_repair(stack: Stack) -> None:
    desired = with_hash(deployment(stack, stack.spec.backend.image, "c"))
    live = _pin(desired)
    assert "@sha256:" in live["spec"]["template"]["spec"]["containers"][0]["image"]
    assert is_subset(desired, live)
    assert up_to_date(desired, live)
    assert repair_patch(desired["spec"], live["spec"]) is None


def test_a_new_desired_tag_still_rolls_a_pinned_deployment(stack: Stack) -> None:
    live = _pin(with_hash(deployment(stack, "registry.local/dimini-backend:0.1.0", "c")))
    newer = with_hash(deployment(stack, "registry.local/dimini-backend:0.2.0", "c"))
    # The repository matches, but the render's hash changed: the operator applies it.
    assert not up_to_date(newer, live)
    other_repo = with_hash(deployment(stack, "registry.local/other-backend:0.1.0", "c"))
    assert not is_subset(other_repo, live)
    assert repair_patch(other_repo["spec"], live["spec"]) is not None


def test_after_a_repair_only_the_apply_entry_is_ours() -> None:
    """A repair's merge patch leaves an Update entry under the operator's manager beside its Apply
    entry; fields owned by it would survive the operator dropping them from an apply. The JSON
    patch removes exactly those entries, guarded by `test` so a concurrent change fails it."""
    managed = [
        {"manager": "dimini-operator", "operation": "Apply", "fieldsV1": {}},
        {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {}},
        {"manager": "dimini-operator", "operation": "Update", "fieldsV1": {}},
    ]
    ops = update_entry_removal({"metadata": {"managedFields": managed}})
    assert ops == [
        {"op": "test", "path": "/metadata/managedFields/2/manager", "value": "dimini-operator"},
        {"op": "test", "path": "/metadata/managedFields/2/operation", "value": "Update"},
        {"op": "remove", "path": "/metadata/managedFields/2"},
    ]
    assert update_entry_removal({"metadata": {"managedFields": managed[:2]}}) is None
    assert update_entry_removal({"metadata": {}}) is None
