"""`kubectl dimini restore`: a new DiminiStack with the old one's spec and
spec.postgres.bootstrap.fromBackup naming the old stack's backup claim (docs/backup.md, A new
stack from a backup), or, with --in-place, the dimini.io/restore-in-place annotation that has the
operator restore the stack's own database (docs/backup.md, Restoring in place)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dimini_operator import crd
from dimini_operator.kubectl_plugin.cluster import Cluster, Obj, as_stack
from dimini_operator.kubectl_plugin.errors import PluginError
from dimini_operator.kubectl_plugin.ondemand import new_value
from dimini_operator.kubectl_plugin.table import parse_status
from dimini_operator.specs import backup, inplace
from dimini_operator.specs.common import Stack
from dimini_operator.specs.model import BACKUP_NAME_PATTERN, FromBackup

IN_PLACE = (
    "--into names a new stack: to restore the stack's own database use --in-place "
    "(docs/backup.md, Restoring in place)"
)


@dataclass(frozen=True)
class InPlace:
    value: str  # the annotation's value
    backup: str


def in_place(cluster: Cluster, name: str, from_backup: str | None) -> InPlace:
    """Ask the operator to restore `from_backup` (default the restore point) into stack `name`
    itself; refused when the operator would refuse, or a restore runs."""
    obj = cluster.stack(name)
    stack = as_stack(obj)
    refuse_external(stack, name, "the operator")
    if backup.config(stack) is None:
        raise PluginError(
            f"{crd.KIND} {name!r} has no spec.postgres.backup: an in-place restore takes a "
            "safety backup first and restores from the stack's backup target (docs/backup.md)"
        )
    running = parse_status(obj).restore
    if running is not None and running.phase in inplace.ACTIVE:
        raise PluginError(
            f"a restore in place is running (backup {running.backup}, phase {running.phase}): "
            f"follow it with kubectl dimini status {name}"
        )
    wanted = source_backup(obj, from_backup)
    if not re.fullmatch(BACKUP_NAME_PATTERN, wanted):
        raise PluginError(f"--from-backup {wanted!r}: not a backup name (dimini-<timestamp>)")
    # A new value each time (acted on once): the same backup can be restored again later.
    value = f"{wanted}@{new_value()}"
    cluster.annotate(name, {backup.RESTORE_IN_PLACE_ANNOTATION: value})
    return InPlace(value, wanted)


def refuse_external(stack: Stack, name: str, who: str) -> None:
    """Restores go into the in-cluster database only (`who` is what would restore)."""
    if stack.spec.postgres.external is not None:
        raise PluginError(
            f"{crd.KIND} {name!r} uses an external Postgres: {who} restores into the "
            "in-cluster database only; pg_restore the dump into the server instead "
            "(docs/backup.md, External Postgres)"
        )


def source_backup(obj: Obj, name: str | None) -> str:
    """The backup to restore: the one named, else the stack's restore point."""
    if name:
        return name
    bk = parse_status(obj).backup
    verified = bk.last_verified if bk else None
    if verified is None or not verified.name:
        raise PluginError(
            f"{crd.KIND} {obj['metadata']['name']!r} has no verified backup: name one with "
            "--from-backup dimini-<timestamp>"
        )
    return verified.name


def new_stack(obj: Obj, into: str, backup_name: str, claim: str | None = None) -> Obj:
    """The DiminiStack `into`: the spec of `obj`, restoring `backup_name` from its claim."""
    name = obj["metadata"]["name"]
    if into == name:
        raise PluginError(IN_PLACE)
    stack = as_stack(obj)
    refuse_external(stack, name, "bootstrap.fromBackup")
    try:
        source = FromBackup(claim_name=claim or backup.pvc_name(stack), name=backup_name)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PluginError(f"--from-backup {backup_name!r}: {first['msg']}") from None
    spec: dict[str, Any] = copy.deepcopy(obj.get("spec") or {})
    postgres = spec.setdefault("postgres", {})
    postgres["bootstrap"] = {
        "fromBackup": source.model_dump(by_alias=True, exclude_none=True, mode="json")
    }
    meta: dict[str, Any] = {"name": into, "namespace": obj["metadata"]["namespace"]}
    if obj["metadata"].get("labels"):
        meta["labels"] = dict(obj["metadata"]["labels"])
    api_version = f"{crd.GROUP}/{crd.VERSION}"
    return {"apiVersion": api_version, "kind": crd.KIND, "metadata": meta, "spec": spec}


def warnings(doc: Obj) -> list[str]:
    """What the copied spec shares with the old stack and the user should look at."""
    spec = as_stack(doc).spec
    out = []
    if spec.gateway is not None:
        out.append("spec.gateway.hostnames are the old stack's: both serve them")
    elif spec.ingress.enabled:
        out.append(f"spec.ingress.host {spec.ingress.host!r} is the old stack's: both serve it")
    return out
