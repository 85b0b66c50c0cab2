"""`make dev` on a machine without the tools says what to install instead of failing obscurely."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run_dev_with_path(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(REPO / "hack" / "dev.sh")],
        env={"PATH": str(path)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def _toolbox(tmp_path: Path, tools: list[str]) -> Path:
    """A PATH holding the basic utilities plus fake `tools` (which only print a version)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for util in ("dirname", "printf", "cat", "grep"):
        os.symlink(
            f"/usr/bin/{util}" if Path(f"/usr/bin/{util}").exists() else f"/bin/{util}",
            bin_dir / util,
        )
    for tool in tools:
        fake = bin_dir / tool
        fake.write_text("#!/bin/bash\nexit 1\n")
        fake.chmod(0o755)
    return bin_dir


def test_every_missing_tool_is_named_with_version_and_install_hint(tmp_path: Path) -> None:
    result = _run_dev_with_path(_toolbox(tmp_path, []))
    assert result.returncode == 1
    for tool, version in [
        ("docker", "24"),
        ("kind", "0.30.0"),
        ("kubectl", "1.34"),
        ("helm", "3.16"),
        ("tilt", "0.33"),
    ]:
        assert f"missing: {tool} (>= {version}). Install:" in result.stderr
    assert "install the tools above" in result.stderr


def test_only_the_missing_tool_is_named(tmp_path: Path) -> None:
    result = _run_dev_with_path(_toolbox(tmp_path, ["docker", "kind", "kubectl", "helm"]))
    assert result.returncode == 1
    assert "missing: tilt" in result.stderr
    assert "missing: docker" not in result.stderr


def test_a_stopped_docker_daemon_is_reported(tmp_path: Path) -> None:
    # Fake `docker info` fails, as it does when the daemon is not running.
    result = _run_dev_with_path(_toolbox(tmp_path, ["docker", "kind", "kubectl", "helm", "tilt"]))
    assert result.returncode == 1
    assert "Docker is installed but not running" in result.stderr
