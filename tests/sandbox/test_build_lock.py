"""sandbox/build.sh runs one build per version at a time: a second build waits for the first and
then finds its binaries, instead of compiling into the same files beside it."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "sandbox" / "build.sh"
DEST = "k8s-v1.36.3-kwok-v0.8.0"
BINARIES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl",
            "kwok", "helm", "kubelet", "kube-proxy", "pause", "coredns"]  # fmt: skip


def _fake_binaries(bin_dir: Path) -> None:
    """What a finished build leaves: every binary, reporting the pinned versions."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in BINARIES:
        answer = {"kube-apiserver": "Kubernetes v1.36.3", "helm": "v4.3.1"}.get(name, "")
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\necho '{answer}'\n")
        path.chmod(0o755)


def test_a_second_build_waits_for_the_first_and_reuses_its_binaries(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {**os.environ, "DIMINI_SANDBOX_CACHE": str(cache)}
    err_path = tmp_path / "stderr"
    with open(cache / f"{DEST}.lock", "w") as lock, open(err_path, "w") as err_file:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first build, still compiling
        waiter = subprocess.Popen(
            ["bash", str(BUILD)], env=env, stdout=subprocess.PIPE, stderr=err_file, text=True
        )
        try:
            wait_for(
                "the second build to wait for the lock",
                lambda: "waiting for another build" in err_path.read_text(),
                30,
            )
            assert waiter.poll() is None, err_path.read_text()
            _fake_binaries(cache / DEST / "bin")
        except BaseException:
            waiter.kill()  # a build that did not wait would go on compiling into tmp_path
            raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        out, _ = waiter.communicate(timeout=60)
    err = err_path.read_text()
    assert waiter.returncode == 0, err
    assert out.strip() == str(cache / DEST / "bin")
    assert "compiling" not in err and "resolving" not in err, err
