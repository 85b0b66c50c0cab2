"""The watch-fed store of a stack's children (handlers/store.py): what a reconcile reads instead
of listing. A lagging store may delay a decision, never let a wrong one through."""

from __future__ import annotations

from typing import Any

from dimini_operator.handlers.store import ChildStore
from dimini_operator.specs.common import LABEL_INSTANCE

NS = "ns1"


def obj(kind: str, name: str, rv: int, stack: str = "s1", **extra: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": NS, "resourceVersion": str(rv)}
    meta["labels"] = {LABEL_INSTANCE: stack}  # type: ignore[assignment]
    return {"kind": kind, "metadata": meta, **extra}


def complete(refresh: float = 300.0) -> ChildStore:
    store = ChildStore(refresh)
    store.mark_complete(NS, "s1", now=0.0)
    return store


def test_unknown_stack_must_be_listed() -> None:
    store = ChildStore(300.0)
    store.put(obj("Deployment", "s1-backend", 5))
    assert store.children(NS, "s1", now=0.0) is None  # seen objects, but never complete


def test_add_modify_delete() -> None:
    store = complete()
    store.event(None, obj("Deployment", "s1-backend", 5))  # initial listing
    store.event("ADDED", obj("Service", "s1-backend", 6))
    store.event("MODIFIED", obj("Deployment", "s1-backend", 7, spec={"replicas": 2}))
    children = store.children(NS, "s1", now=1.0)
    assert children is not None
    assert set(children) == {("Deployment", "s1-backend"), ("Service", "s1-backend")}
    assert children[("Deployment", "s1-backend")]["spec"] == {"replicas": 2}
    store.event("DELETED", obj("Service", "s1-backend", 8))
    assert set(store.children(NS, "s1", now=1.0) or {}) == {("Deployment", "s1-backend")}


def test_older_event_never_overwrites_a_newer_write() -> None:
    store = complete()
    store.put(obj("Deployment", "s1-backend", 10, spec={"image": "new"}))  # apply response
    store.event("MODIFIED", obj("Deployment", "s1-backend", 9, spec={"image": "old"}))
    children = store.children(NS, "s1", now=1.0) or {}
    assert children[("Deployment", "s1-backend")]["spec"] == {"image": "new"}


def test_deletion_is_not_undone_by_a_late_event_but_by_a_recreation() -> None:
    store = complete()
    store.put(obj("Job", "s1-migrate", 5))
    store.event("DELETED", obj("Job", "s1-migrate", 8))
    store.event("MODIFIED", obj("Job", "s1-migrate", 7))  # late, from before the deletion
    assert store.children(NS, "s1", now=1.0) == {}
    store.event("ADDED", obj("Job", "s1-migrate", 12))
    assert set(store.children(NS, "s1", now=1.0) or {}) == {("Job", "s1-migrate")}


def test_relist_drops_what_is_gone_and_keeps_newer_events() -> None:
    store = complete()
    store.put(obj("Deployment", "s1-backend", 5))
    store.put(obj("Service", "s1-backend", 6))
    store.put(obj("Ingress", "s1", 20, spec={"v": "event"}))  # arrived while the list ran
    listed = [obj("Deployment", "s1-backend", 5), obj("Ingress", "s1", 15, spec={"v": "list"})]
    store.replace(NS, "s1", listed, now=10.0)
    children = store.children(NS, "s1", now=11.0) or {}
    assert set(children) == {("Deployment", "s1-backend"), ("Ingress", "s1")}
    assert children[("Ingress", "s1")]["spec"] == {"v": "event"}


def test_refresh_and_invalidate_send_the_reconcile_back_to_listing() -> None:
    store = complete(refresh=300.0)
    assert store.children(NS, "s1", now=299.0) is not None
    assert store.children(NS, "s1", now=301.0) is None  # the safety resync lists again
    store.replace(NS, "s1", [], now=301.0)
    assert store.children(NS, "s1", now=302.0) == {}
    store.invalidate(NS, "s1")
    assert store.children(NS, "s1", now=302.0) is None


def test_stacks_are_apart_and_unlabelled_objects_ignored() -> None:
    store = complete()
    store.put(obj("Service", "s2-backend", 5, stack="s2"))
    unlabelled = {"kind": "Secret", "metadata": {"name": "user", "namespace": NS}}
    store.put(unlabelled)
    assert store.children(NS, "s1", now=1.0) == {}
    store.forget(NS, "s1")
    assert store.children(NS, "s1", now=1.0) is None


def test_reads_are_copies() -> None:
    store = complete()
    store.put(obj("Service", "s1-backend", 5))
    children = store.children(NS, "s1", now=1.0) or {}
    children.pop(("Service", "s1-backend"))
    assert set(store.children(NS, "s1", now=1.0) or {}) == {("Service", "s1-backend")}


def test_stored_children_carry_no_managed_fields() -> None:
    """Memory: managedFields are read only from write responses (drift.update_entry_removal)."""
    store = complete()
    written = obj("Service", "s1-backend", 5)
    written["metadata"]["managedFields"] = [{"manager": "dimini-operator", "operation": "Apply"}]
    store.put(written)
    listed = obj("Deployment", "s1-backend", 7)
    listed["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Update"}]
    store.replace(NS, "s1", [listed], now=2.0)
    children = store.children(NS, "s1", now=3.0) or {}
    assert "managedFields" not in children[("Deployment", "s1-backend")]["metadata"]
    assert written["metadata"]["managedFields"]  # the reconcile's own copy is left whole
