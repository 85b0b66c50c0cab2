"""Growing the data volume: spec.postgres.storage.size against the live claim (no API calls).

StatefulSet claim templates are immutable, so the template keeps the size the claim was created
with (postgres.claim_size) and a larger size is a patch of the claim itself, as CloudNativePG and
the Zalando operator do. The external resizer (CSI) and the kubelet do the rest; their progress is
read back from the claim's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dimini_operator.specs import database, postgres
from dimini_operator.specs.common import Stack
from dimini_operator.specs.drift import quantity

CONDITION = "StorageResized"
# The claim has the spec's size, or there is nothing to grow.
DONE = frozenset({"AsRequested", "Provisioning", "External"})
# Reasons while the resize runs (Reconciling) and the ones that refuse it (Stalled).
IN_PROGRESS = frozenset({"Resizing", "FileSystemResizePending"})
REFUSED = frozenset(
    {
        "StorageExpansionNotSupported",
        "StorageClassUnreadable",
        "ResizeRefused",
        "ResizeInfeasible",
    }
)
# The resizer's verdicts in status.allocatedResourceStatuses (RecoverVolumeExpansionFailure):
# infeasible ones are not retried; the size must change again.
_INFEASIBLE = frozenset({"ControllerResizeInfeasible", "NodeResizeInfeasible"})


@dataclass(frozen=True)
class Growth:
    """What to do with the data claim, and the StorageResized condition that reports it."""

    patch: dict[str, Any] | None
    reason: str
    message: str

    @property
    def ok(self) -> bool:
        return self.reason in DONE

    @property
    def in_progress(self) -> bool:
        return self.reason in IN_PROGRESS

    @property
    def refused(self) -> bool:
        return self.reason in REFUSED


def _size(value: Any) -> Decimal:
    parsed = quantity(str(value)) if value is not None else None
    return parsed if parsed is not None else Decimal(0)


def _requested(pvc: dict[str, Any]) -> Any:
    return ((pvc.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")


def _capacity(pvc: dict[str, Any]) -> Any:
    return ((pvc.get("status") or {}).get("capacity") or {}).get("storage")


def wants_growth(stack: Stack, pvc: dict[str, Any] | None) -> bool:
    """The spec asks for more than the bound claim requests: its StorageClass decides."""
    if database.external(stack) or pvc is None:
        return False
    if (pvc.get("status") or {}).get("phase") != "Bound":
        return False
    return _size(stack.spec.postgres.storage.size) > _size(_requested(pvc))


def class_name(pvc: dict[str, Any]) -> str:
    return str((pvc.get("spec") or {}).get("storageClassName") or "")


def plan(
    stack: Stack,
    pvc: dict[str, Any] | None,
    storage_class: dict[str, Any] | None = None,
    class_problem: str = "",
) -> Growth:
    """The growth of the data claim `pvc`; `storage_class` is its class as read (None: missing),
    `class_problem` why it could not be read. Only consulted when `wants_growth`."""
    size = stack.spec.postgres.storage.size
    name = postgres.pvc_name(stack)
    if database.external(stack):
        return Growth(None, "External", "the database is external: its storage is not managed")
    if pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
        return Growth(None, "Provisioning", f"waiting for the claim {name} ({size}) to be bound")
    requested = _requested(pvc)
    if wants_growth(stack, pvc):
        sc = class_name(pvc)
        stays = f"{name} stays at {requested}"
        if stack.spec.paused:
            return Growth(None, "Paused", f"spec.paused is true: {stays}, not {size}")
        if class_problem:
            return Growth(
                None,
                "StorageClassUnreadable",
                f"cannot read StorageClass {sc or '(none)'} to expand {name} to {size} "
                f"({class_problem}); {stays}: grant get on storageclasses (the chart's "
                "`<release>-crd` ClusterRole)",
            )
        if not sc or storage_class is None:
            what = f"its StorageClass {sc} does not exist" if sc else "it has no StorageClass"
            return Growth(
                None,
                "StorageExpansionNotSupported",
                f"cannot expand {name} to {size}: {what}; {stays}",
            )
        if storage_class.get("allowVolumeExpansion") is not True:
            return Growth(
                None,
                "StorageExpansionNotSupported",
                f"cannot expand {name} to {size}: StorageClass {sc} does not set "
                f"allowVolumeExpansion: true; {stays} (set it on the class if its driver can "
                "expand volumes)",
            )
        patch = {"spec": {"resources": {"requests": {"storage": size}}}}
        # The state once the patch is in: the resizer has not started yet.
        return Growth(patch, "Resizing", f"expanding {name} from {requested} to {size}")
    return progress(stack, pvc)


def progress(stack: Stack, pvc: dict[str, Any]) -> Growth:
    """How far the resizer and the kubelet have got with a claim that requests enough."""
    name = postgres.pvc_name(stack)
    size = stack.spec.postgres.storage.size
    requested = _requested(pvc)
    capacity = _capacity(pvc)
    # A claim grown by hand beyond the spec (the earlier way) is fine as it is.
    target = min(_size(size), _size(requested))
    if _size(capacity) >= target:
        return Growth(None, "AsRequested", f"{name} has {capacity} (spec {size})")
    status = pvc.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    errors = "; ".join(
        str(c.get("message"))
        for t, c in sorted(conditions.items(), key=lambda item: str(item[0]))
        if str(t).endswith("ResizeError") and c.get("message")
    )
    detail = f": {errors}" if errors else ""
    allocated = (status.get("allocatedResourceStatuses") or {}).get("storage")
    if allocated in _INFEASIBLE:
        return Growth(
            None,
            "ResizeInfeasible",
            f"the volume driver refused to expand {name} to {requested} ({allocated}){detail}; "
            f"it stays at {capacity}",
        )
    pending = conditions.get("FileSystemResizePending", {}).get("status") == "True"
    if pending:
        return Growth(
            None,
            "FileSystemResizePending",
            f"the volume of {name} is expanded to {requested}; the kubelet grows its file system "
            f"(capacity {capacity}){detail}",
        )
    return Growth(
        None, "Resizing", f"expanding {name} to {requested} (capacity {capacity}){detail}"
    )


def patch_refused(stack: Stack, pvc: dict[str, Any], message: str) -> Growth:
    """The API server refused the claim patch (e.g. its resize admission)."""
    return Growth(
        None,
        "ResizeRefused",
        f"expanding {postgres.pvc_name(stack)} to {stack.spec.postgres.storage.size} was "
        f"refused: {message}; it stays at {_requested(pvc)}",
    )
