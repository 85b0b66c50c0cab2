"""The Tilt binary that `make dev` and the tests use: `tilt` on PATH wins; otherwise the pinned
release from the shared tools directory (`../shared/tools/`, or $DIMINI_TOOLS_DIR), unpacked once
to ~/.cache/dimini-stack/tilt/<version>/tilt and checked against its sha256.

    python -m sandbox.tilt      print the binary's path (exit 1 with how to install Tilt if none)
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

VERSION = "0.37.6"
ARCHIVE = f"tilt-{VERSION}-linux-amd64.gz"
REPO = Path(__file__).resolve().parents[1]
INSTALL_HINT = (
    "no Tilt binary: install Tilt >= 0.33 "
    "(curl -fsSL https://raw.githubusercontent.com/tilt-dev/tilt/master/scripts/install.sh | bash)"
    f" or put {ARCHIVE} and its .sha256 in $DIMINI_TOOLS_DIR"
)


def cache_path() -> Path:
    return Path.home() / ".cache" / "dimini-stack" / "tilt" / VERSION / "tilt"


def tools_dirs() -> list[Path]:
    """Where the archive may be: $DIMINI_TOOLS_DIR, then shared/tools beside the checkout (a
    worktree sits one level deeper than the main checkout, so every parent is tried)."""
    env = os.environ.get("DIMINI_TOOLS_DIR")
    dirs = [Path(env)] if env else []
    return dirs + [parent / "shared" / "tools" for parent in REPO.parents]


def _expected_sha256(sha_file: Path) -> str:
    return sha_file.read_text().split()[0].lower()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def unpack(archive: Path, dest: Path) -> Path:
    """Gunzip `archive` to `dest` (atomically), refusing a binary whose sha256 does not match."""
    expected = _expected_sha256(archive.with_name(archive.name.removesuffix(".gz") + ".sha256"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp,
        gzip.open(archive, "rb") as src,
    ):
        shutil.copyfileobj(src, tmp)
    tmp_path = Path(tmp.name)
    actual = _sha256(tmp_path)
    if actual != expected:
        tmp_path.unlink()
        raise RuntimeError(f"{archive}: sha256 {actual} != {expected}; not using it")
    tmp_path.chmod(0o755)
    tmp_path.rename(dest)
    return dest


def find() -> Path | None:
    """The Tilt binary to use, unpacking the pinned one on first use; None when there is none."""
    on_path = shutil.which("tilt")
    if on_path:
        return Path(on_path)
    cached = cache_path()
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    for tools in tools_dirs():
        archive = tools / ARCHIVE
        if archive.is_file():
            return unpack(archive, cached)
    return None


def main() -> int:
    path = find()
    if path is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
