"""The real node's container processes, found by their cgroups, and how `down` ends them.

A container's first process is PID 1 of its own PID namespace, so it ignores SIGTERM, and when
its containerd shim dies it is reparented to the host's init and keeps running. `down` therefore
stops containers through containerd while it still runs, then SIGKILLs whatever is left in the
kubelet's pod cgroups (`kubepods/...`, cgroup v1 or v2): by cgroup, never by process name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

# The kubelet (cgroupfs driver, cgroupsPerQOS) puts every pod under this cgroup.
POD_CGROUP = "kubepods"
CGROUP_FS = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Removed:
    """What `down` ended: tasks through containerd, and processes killed by cgroup."""

    tasks: int
    killed: int

    def describe(self) -> str:
        if not (self.tasks or self.killed):
            return "no containers were running"
        text = f"stopped {self.tasks} container(s) through containerd"
        if self.killed:
            text += f"; killed {self.killed} leftover process(es) in the pods' cgroups"
        return text


def in_pod_cgroup(cgroup_file_text: str) -> bool:
    """Whether a /proc/<pid>/cgroup text places the process under the kubelet's pod cgroup."""
    for line in cgroup_file_text.splitlines():
        path = line.split(":", 2)[-1]
        if path.split("/")[1:2] == [POD_CGROUP]:
            return True
    return False


def pod_pids(proc: Path = Path("/proc")) -> set[int]:
    """Host PIDs of every process in the node's pod cgroups (containers and pause processes)."""
    found: set[int] = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "cgroup").read_text()
            # A zombie has ended already; it waits only for its parent (or init) to reap it.
            zombie = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if in_pod_cgroup(text) and not zombie:
            found.add(int(entry.name))
    return found


def stop_tasks(ctr: Callable[..., subprocess.CompletedProcess[str]]) -> int:
    """SIGKILL and delete every task in containerd's k8s.io namespace; returns how many.

    `ctr` runs `ctr -a <socket> -n k8s.io <args>` (realnode.ctr). Errors are tolerated: a task
    can end on its own between the listing and the kill, and the cgroup sweep catches the rest.
    """
    try:
        tasks = ctr("tasks", "ls", "-q").stdout.split()
    except (subprocess.CalledProcessError, OSError):
        return 0  # containerd is not answering: kill_pod_processes does the work
    for task in tasks:
        with contextlib.suppress(subprocess.CalledProcessError):
            ctr("tasks", "kill", "--all", "--signal", "SIGKILL", task)
    for task in tasks:
        with contextlib.suppress(subprocess.CalledProcessError):
            ctr("tasks", "delete", "--force", task)
    return len(tasks)


def kill_pod_processes(timeout: float = 10.0) -> int:
    """SIGKILL every process left in the pod cgroups until none is; returns how many."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while True:
        pids = pod_pids()
        if not pids:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {sorted(pids)} in the pods' cgroups survived SIGKILL")
        for pid in pids - killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed |= pids
        # SIGKILL is asynchronous, and a dying container may still fork: look again shortly.
        time.sleep(0.05)
    remove_pod_cgroups()
    return len(killed)


def remove_pod_cgroups(root: Path = CGROUP_FS) -> None:
    """Remove the now-empty pod cgroups, deepest first, in every hierarchy."""
    for top in _pod_cgroup_dirs(root):
        for directory in sorted(_dirs_below(top), key=lambda p: len(p.parts), reverse=True):
            # A cgroup the kernel still holds (a zombie not yet reaped) refuses rmdir; the next
            # kubelet adopts or cleans it, so leaving it is harmless.
            with contextlib.suppress(OSError):
                directory.rmdir()


def _pod_cgroup_dirs(root: Path) -> Iterable[Path]:
    if (root / POD_CGROUP).is_dir():  # cgroup v2: one hierarchy
        yield root / POD_CGROUP
    if root.is_dir():
        for hierarchy in root.iterdir():  # cgroup v1: one per controller
            if (hierarchy / POD_CGROUP).is_dir() and not hierarchy.is_symlink():
                yield hierarchy / POD_CGROUP


def _dirs_below(top: Path) -> list[Path]:
    return [Path(d) for d, _, _ in os.walk(top)]
