"""The real kstatus (sigs.k8s.io/cli-utils, pinned in tests/operator/kstatus/go.mod) as a tool.

Built once from the Go module proxy into ~/.cache/dimini-stack/kstatus/<hash of the sources>/
(cold: about two minutes of `go build`; warm: nothing), like sandbox/build.sh builds its tools.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parent / "kstatus"
CACHE = Path(os.environ.get("DIMINI_KSTATUS_CACHE", Path.home() / ".cache/dimini-stack/kstatus"))


def _key() -> str:
    h = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        h.update((SOURCE / name).read_bytes())
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("kstatus: the Go toolchain (go) is not on PATH")
    h.update(subprocess.run([go, "version"], check=True, capture_output=True).stdout)
    return h.hexdigest()[:16]


def binary() -> Path:
    """The kstatus binary, built on first use (a file lock serialises parallel builds)."""
    out = CACHE / _key() / "kstatus"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not out.exists():
            tmp = out.with_suffix(".tmp")
            subprocess.run(
                ["go", "build", "-mod=readonly", "-trimpath", "-o", str(tmp), "."],
                cwd=SOURCE,
                check=True,
                env={**os.environ, "CGO_ENABLED": "0"},
            )
            tmp.rename(out)
    return out


def compute(*objects: dict[str, Any]) -> list[dict[str, str]]:
    """kstatus' {status, message} for each object (Current, InProgress, Failed, ...)."""
    stdin = "\n".join(json.dumps(o) for o in objects)
    run = subprocess.run(
        [str(binary())], input=stdin, capture_output=True, text=True, check=True, timeout=60
    )
    return [json.loads(line) for line in run.stdout.splitlines()]
