"""The Traefik image: built by buildah from the local binary; non-root, runs the stamped version."""

from __future__ import annotations

import json
import subprocess

import pytest

from images import traefik


def _buildah(*args: str) -> str:
    return subprocess.run(["buildah", *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def image() -> str:
    return traefik.build()


def test_image_runs_traefik_as_uid_65532(image: str) -> None:
    config = json.loads(_buildah("inspect", "--type", "image", image))["OCIv1"]["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["/usr/local/bin/traefik"]
    assert config["Labels"]["org.opencontainers.image.version"] == traefik.VERSION


def test_the_binary_in_the_image_is_the_pinned_static_build(image: str) -> None:
    container = _buildah("from", "--quiet", image).strip()
    try:
        out = _buildah("run", container, "--", "/usr/local/bin/traefik", "version")
    finally:
        _buildah("rm", container)
    assert f"Version:      {traefik.VERSION.removeprefix('v')}" in out
