"""`up` then `down` of a second, independent sandbox: nothing is left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox import cluster

pytestmark = pytest.mark.sandbox


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def test_down_stops_every_process_and_removes_state(
    tmp_path: Path, sandbox: cluster.Sandbox
) -> None:
    # `sandbox` first: the binaries are built, and the two instances must coexist.
    root = tmp_path / "second-sandbox"
    second = cluster.up(root, nodes=1)
    try:
        pids = second.pids()
        assert set(pids) == set(cluster.COMPONENTS)
        assert second.is_running()
        assert _processes_mentioning(str(root))
    finally:
        cluster.down(root)
    assert not any(cluster._alive(pid) for pid in pids.values())
    assert _processes_mentioning(str(root)) == []
    assert not root.exists()
    assert sandbox.is_running(), "stopping one sandbox must not touch another"
