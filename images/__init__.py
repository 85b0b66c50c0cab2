"""The project's images, built with buildah from local Debian bases; loaded into containerd.

    images.build("backend") -> "localhost/dimini/backend:<content tag>"   (also tagged :dev)
    images.build("backend", extra_files={"alembic/versions/9999_e2e.py": text}) -> ref
    images.load(ref, Path("/run/.../containerd.sock"), aliases=[...])

See docs/images.md.
"""

from __future__ import annotations

from images.load import load
from images.project import IMAGES, build

__all__ = ["IMAGES", "build", "load"]
