"""`python -m images tilt <name>`, Tilt's custom_build command: the name containerd stores Tilt's
$EXPECTED_REF under (what the kubelet looks up), and clear refusals outside Tilt or without a
node."""

from __future__ import annotations

from pathlib import Path

import pytest

from images.__main__ import containerd_name, main


@pytest.mark.parametrize(
    "ref,name",
    [
        ("dimini-backend:tilt-build-1", "docker.io/library/dimini-backend:tilt-build-1"),
        ("team/dimini-backend:tilt-1", "docker.io/team/dimini-backend:tilt-1"),
        ("localhost/dimini/backend:abc", "localhost/dimini/backend:abc"),
        ("localhost:5001/dimini-backend:t", "localhost:5001/dimini-backend:t"),
        ("registry.example/x/y:1", "registry.example/x/y:1"),
    ],
)
def test_containerd_name_is_the_normalized_reference(ref: str, name: str) -> None:
    assert containerd_name(ref) == name


def test_outside_tilt_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXPECTED_REF", raising=False)
    with pytest.raises(SystemExit, match="EXPECTED_REF is not set"):
        main(["tilt", "backend"])


def test_without_a_node_it_says_how_to_start_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EXPECTED_REF", "dimini-backend:tilt-build-1")
    with pytest.raises(SystemExit, match="--real-node"):
        main(["tilt", "backend", "--address", str(tmp_path / "no.sock")])
