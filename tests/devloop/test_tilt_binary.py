"""The Tilt binary `make dev` and the tests share (sandbox/tilt.py): `tilt` on PATH wins; otherwise
the pinned archive is unpacked once to the cache, and only if its sha256 matches."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from sandbox import tilt


def _archive(directory: Path, content: bytes, sha: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / tilt.ARCHIVE
    archive.write_bytes(gzip.compress(content))
    digest = sha or hashlib.sha256(content).hexdigest()
    (directory / f"tilt-{tilt.VERSION}-linux-amd64.sha256").write_text(f"{digest}  tilt\n")
    return archive


@pytest.fixture
def no_tilt_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_tilt_on_path_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tilt"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("DIMINI_TOOLS_DIR", str(tmp_path / "tools"))
    _archive(tmp_path / "tools", b"pinned")
    assert tilt.find() == fake


def test_the_pinned_archive_is_unpacked_to_the_cache_once(
    monkeypatch: pytest.MonkeyPatch, no_tilt_on_path: Path
) -> None:
    tools = no_tilt_on_path / "tools"
    _archive(tools, b"#!/bin/sh\necho pinned\n")
    monkeypatch.setenv("DIMINI_TOOLS_DIR", str(tools))
    found = tilt.find()
    assert found == tilt.cache_path()
    assert found.read_bytes() == b"#!/bin/sh\necho pinned\n"
    assert found.stat().st_mode & 0o111
    (tools / tilt.ARCHIVE).unlink()  # the cache is used from now on
    assert tilt.find() == found


def test_an_archive_with_the_wrong_sha256_is_refused(
    monkeypatch: pytest.MonkeyPatch, no_tilt_on_path: Path
) -> None:
    tools = no_tilt_on_path / "tools"
    _archive(tools, b"tampered", sha="0" * 64)
    monkeypatch.setenv("DIMINI_TOOLS_DIR", str(tools))
    with pytest.raises(RuntimeError, match="sha256"):
        tilt.find()
    assert not tilt.cache_path().exists()
    assert not list(tilt.cache_path().parent.iterdir()), "no partial file left"


def test_no_tilt_anywhere_is_none(monkeypatch: pytest.MonkeyPatch, no_tilt_on_path: Path) -> None:
    monkeypatch.setenv("DIMINI_TOOLS_DIR", str(no_tilt_on_path / "nothing"))
    monkeypatch.setattr(tilt, "REPO", no_tilt_on_path / "a" / "b")
    assert tilt.find() is None
    assert "install Tilt" in tilt.INSTALL_HINT
