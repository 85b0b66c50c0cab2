"""How `down` finds the real node's container processes: by cgroup, never by name."""

from __future__ import annotations

from pathlib import Path

from sandbox import podprocs

V1 = """12:pids:/kubepods/besteffort/pod1234/abcd
4:memory:/kubepods/besteffort/pod1234/abcd
1:name=systemd:/
"""
V2 = "0::/kubepods/burstable/pod99/ef01\n"
HOST = "12:pids:/\n4:memory:/user.slice\n0::/init.scope\n"
LOOKALIKE = "0::/system.slice/kubepods-not-really.service\n"


def test_pod_cgroups_are_recognised_in_v1_and_v2() -> None:
    assert podprocs.in_pod_cgroup(V1)
    assert podprocs.in_pod_cgroup(V2)
    assert not podprocs.in_pod_cgroup(HOST)
    assert not podprocs.in_pod_cgroup(LOOKALIKE)


def fake_proc(root: Path, pid: int, cgroup: str, state: str = "S") -> None:
    d = root / str(pid)
    d.mkdir()
    (d / "cgroup").write_text(cgroup)
    (d / "stat").write_text(f"{pid} (sleep) {state} 1 1 1 0 -1")


def test_pod_pids_reads_proc_and_skips_zombies(tmp_path: Path) -> None:
    fake_proc(tmp_path, 10, V1)
    fake_proc(tmp_path, 11, V2)
    fake_proc(tmp_path, 12, HOST)
    fake_proc(tmp_path, 13, V1, state="Z")
    (tmp_path / "self").mkdir()
    assert podprocs.pod_pids(tmp_path) == {10, 11}


def test_empty_pod_cgroups_are_removed_deepest_first(tmp_path: Path) -> None:
    for hierarchy in ("pids", "memory"):
        (tmp_path / hierarchy / "kubepods" / "besteffort" / "pod1" / "c1").mkdir(parents=True)
    (tmp_path / "pids" / "user.slice").mkdir()
    podprocs.remove_pod_cgroups(tmp_path)
    assert not (tmp_path / "pids" / "kubepods").exists()
    assert not (tmp_path / "memory" / "kubepods").exists()
    assert (tmp_path / "pids" / "user.slice").is_dir()


def test_what_was_removed_is_said() -> None:
    assert podprocs.Removed(0, 0).describe() == "no containers were running"
    said = podprocs.Removed(3, 2).describe()
    assert "3 container(s)" in said and "2 leftover process(es)" in said
