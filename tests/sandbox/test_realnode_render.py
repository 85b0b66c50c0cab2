"""The real node's pure parts: rendered configs and the one-per-host claim (no processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import realnode


def test_one_real_node_per_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIMINI_SANDBOX_CACHE", str(tmp_path / "cache"))
    first, second = tmp_path / "first", tmp_path / "second"
    realnode.claim_host(first, running=lambda root: True)
    with pytest.raises(RuntimeError, match=f"already runs in the sandbox {first}"):
        realnode.claim_host(second, running=lambda root: root == first)
    # Once the first one is gone, the second may take the host.
    realnode.claim_host(second, running=lambda root: False)
    assert realnode.owner_file().read_text() == str(second)


def test_rendered_node_configs(tmp_path: Path) -> None:
    paths = realnode.NodePaths(tmp_path)
    kubelet = realnode.render_kubelet_config(paths, "192.0.2.9", 1, 2, tmp_path / "ca.crt")
    assert kubelet["failCgroupV1"] is False
    assert kubelet["clusterDNS"] == ["192.0.2.9"]
    assert kubelet["containerRuntimeEndpoint"] == f"unix://{paths.containerd_socket}"
    assert kubelet["podLogsDir"].startswith(str(tmp_path))
    containerd = realnode.render_containerd_config(paths)
    assert "restrict_oom_score_adj = true" in containerd
    assert f'sandbox_image = "{realnode.PAUSE_IMAGE}"' in containerd
    bridge = realnode.render_cni_conflist(paths)["plugins"][0]
    assert bridge["ipam"]["ranges"] == [[{"subnet": realnode.POD_CIDR}]]
    assert bridge["ipam"]["dataDir"].startswith(str(tmp_path))
    storage = realnode.render_storage(paths)
    volumes = [o for o in storage if o["kind"] == "PersistentVolume"]
    assert len(volumes) == realnode.VOLUME_COUNT
    assert all(v["spec"]["local"]["path"].startswith(str(paths.volumes)) for v in volumes)
    assert "bind 192.0.2.9" in realnode.render_corefile("192.0.2.9", tmp_path / "kc", 3)
