"""`make dev` picks its path (kind with Docker, the sandbox's real node without) and says why; on a
machine without the tools it says what to install instead of failing obscurely."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run_dev_with_path(
    path: Path, dev: str = "kind", extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(path), **({"DIMINI_DEV": dev} if dev else {}), **(extra_env or {})}
    return subprocess.run(
        ["/bin/bash", str(REPO / "hack" / "dev.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _toolbox(tmp_path: Path, tools: list[str]) -> Path:
    """A PATH holding the basic utilities plus fake `tools` (which only print a version)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for util in ("dirname", "printf", "cat", "grep", "uname", "id"):
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


def _recording_python(tmp_path: Path) -> Path:
    """A stand-in interpreter that records how dev.sh hands over to sandbox/dev.py."""
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/bash\necho "$@" > {tmp_path}/python-args\n')
    fake.chmod(0o755)
    return fake


@pytest.mark.skipif(
    os.uname().sysname != "Linux" or os.geteuid() != 0, reason="the sandbox path: Linux as root"
)
@pytest.mark.parametrize(
    "tools,why",
    [
        (["buildah", "ctr", "kubectl"], "no docker"),
        (["docker", "buildah", "ctr", "kubectl"], "docker is installed but its daemon does not"),
    ],
)
def test_without_a_docker_daemon_linux_root_takes_the_sandbox_path_and_says_why(
    tmp_path: Path, tools: list[str], why: str
) -> None:
    python = _recording_python(tmp_path)
    result = _run_dev_with_path(
        _toolbox(tmp_path, tools), dev="", extra_env={"DIMINI_PYTHON": str(python)}
    )
    assert result.returncode == 0, result.stderr
    assert "the sandbox with its real node, images by buildah" in result.stderr
    assert why in result.stderr
    assert (tmp_path / "python-args").read_text().split() == ["-m", "sandbox.dev", "--"]


def test_the_sandbox_path_names_its_missing_tools(tmp_path: Path) -> None:
    result = _run_dev_with_path(_toolbox(tmp_path, ["kubectl"]), dev="sandbox")
    assert result.returncode == 1
    assert "missing: buildah" in result.stderr and "missing: ctr" in result.stderr
    assert "missing: docker" not in result.stderr
