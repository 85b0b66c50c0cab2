"""A real node for the sandbox: containerd + runc + the CNI bridge, kubelet, kube-proxy, CoreDNS.

`python -m sandbox up --real-node` adds it beside (or instead of) the KWOK nodes, so pods really
run, Services route through kube-proxy's iptables rules and names resolve through CoreDNS. Pieces:

- containerd (Debian's 1.6) with runc; its content store lives in the cache (images survive a
  `sandbox down`), its state, runc's state and the pod netns mounts under `<sandbox>/node`.
- CNI: Debian's bridge + host-local plugins, pods on POD_CIDR behind the bridge `dimini0`.
- kubelet and kube-proxy built with the control plane (sandbox/build.sh), with their own client
  certificates (system:node:<name> through the Node authorizer; system:kube-proxy).
- CoreDNS (built from its Go module) on the host address: cluster.local for pods.
- Storage: a default StorageClass of `local` PersistentVolumes whose directories live under
  `<sandbox>/volumes`: data on disk that survives the pods using it.

The render_* functions are pure; start() and cleanup() do the work. One real node per host: the
bridge name and iptables chains are host-wide.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sandbox import pki as pki_mod
from sandbox import podprocs

NODE_NAME = "dimini-node"
POD_CIDR = "10.88.0.0/24"
BRIDGE = "dimini0"
CLUSTER_DOMAIN = "cluster.local"
PAUSE_IMAGE = "localhost/dimini/pause:3.10"
STORAGE_CLASS = "local"
VOLUME_COUNT = 24  # each e2e module binds one and Retain keeps it
VOLUME_CAPACITY = "10Gi"
COMPONENTS = ("containerd", "kubelet", "kube-proxy", "coredns")
BINARIES = ("kubelet", "kube-proxy", "coredns", "pause")  # from build.sh; containerd from Debian


def cache_dir() -> Path:
    base = os.environ.get("DIMINI_SANDBOX_CACHE", str(Path.home() / ".cache" / "dimini-sandbox"))
    return Path(base)


@dataclass(frozen=True)
class NodePaths:
    """Where the node keeps its files: state under the sandbox, images in the cache."""

    sandbox_root: Path

    @property
    def dir(self) -> Path:
        return self.sandbox_root / "node"

    @property
    def containerd_root(self) -> Path:
        return Path(os.environ.get("DIMINI_CONTAINERD_ROOT", cache_dir() / "containerd"))

    @property
    def containerd_state(self) -> Path:
        return self.dir / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.dir / "containerd.sock"

    @property
    def runc_root(self) -> Path:
        return self.dir / "runc"

    @property
    def cni_conf_dir(self) -> Path:
        return self.dir / "cni"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.dir / "cni-ipam"

    @property
    def kubelet_dir(self) -> Path:
        return self.dir / "kubelet"

    @property
    def volumes(self) -> Path:
        return self.sandbox_root / "volumes"


def owner_file() -> Path:
    """Which sandbox runs this host's real node (the bridge, iptables rules and ports are
    host-wide, so there is at most one)."""
    return cache_dir() / "real-node-owner"


def claim_host(sandbox_root: Path, running: Callable[[Path], bool]) -> None:
    """Record `sandbox_root` as the real node's owner; refuse while another one runs."""
    owner = owner_file()
    if owner.exists():
        other = Path(owner.read_text().strip())
        if other != sandbox_root and running(other):
            raise RuntimeError(
                f"a real node already runs in the sandbox {other}; one per host: stop it first "
                f"(DIMINI_SANDBOX_DIR={other} python -m sandbox down)"
            )
    owner.parent.mkdir(parents=True, exist_ok=True)
    owner.write_text(str(sandbox_root))


def host_ip() -> str:
    """The host's primary IPv4 address: where pods reach the API server and CoreDNS."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        # connect() on UDP sends nothing; it only picks the source address of the default route.
        s.connect(("192.0.2.254", 9))
        return str(s.getsockname()[0])


# --- pure renders -------------------------------------------------------------------------------


def render_containerd_config(paths: NodePaths) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return "\n".join(
        [
            "version = 2",
            f'root = "{paths.containerd_root}"',
            f'state = "{paths.containerd_state}"',
            "[grpc]",
            f'  address = "{paths.containerd_socket}"',
            f"[{cri}]",
            f'  sandbox_image = "{PAUSE_IMAGE}"',
            # Lowering oom_score_adj below our own needs CAP_SYS_RESOURCE, which this host's root
            # lacks; without this runc fails with "can't get final child's PID from pipe".
            "  restrict_oom_score_adj = true",
            "  netns_mounts_under_state_dir = true",
            f"[{cri}.cni]",
            '  bin_dir = "/usr/lib/cni"',
            f'  conf_dir = "{paths.cni_conf_dir}"',
            f"[{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"[{cri}.containerd.runtimes.runc.options]",
            f'  Root = "{paths.runc_root}"',
            "",
        ]
    )


def render_cni_conflist(paths: NodePaths) -> dict[str, Any]:
    # No masquerading and no portmap: pods only talk to each other and to this host, and no
    # per-pod iptables chains are left behind when containers are killed without CNI DEL.
    return {
        "cniVersion": "0.4.0",
        "name": "dimini",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(paths.cni_ipam_dir),
                    "ranges": [[{"subnet": POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "loopback"},
        ],
    }


def render_kubelet_config(
    paths: NodePaths, address: str, port: int, healthz_port: int, ca_cert: Path
) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # The sandbox hosts seen so far mount cgroup v1; Kubernetes 1.35+ refuses it by default.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{paths.containerd_socket}",
        "address": address,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca_cert)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [address],
        "clusterDomain": CLUSTER_DOMAIN,
        "failSwapOn": False,
        # Images are loaded by `make images`, never pulled: garbage collection must not drop them.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "serializeImagePulls": False,
        # Container logs with the sandbox, not in the host's /var/log/pods.
        "podLogsDir": str(paths.dir / "pod-logs"),
        "nodeStatusReportFrequency": "10s",
    }


def render_kube_proxy_config(
    kubeconfig: Path, healthz_port: int, metrics_port: int
) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "clusterCIDR": POD_CIDR,
        "hostnameOverride": NODE_NAME,
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        # Leave the host's conntrack sysctls alone.
        "conntrack": {"maxPerCore": 0, "min": 0},
    }


def render_corefile(address: str, kubeconfig: Path, ready_port: int) -> str:
    return f"""\
.:53 {{
    bind {address}
    errors
    ready 127.0.0.1:{ready_port}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig} dimini-sandbox
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    forward . /etc/resolv.conf
    cache 30
}}
"""


def render_kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "dimini-sandbox",
                "cluster": {"server": server, "certificate-authority": str(ca)},
            }
        ],
        "users": [
            {"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}
        ],
        "contexts": [
            {"name": "dimini-sandbox", "context": {"cluster": "dimini-sandbox", "user": user}}
        ],
        "current-context": "dimini-sandbox",
    }


def render_storage(paths: NodePaths) -> list[dict[str, Any]]:
    """A default StorageClass and statically provisioned `local` volumes on the node's disk.

    `local` (not hostPath) volumes honour the pod's fsGroup, so Postgres (uid 70) owns its data.
    """
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Retain",
        }
    ]
    for i in range(VOLUME_COUNT):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"local-pv-{i}"},
                "spec": {
                    "capacity": {"storage": VOLUME_CAPACITY},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": STORAGE_CLASS,
                    "local": {"path": str(paths.volumes / f"pv-{i}")},
                    "nodeAffinity": {
                        "required": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": "kubernetes.io/hostname",
                                            "operator": "In",
                                            "values": [NODE_NAME],
                                        }
                                    ]
                                }
                            ]
                        }
                    },
                },
            }
        )
    return objects


# --- doing ----------------------------------------------------------------------------------------


def write_files(
    paths: NodePaths,
    pki: pki_mod.Pki,
    server: str,
    address: str,
    ports: dict[str, int],
    admin_kubeconfig: Path,
) -> dict[str, Path]:
    """Write every config file of the node; return the paths the processes are started with."""
    for d in (
        paths.dir,
        paths.containerd_state,
        paths.runc_root,
        paths.cni_conf_dir,
        paths.cni_ipam_dir,
        paths.kubelet_dir,
        paths.containerd_root,
    ):
        d.mkdir(parents=True, exist_ok=True)
    for i in range(VOLUME_COUNT):
        (paths.volumes / f"pv-{i}").mkdir(parents=True, exist_ok=True)

    files = {
        "containerd": paths.dir / "containerd.toml",
        "kubelet": paths.dir / "kubelet.yaml",
        "kubelet-kubeconfig": paths.dir / "kubelet.kubeconfig",
        "kube-proxy": paths.dir / "kube-proxy.yaml",
        "kube-proxy-kubeconfig": paths.dir / "kube-proxy.kubeconfig",
        "coredns": paths.dir / "Corefile",
    }
    files["containerd"].write_text(render_containerd_config(paths))
    (paths.cni_conf_dir / "10-dimini.conflist").write_text(json.dumps(render_cni_conflist(paths)))

    cert, key = pki_mod.issue_client(pki, "kubelet", f"system:node:{NODE_NAME}", "system:nodes")
    files["kubelet-kubeconfig"].write_text(
        yaml.safe_dump(
            render_kubeconfig(server, pki.ca_cert, cert, key, f"system:node:{NODE_NAME}")
        )
    )
    files["kubelet"].write_text(
        yaml.safe_dump(
            render_kubelet_config(
                paths, address, ports["kubelet"], ports["kubelet_healthz"], pki.ca_cert
            )
        )
    )
    cert, key = pki_mod.issue_client(pki, "kube-proxy", "system:kube-proxy")
    files["kube-proxy-kubeconfig"].write_text(
        yaml.safe_dump(render_kubeconfig(server, pki.ca_cert, cert, key, "system:kube-proxy"))
    )
    files["kube-proxy"].write_text(
        yaml.safe_dump(
            render_kube_proxy_config(
                files["kube-proxy-kubeconfig"],
                ports["kube_proxy_healthz"],
                ports["kube_proxy_metrics"],
            )
        )
    )
    files["coredns"].write_text(render_corefile(address, admin_kubeconfig, ports["coredns_ready"]))
    for f in files.values():
        f.chmod(0o600)
    return files


def commands(
    bin_dir: Path, paths: NodePaths, files: dict[str, Path], address: str
) -> dict[str, list[str]]:
    return {
        "containerd": ["containerd", "--config", str(files["containerd"])],
        "kubelet": [
            str(bin_dir / "kubelet"),
            f"--config={files['kubelet']}",
            f"--kubeconfig={files['kubelet-kubeconfig']}",
            f"--root-dir={paths.kubelet_dir}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={address}",
            f"--node-labels=dimini.io/node=real,kubernetes.io/hostname={NODE_NAME}",
        ],
        "kube-proxy": [str(bin_dir / "kube-proxy"), f"--config={files['kube-proxy']}"],
        "coredns": [str(bin_dir / "coredns"), "-conf", str(files["coredns"])],
    }


def prepare_host() -> None:
    """Kernel settings pods need: forwarding, and bridged traffic through iptables (Services)."""
    for key, value in (
        ("net/ipv4/ip_forward", "1"),
        ("net/bridge/bridge-nf-call-iptables", "1"),
    ):
        path = Path("/proc/sys") / key
        if path.exists() and path.read_text().strip() != value:
            path.write_text(value)


def ctr(paths: NodePaths, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ctr", "-a", str(paths.containerd_socket), "-n", "k8s.io", *args],
        check=True,
        text=True,
        capture_output=True,
        **kwargs,
    )


def has_image(paths: NodePaths, ref: str) -> bool:
    out = ctr(paths, "images", "ls", "-q", f"name=={ref}").stdout
    return ref in out.split()


def ensure_pause_image(paths: NodePaths, bin_dir: Path) -> None:
    """The pod sandbox image, from the `pause` binary build.sh compiled (registry.k8s.io is out
    of reach here)."""
    if has_image(paths, PAUSE_IMAGE):
        return
    archive = bin_dir.parent / "pause-oci.tar"
    if not archive.exists():
        container = subprocess.run(
            ["buildah", "from", "scratch"], check=True, capture_output=True, text=True
        ).stdout.strip()
        try:
            subprocess.run(
                ["buildah", "copy", container, str(bin_dir / "pause"), "/pause"],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [
                    "buildah",
                    "config",
                    "--entrypoint",
                    '["/pause"]',
                    "--user",
                    "65535:65535",
                    container,
                ],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                ["buildah", "commit", "-q", container, PAUSE_IMAGE], check=True, capture_output=True
            )
        finally:
            subprocess.run(["buildah", "rm", container], check=False, capture_output=True)
        tmp = archive.with_suffix(".tmp")
        subprocess.run(
            ["buildah", "push", "-q", PAUSE_IMAGE, f"oci-archive:{tmp}:{PAUSE_IMAGE}"],
            check=True,
            capture_output=True,
        )
        tmp.rename(archive)
    ctr(paths, "images", "import", str(archive))


def apply_storage(kubeconfig: Path, paths: NodePaths) -> None:
    from lightkube import Client, KubeConfig
    from lightkube.codecs import from_dict

    client = Client(KubeConfig.from_file(kubeconfig), field_manager="dimini-sandbox")
    for obj in render_storage(paths):
        client.apply(from_dict(obj), force=True)


def node_ready(kubeconfig: Path) -> bool:
    from lightkube import ApiError, Client, KubeConfig
    from lightkube.resources.core_v1 import Node

    try:
        node = Client(KubeConfig.from_file(kubeconfig)).get(Node, NODE_NAME)
    except ApiError:
        return False
    conditions = (node.status.conditions if node.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def stop_tasks(sandbox_root: Path) -> int:
    """While containerd runs: SIGKILL and delete every container task; returns how many."""
    paths = NodePaths(sandbox_root)
    if not paths.containerd_socket.exists():
        return 0
    return podprocs.stop_tasks(lambda *args: ctr(paths, *args, timeout=30))


def cleanup(sandbox_root: Path, bin_dir: Path | None, tasks: int = 0) -> podprocs.Removed:
    """After the node's processes are stopped: kill every process left in the pods' cgroups,
    undo the mounts, the bridge and kube-proxy's iptables rules."""
    paths = NodePaths(sandbox_root)
    owner = owner_file()
    mine = not owner.exists() or Path(owner.read_text().strip()) == sandbox_root
    # The pod cgroups are host-wide: sweep them only when no other sandbox owns the real node.
    killed = podprocs.kill_pod_processes() if mine else 0
    if not paths.dir.exists():
        return podprocs.Removed(tasks, killed)
    # The runc v2 shim keeps runc's state under <Root>/<containerd namespace>.
    runc_root = paths.runc_root / "k8s.io"
    if runc_root.exists():
        listed = subprocess.run(
            ["runc", "--root", str(runc_root), "list", "-q"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        for container in listed:
            subprocess.run(
                ["runc", "--root", str(runc_root), "delete", "--force", container],
                capture_output=True,
                check=False,
            )
    _kill_shims(paths)
    _unmount_under(paths.dir)
    # The kubelet links every container log into the fixed /var/log/containers.
    links = Path("/var/log/containers")
    if links.is_dir():
        for link in links.iterdir():
            if link.is_symlink() and str(os.readlink(link)).startswith(str(paths.dir)):
                link.unlink()
    if not mine or not owner.exists():
        return podprocs.Removed(tasks, killed)  # the host-wide parts are another sandbox's
    subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
    if bin_dir and (bin_dir / "kube-proxy").exists():
        subprocess.run([str(bin_dir / "kube-proxy"), "--cleanup"], capture_output=True, check=False)
    _remove_kubelet_chains()
    owner.unlink()
    return podprocs.Removed(tasks, killed)


# The chains the kubelet itself adds (kube-proxy --cleanup leaves them).
KUBELET_CHAINS = (
    ("filter", "INPUT", "KUBE-FIREWALL"),
    ("filter", "OUTPUT", "KUBE-FIREWALL"),
    ("filter", None, "KUBE-KUBELET-CANARY"),
    ("nat", None, "KUBE-KUBELET-CANARY"),
    ("mangle", None, "KUBE-KUBELET-CANARY"),
    ("mangle", None, "KUBE-IPTABLES-HINT"),
)


def _remove_kubelet_chains() -> None:
    def iptables(*args: str) -> None:
        subprocess.run(["iptables", *args], capture_output=True, check=False)

    for table, parent, chain in KUBELET_CHAINS:
        if parent:
            iptables("-t", table, "-D", parent, "-j", chain)
    for table, _, chain in KUBELET_CHAINS:
        iptables("-t", table, "-F", chain)
        iptables("-t", table, "-X", chain)


def _kill_shims(paths: NodePaths) -> None:
    needle = str(paths.containerd_socket).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"containerd-shim" in cmdline and needle in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), 9)


def _unmount_under(directory: Path) -> None:
    prefix = str(directory.resolve()) + "/"
    mounts = [
        line.split()[1].encode().decode("unicode_escape")
        for line in Path("/proc/mounts").read_text().splitlines()
    ]
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)


def remove_tree(path: Path) -> None:
    """rmtree that first undoes any mount below `path` (pod volumes, netns, rootfs)."""
    if path.exists():
        _unmount_under(path)
        shutil.rmtree(path)
