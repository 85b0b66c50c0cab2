"""Names, versions and paths shared by the image builders (one place to bump a version)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent
DOCKERFILES = PACKAGE_DIR / "dockerfiles"

REGISTRY = "localhost/dimini"

# The host's apt mirror (see /etc/apt/sources.list.d/); debootstrap and apt in builds use it.
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("DIMINI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBIAN_SECURITY_MIRROR = os.environ.get(
    "DIMINI_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security"
)

# Node: the newest release of the current LTS line the npm registry carries (24 "Krypton"; the
# 26 line's builds there are not LTS-tagged yet). npm comes from the registry too.
NODE_VERSION = "24.21.0"
NPM_VERSION = "11.21.2"
NODE_MAJOR = NODE_VERSION.split(".")[0]

BASE_DEBIAN = f"{REGISTRY}/base-debian:{DEBIAN_SUITE}"
BASE_PYTHON = f"{REGISTRY}/base-python:3.11"
BASE_NODE = f"{REGISTRY}/base-node:{NODE_MAJOR}"

# Host CA bundle: the package registries are reached through a CA only this bundle carries.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

# Label on every image we build: the hash of its inputs, so a rebuild can be skipped.
RECIPE_LABEL = "io.dimini.recipe"


def cache_dir() -> Path:
    """Everything downloaded or staged lives here, never in the repository."""
    default = Path.home() / ".cache" / "dimini-images"
    path = Path(os.environ.get("DIMINI_IMAGES_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path
