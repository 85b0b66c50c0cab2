"""`images.load` puts an image into a containerd under the name a pod spec uses."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import images
from images.load import loaded
from tests.support.waiting import wait_for


@pytest.fixture
def containerd(tmp_path: Path) -> Iterator[Path]:
    """A private containerd (own root, state and socket; no CRI plugin), stopped afterwards."""
    socket = tmp_path / "containerd.sock"
    config = tmp_path / "config.toml"
    config.write_text(
        f'version = 2\nroot = "{tmp_path / "root"}"\nstate = "{tmp_path / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{socket}"\n'
        f'[ttrpc]\n  address = "{tmp_path / "ttrpc.sock"}"\n'
    )
    with (tmp_path / "containerd.log").open("wb") as log:
        process = subprocess.Popen(
            ["containerd", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for("containerd's socket", lambda: socket.is_socket(), 30)
        yield socket
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_load_imports_the_ref_and_its_alias(postgres_image: str, containerd: Path) -> None:
    alias = "localhost/dimini/postgres:15"
    assert postgres_image not in loaded(containerd)
    images.load(postgres_image, containerd, aliases=[alias])
    names = loaded(containerd)
    assert {postgres_image, alias} <= names
    # Unpacked for the default snapshotter, as the kubelet needs it to create a container.
    check = subprocess.run(
        ["ctr", "--address", str(containerd), "-n", "k8s.io", "images", "check",
         f"name=={postgres_image}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    row = check.splitlines()[-1].split()
    assert row[0] == postgres_image
    assert "complete" in row
    assert row[-1] == "true", check  # the UNPACKED column
