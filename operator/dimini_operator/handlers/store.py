"""Each stack's children as the watches last reported them, so a reconcile lists nothing.

Fed by the child watches' events (handlers/operator.py) and by the operator's own writes (the
apply/create response is the freshest object there is). Per object the newer resourceVersion
wins, so a late watch event never overwrites a newer write, and a deletion leaves a tombstone
that an older event cannot undo.

Why a lagging store can only delay a decision, never make a wrong one (docs/operator.md):
- every watch event updates the store before it triggers the stack's reconcile, so a reconcile
  started by a change sees at least that change;
- a child missing from the store is applied again (server-side apply is idempotent; its response
  then replaces the entry), a generated Secret's create fails with 409 and the reconcile reads
  again by listing, and a missing migration Job counts as not complete: no Deployment gets a new
  image on a Job the store has not seen succeed;
- a child that is gone but still in the store is repaired at the latest when its DELETED event
  arrives (it triggers a reconcile) or at the refresh: a stack's children are listed again when
  they were last complete longer ago than `refresh` (the safety resync), which also covers
  events missed while a watch reconnected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dimini_operator.specs.common import LABEL_INSTANCE

Key = tuple[str, str]  # (kind, name)
StackKey = tuple[str, str]  # (namespace, stack)


def _rv(obj: dict[str, Any]) -> int | None:
    """The resourceVersion as a number (etcd's revision), None if it is not one."""
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion", ""))
    except ValueError:
        return None


def _slim(obj: dict[str, Any]) -> dict[str, Any]:
    """Without managedFields: a third of an object's size, and read only from write responses
    (drift.update_entry_removal), never from a stored child."""
    meta = obj.get("metadata") or {}
    if "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _newer(candidate: int | None, current: int | None) -> bool:
    # Not comparable (no number): the later report wins.
    return candidate is None or current is None or candidate > current


@dataclass
class _Stack:
    objs: dict[Key, dict[str, Any]] = field(default_factory=dict)
    gone: dict[Key, int | None] = field(default_factory=dict)  # tombstones: rv at deletion
    complete_at: float | None = None  # when the store last held all of it (listed, or new)


class ChildStore:
    def __init__(self, refresh: float) -> None:
        self.refresh = refresh
        self._stacks: dict[StackKey, _Stack] = {}

    @staticmethod
    def owner(obj: dict[str, Any]) -> tuple[StackKey, Key] | None:
        meta = obj.get("metadata") or {}
        stack = (meta.get("labels") or {}).get(LABEL_INSTANCE)
        namespace = meta.get("namespace")
        if not stack or not namespace or not obj.get("kind") or not meta.get("name"):
            return None
        return (namespace, stack), (obj["kind"], meta["name"])

    def event(self, type_: str | None, obj: dict[str, Any]) -> None:
        """A watch event (type None: kopf's initial listing)."""
        if type_ == "DELETED":
            self.delete(obj)
        else:
            self.put(obj)

    def put(self, obj: dict[str, Any]) -> None:
        where = self.owner(obj)
        if where is None:
            return
        stack = self._stacks.setdefault(where[0], _Stack())
        key, rv = where[1], _rv(obj)
        if key in stack.gone and not _newer(rv, stack.gone[key]):
            return
        current = stack.objs.get(key)
        if current is not None and not _newer(rv, _rv(current)):
            return
        stack.gone.pop(key, None)
        stack.objs[key] = _slim(obj)

    def delete(self, obj: dict[str, Any]) -> None:
        where = self.owner(obj)
        if where is None:
            return
        stack = self._stacks.get(where[0])
        if stack is None:  # a forgotten (deleted) stack's children going away
            return
        key, rv = where[1], _rv(obj)
        current = stack.objs.get(key)
        if current is not None and not _newer(rv, _rv(current)) and rv != _rv(current):
            return  # a newer object of that name is already here (recreated)
        stack.objs.pop(key, None)
        stack.gone[key] = rv

    def replace(self, namespace: str, name: str, objs: list[dict[str, Any]], now: float) -> None:
        """A listing of all the stack's children: what it lacks is gone; complete as of `now`."""
        old = self._stacks.get((namespace, name), _Stack())
        stack = _Stack(complete_at=now)
        self._stacks[(namespace, name)] = stack
        for obj in objs:
            where = self.owner(obj)
            if where is None or where[0] != (namespace, name):
                continue
            key = where[1]
            current = old.objs.get(key)
            # An event newer than the listing (arrived while it ran) is kept.
            keep = current is not None and not _newer(_rv(obj), _rv(current))
            stack.objs[key] = current if keep and current is not None else _slim(obj)

    def mark_complete(self, namespace: str, name: str, now: float) -> None:
        """The stack is new while the watches run: every child of it will be reported."""
        self._stacks.setdefault((namespace, name), _Stack()).complete_at = now

    def invalidate(self, namespace: str, name: str) -> None:
        """Its next read lists (e.g. a create refused with 409 for an object not in here)."""
        if (namespace, name) in self._stacks:
            self._stacks[(namespace, name)].complete_at = None

    def children(self, namespace: str, name: str, now: float) -> dict[Key, dict[str, Any]] | None:
        """A copy of the stack's children; None when the stack must be listed (never complete,
        or last complete more than `refresh` seconds ago)."""
        stack = self._stacks.get((namespace, name))
        if stack is None or stack.complete_at is None or now - stack.complete_at > self.refresh:
            return None
        return dict(stack.objs)

    def forget(self, namespace: str, name: str) -> None:
        self._stacks.pop((namespace, name), None)
