"""Plain-text tables of a DiminiStack's health, from the operator's status model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dimini_operator.specs.common import LABEL_COMPONENT
from dimini_operator.specs.model import BackupRecord, Condition, StackStatus

Obj = dict[str, Any]
NONE = "-"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last one (a message) is left ragged."""
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = []
    for row in cells:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*padded, row[-1]]).rstrip())
    return "\n".join(lines)


def parse_status(obj: Obj) -> StackStatus:
    return StackStatus.model_validate(obj.get("status") or {})


def condition(status: StackStatus, ctype: str) -> Condition | None:
    return next((c for c in status.conditions or [] if c.type == ctype), None)


def _generation(cond_or_status: Condition | StackStatus, generation: int) -> str:
    observed = cond_or_status.observed_generation
    if observed is None:
        return NONE
    # A condition computed for an older spec: the operator has not caught up (or is not running).
    return str(observed) if observed == generation else f"{observed} (stale, spec is {generation})"


def conditions_table(status: StackStatus, generation: int) -> str:
    rows = [
        [c.type, c.status, c.reason or NONE, _generation(c, generation), c.message or ""]
        for c in status.conditions or []
    ]
    return table(["CONDITION", "STATUS", "REASON", "OBSERVED GEN", "MESSAGE"], rows)


def _pod_ready(pod: Obj) -> tuple[str, int]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    containers = (pod.get("spec") or {}).get("containers") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    return f"{ready}/{len(containers)}", restarts


def pods_table(pods: Sequence[Obj]) -> str:
    rows = []
    for pod in sorted(
        pods,
        key=lambda p: (
            (p["metadata"].get("labels") or {}).get(LABEL_COMPONENT, ""),
            p["metadata"]["name"],
        ),
    ):
        meta = pod["metadata"]
        ready, restarts = _pod_ready(pod)
        phase = (pod.get("status") or {}).get("phase") or NONE
        images = ",".join(c.get("image", "") for c in (pod.get("spec") or {}).get("containers", []))
        component = (meta.get("labels") or {}).get(LABEL_COMPONENT, NONE)
        rows.append([component, meta["name"], ready, phase, str(restarts), images])
    return table(["COMPONENT", "POD", "READY", "PHASE", "RESTARTS", "IMAGE"], rows)


def _record(rec: BackupRecord | None, when: str | None = None) -> str:
    if rec is None:
        return NONE
    what = rec.name or rec.job or "?"
    text = f"{what} at {when or rec.time or '?'}"
    if rec.revision:
        text += f", revision {rec.revision}"
    if rec.size is not None:
        text += f", {rec.size} bytes"
    return text


def backup_lines(status: StackStatus) -> list[tuple[str, str]]:
    bk = status.backup
    if bk is None:
        return []
    failure = NONE
    if bk.last_failure is not None:
        f = bk.last_failure
        failure = f"{f.name or f.job or '?'} at {f.time or '?'}: {f.message or ''}"
    verified = bk.last_verified
    lines = [
        ("last backup", _record(bk.last_backup)),
        ("last verified", _record(verified, verified.verified_at if verified else None)),
        ("last failure", failure),
        ("count", NONE if bk.count is None else str(bk.count)),
        ("requested", bk.requested or NONE),
    ]
    if bk.restored_from:
        lines.append(("restored from", bk.restored_from))
    return lines


def restore_lines(status: StackStatus) -> list[tuple[str, str]]:
    """The last in-place restore (status.restore)."""
    rs = status.restore
    if rs is None:
        return []
    lines = [
        ("backup", rs.backup or NONE),
        ("phase", f"{rs.phase or NONE}" + (f" ({rs.reason})" if rs.reason else "")),
        ("safety backup", rs.safety_backup or NONE),
        ("message", rs.message or NONE),
    ]
    if rs.phase == "Failed" and rs.database_intact is not None:
        lines.append(
            (
                "database",
                "unchanged"
                if rs.database_intact
                else "may be half restored: the backend stays at 0",
            )
        )
    return lines


def migration_lines(status: StackStatus) -> list[tuple[str, str]]:
    mig = status.migration
    applied = condition(status, "MigrationsApplied")
    # status.migration has no state of its own: the MigrationsApplied condition carries it.
    state = f"{applied.reason} ({applied.status})" if applied and applied.reason else NONE
    return [
        ("image", (mig.image if mig else None) or NONE),
        ("state", state),
        ("job", (mig.job if mig else None) or NONE),
        ("backup", (mig.backup if mig else None) or NONE),
    ]


def _fields(lines: Sequence[tuple[str, str]]) -> str:
    width = max((len(k) for k, _ in lines), default=0) + 1
    return "\n".join(f"  {(k + ':').ljust(width)} {v}" for k, v in lines)


def stack_report(obj: Obj, pods: Sequence[Obj]) -> str:
    """The whole `kubectl dimini status STACK` page."""
    meta = obj["metadata"]
    generation = int(meta.get("generation", 1))
    st = parse_status(obj)
    ready = condition(st, "Ready")
    head = [
        ("stack", f"{meta.get('namespace', '')}/{meta['name']}"),
        ("phase", st.phase or "no status yet (is the operator running?)"),
        ("ready", f"{ready.status} ({ready.reason})" if ready else NONE),
        ("generation", f"{generation}, observed {_generation(st, generation)}"),
        ("version", st.version or NONE),
        ("url", st.url or NONE),
    ]
    if st.webhook_url:
        head.append(("webhook url", st.webhook_url))
    parts = [_fields(head), "", conditions_table(st, generation)]
    parts += ["", "Pods:", pods_table(pods) if pods else "  (none)"]
    parts += ["", "Migration:", _fields(migration_lines(st))]
    backup = backup_lines(st)
    # Nothing recorded yet: the BackupVerified condition says why (not configured, none yet).
    verified = condition(st, "BackupVerified")
    nothing = f"  (none: {verified.message})" if verified and verified.message else "  (none)"
    parts += ["", "Backups:", _fields(backup) if backup else nothing]
    if st.restore is not None:
        parts += ["", "Restore in place:", _fields(restore_lines(st))]
    return "\n".join(parts) + "\n"


def stacks_table(objs: Sequence[Obj], with_namespace: bool) -> str:
    """One line per stack: `kubectl dimini status` without a name."""
    rows = []
    for obj in objs:
        st = parse_status(obj)
        ready = condition(st, "Ready")
        verified = st.backup.last_verified if st.backup else None
        row = [
            obj["metadata"]["name"],
            st.phase or NONE,
            ready.status if ready else NONE,
            st.version or NONE,
            (verified.verified_at if verified else None) or NONE,
            st.url or NONE,
        ]
        if with_namespace:
            row.insert(0, obj["metadata"].get("namespace", ""))
        rows.append(row)
    header = ["NAME", "PHASE", "READY", "VERSION", "LAST VERIFIED BACKUP", "URL"]
    if with_namespace:
        header.insert(0, "NAMESPACE")
    return table(header, rows) + "\n"
