"""Start, inspect and stop the sandbox control plane.

State lives in one directory (default `.sandbox/` in the repository, or $DIMINI_SANDBOX_DIR):
certificates, etcd data, logs, `state.json` (pids and ports) and `kubeconfig`. Every process runs
in its own session so it outlives `python -m sandbox up`; `down` kills them all by the pids
recorded as each one started, so even a half-finished start is cleaned up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from sandbox import pki as pki_mod
from sandbox import realnode as realnode_mod

REPO = Path(__file__).resolve().parent.parent
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
NODE_ANNOTATION = "kwok.x-k8s.io/node"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


class SandboxError(RuntimeError):
    """The sandbox could not be started; the message names the component and its log."""


@dataclass(frozen=True)
class Sandbox:
    root: Path

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def env(self) -> dict[str, str]:
        """os.environ plus KUBECONFIG and the control-plane binaries (kubectl) on PATH."""
        state = self.state()
        path = f"{state['bin']}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PATH": path}

    def state(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.state_file.read_text())
        return data

    @property
    def containerd_socket(self) -> Path:
        """The real node's containerd (only with `up(real_node=True)`): load images here."""
        return realnode_mod.NodePaths(self.root).containerd_socket

    def has_real_node(self) -> bool:
        return self.state_file.exists() and bool(self.state().get("real_node"))

    def components(self) -> tuple[str, ...]:
        return COMPONENTS + (realnode_mod.COMPONENTS if self.has_real_node() else ())

    def pids(self) -> dict[str, int]:
        if not self.state_file.exists():
            return {}
        pids = self.state().get("pids", {})
        assert isinstance(pids, dict)
        return {str(k): int(v) for k, v in pids.items()}

    def is_running(self) -> bool:
        if not self.state_file.exists():
            return False
        pids = self.pids()
        if set(pids) != set(self.components()) or not all(_alive(p) for p in pids.values()):
            return False
        return _ready(self, "/readyz")


def default_root() -> Path:
    return Path(os.environ.get("DIMINI_SANDBOX_DIR", REPO / ".sandbox")).resolve()


def binaries() -> Path:
    """The directory holding etcd, kube-apiserver, ..., kwok: $DIMINI_SANDBOX_BIN or the build."""
    prebuilt = os.environ.get("DIMINI_SANDBOX_BIN")
    if prebuilt:
        path = Path(prebuilt)
        missing = [b for b in (*COMPONENTS, "kubectl") if not (path / b).is_file()]
        if missing:
            raise SandboxError(f"DIMINI_SANDBOX_BIN={path} lacks {', '.join(missing)}")
        return path
    # build.sh prints progress on stderr (passed through) and the bin directory on stdout.
    out = subprocess.run(
        ["bash", str(REPO / "sandbox" / "build.sh")], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); it is not running.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ssl_context(sb: Sandbox) -> ssl.SSLContext:
    pki = pki_mod.Pki(sb.root / "pki")
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return ctx


def _ready(sb: Sandbox, path: str) -> bool:
    port = sb.state().get("ports", {})
    assert isinstance(port, dict)
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port['apiserver']}{path}", context=_ssl_context(sb), timeout=2
        ) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    hint = f"; see {log}" if log else ""
    raise SandboxError(f"timed out after {timeout:.0f}s waiting for {what}{hint}")


def _say(msg: str) -> None:
    print(f"[sandbox] {msg}", file=sys.stderr, flush=True)


class _Launcher:
    """Starts components and records each pid in state.json the moment it exists."""

    def __init__(self, sb: Sandbox, state: dict[str, object]) -> None:
        self.sb, self.state = sb, state
        self.state["pids"] = {}

    def save(self) -> None:
        self.sb.state_file.write_text(json.dumps(self.state, indent=2))

    def start(self, name: str, args: list[str]) -> Path:
        log = self.sb.logs / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.sb.root,
            )
        pids = self.state["pids"]
        assert isinstance(pids, dict)
        pids[name] = proc.pid
        self.save()
        return log

    def check_alive(self, name: str, log: Path) -> Callable[[], bool]:
        pids = self.state["pids"]
        assert isinstance(pids, dict)

        def alive() -> bool:
            if not _alive(int(pids[name])):
                tail = log.read_text(errors="replace").splitlines()[-15:]
                raise SandboxError(f"{name} exited; last lines of {log}:\n" + "\n".join(tail))
            return True

        return alive


def _kubeconfig(pki: pki_mod.Pki, port: int) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "dimini-sandbox",
                "cluster": {
                    "server": f"https://127.0.0.1:{port}",
                    "certificate-authority": str(pki.ca_cert),
                },
            }
        ],
        "users": [
            {
                "name": "sandbox-admin",
                "user": {
                    "client-certificate": str(pki.admin_cert),
                    "client-key": str(pki.admin_key),
                },
            }
        ],
        "contexts": [
            {
                "name": "dimini-sandbox",
                "context": {
                    "cluster": "dimini-sandbox",
                    "user": "sandbox-admin",
                    "namespace": "default",
                },
            }
        ],
        "current-context": "dimini-sandbox",
    }


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """Serialise up/down of one sandbox across processes (tests, make, a second terminal)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(root: Path | None = None, nodes: int = 2, real_node: bool = False) -> Sandbox:
    """Start the sandbox unless it is already running; return it once nodes are Ready.

    real_node: also run a real kubelet node (containerd, CNI, kube-proxy, CoreDNS; see realnode).
    """
    sb = Sandbox(root or default_root())
    with _exclusive(sb.root):
        return _up(sb, nodes, real_node)


def _up(sb: Sandbox, nodes: int, real_node: bool) -> Sandbox:
    if sb.is_running():
        if real_node and not sb.has_real_node():
            raise SandboxError(
                f"the sandbox in {sb.root} runs without a real node; `python -m sandbox down` first"
            )
        _say(f"already running; KUBECONFIG={sb.kubeconfig}")
        return sb
    _down(sb, quiet=True)
    bin_dir = binaries()
    started = time.monotonic()
    sb.logs.mkdir(parents=True)
    (sb.root / "etcd").mkdir(mode=0o700)
    port_names = ["etcd", "etcd_peer", "apiserver", "controller_manager", "scheduler"]
    if real_node:
        port_names += ["kubelet", "kubelet_healthz", "kube_proxy_healthz", "kube_proxy_metrics",
                       "coredns_ready"]  # fmt: skip
    ports = {name: _free_port() for name in port_names}
    state: dict[str, object] = {"bin": str(bin_dir), "ports": ports, "real_node": real_node}
    launcher = _Launcher(sb, state)
    launcher.save()
    # With a real node, pods reach the API server (the `kubernetes` Service) on the host address.
    host = realnode_mod.host_ip() if real_node else "127.0.0.1"
    pki = pki_mod.generate(sb.root / "pki", SERVICE_IP, extra_ips=(host,) if real_node else ())
    sb.kubeconfig.write_text(yaml.safe_dump(_kubeconfig(pki, ports["apiserver"])))
    sb.kubeconfig.chmod(0o600)
    kcfg = str(sb.kubeconfig)

    try:
        _say("starting etcd")
        etcd_url = f"http://127.0.0.1:{ports['etcd']}"
        peer_url = f"http://127.0.0.1:{ports['etcd_peer']}"
        log = launcher.start(
            "etcd",
            [
                str(bin_dir / "etcd"),
                "--name=sandbox",
                f"--data-dir={sb.root / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=sandbox={peer_url}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        alive = launcher.check_alive("etcd", log)
        _wait("etcd", lambda: alive() and _http_ok(f"{etcd_url}/health"), 30, log)

        _say("starting kube-apiserver")
        log = launcher.start(
            "kube-apiserver",
            [
                str(bin_dir / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={'0.0.0.0' if real_node else '127.0.0.1'}",  # noqa: S104
                f"--advertise-address={host}",
                f"--secure-port={ports['apiserver']}",
                f"--tls-cert-file={pki.apiserver_cert}",
                f"--tls-private-key-file={pki.apiserver_key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                # kubectl logs/exec on the real node, which has no DNS name the host resolves.
                "--kubelet-preferred-address-types=InternalIP",
                f"--kubelet-client-certificate={pki.admin_cert}",
                f"--kubelet-client-key={pki.admin_key}",
                # Privileged pods are allowed by the server so that Pod Security admission (on by
                # default) is what refuses them in namespaces that enforce `restricted`.
                "--allow-privileged=true",
                "--profiling=false",
            ],
        )
        alive = launcher.check_alive("kube-apiserver", log)
        _wait("kube-apiserver /readyz", lambda: alive() and _ready(sb, "/readyz"), 90, log)

        _say("starting kube-controller-manager, kube-scheduler and kwok")
        common = [
            f"--kubeconfig={kcfg}",
            f"--authentication-kubeconfig={kcfg}",
            f"--authorization-kubeconfig={kcfg}",
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
            # Client-side rate limits well above the defaults (20/30): the sandbox is one
            # machine, and benches create many objects at once.
            "--kube-api-qps=100",
            "--kube-api-burst=200",
        ]
        launcher.start(
            "kube-controller-manager",
            [
                str(bin_dir / "kube-controller-manager"),
                *common,
                f"--secure-port={ports['controller_manager']}",
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca_cert}",
                f"--cluster-signing-cert-file={pki.ca_cert}",
                f"--cluster-signing-key-file={pki.ca_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
            ],
        )
        launcher.start(
            "kube-scheduler",
            [
                str(bin_dir / "kube-scheduler"),
                *common,
                f"--secure-port={ports['scheduler']}",
            ],
        )
        launcher.start(
            "kwok",
            [
                str(bin_dir / "kwok"),
                f"--kubeconfig={kcfg}",
                f"--config={REPO / 'sandbox' / 'kwok-stages.yaml'}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
                "--cidr=10.244.0.1/16",
                "--node-ip=10.0.0.1",
                # Liveness through Leases, as real kubelets do; status heartbeats can be rare.
                "--node-lease-duration-seconds=40",
            ],
        )

        from sandbox import nodes as nodes_mod

        nodes_mod.register(sb, nodes)
        if real_node:
            _start_real_node(sb, launcher, pki, bin_dir, host, ports)
        for name in sb.components():
            launcher.check_alive(name, sb.logs / f"{name}.log")()
        _wait(
            "Ready nodes",
            lambda: nodes_mod.ready_count(sb) == nodes + real_node,
            60,
            sb.logs / "kwok.log",
        )
        # Pods need the namespace's default ServiceAccount (made by the controller manager).
        _wait(
            "the default ServiceAccount",
            lambda: nodes_mod.has_default_sa(sb),
            60,
            sb.logs / "kube-controller-manager.log",
        )
    except BaseException:
        _say(f"start failed; logs kept in {sb.logs}")
        _stop_processes(sb)
        if real_node:
            realnode_mod.cleanup(sb.root, bin_dir)
        raise
    _say(f"ready in {time.monotonic() - started:.1f}s")
    _say(f"export KUBECONFIG={sb.kubeconfig} PATH={bin_dir}:$PATH")
    return sb


def _start_real_node(
    sb: Sandbox,
    launcher: _Launcher,
    pki: pki_mod.Pki,
    bin_dir: Path,
    host: str,
    ports: dict[str, int],
) -> None:
    _say("starting the real node: containerd, kubelet, kube-proxy, CoreDNS")
    missing = [b for b in realnode_mod.BINARIES if not (bin_dir / b).is_file()]
    if missing:
        raise SandboxError(f"{bin_dir} lacks the real node's {', '.join(missing)} (build.sh)")
    try:
        realnode_mod.claim_host(sb.root, lambda root: Sandbox(root).is_running())
    except RuntimeError as e:
        raise SandboxError(str(e)) from None
    paths = realnode_mod.NodePaths(sb.root)
    realnode_mod.prepare_host()
    server = f"https://{host}:{ports['apiserver']}"
    files = realnode_mod.write_files(paths, pki, server, host, ports, sb.kubeconfig)
    cmds = realnode_mod.commands(bin_dir, paths, files, host)
    log = launcher.start("containerd", cmds["containerd"])
    alive = launcher.check_alive("containerd", log)

    def containerd_up() -> bool:
        if not (alive() and paths.containerd_socket.exists()):
            return False
        try:
            realnode_mod.ctr(paths, "version")
        except subprocess.CalledProcessError:
            return False
        return True

    _wait("containerd", containerd_up, 30, log)
    realnode_mod.ensure_pause_image(paths, bin_dir)
    for name in ("kubelet", "kube-proxy", "coredns"):
        launcher.start(name, cmds[name])

    def node_up(kubelet_alive: Callable[[], bool]) -> Callable[[], bool]:
        return lambda: kubelet_alive() and realnode_mod.node_ready(sb.kubeconfig)

    for attempt in range(3):
        try:
            _wait(
                "the real node Ready",
                node_up(launcher.check_alive("kubelet", sb.logs / "kubelet.log")),
                90,
                sb.logs / "kubelet.log",
            )
            break
        except SandboxError as e:
            # `ctr version` answers before containerd's CRI service is initialised; a kubelet
            # started in that gap exits at once ("server is not initialized yet"): start it again.
            if attempt == 2 or "server is not initialized yet" not in str(e):
                raise
            launcher.start("kubelet", cmds["kubelet"])
    alive = launcher.check_alive("coredns", sb.logs / "coredns.log")
    _wait(
        "CoreDNS",
        lambda: alive() and _http_ok(f"http://127.0.0.1:{ports['coredns_ready']}/ready"),
        30,
        sb.logs / "coredns.log",
    )
    realnode_mod.apply_storage(sb.kubeconfig, paths)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback http
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop_processes(sb: Sandbox, only: tuple[str, ...] | None = None) -> None:
    pids = {n: p for n, p in sb.pids().items() if only is None or n in only}
    # Reverse start order: clients first, etcd last.
    for name in reversed(sb.components()):
        pid = pids.get(name)
        if pid and _alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
    if _wait_gone(pids.values(), timeout=10):
        return
    for pid in pids.values():
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    # SIGKILL is delivered asynchronously: wait until the kernel has really ended them.
    if not _wait_gone(pids.values(), timeout=10):
        left = [p for p in pids.values() if _alive(p)]
        raise SandboxError(f"processes {left} survived SIGKILL")


def _wait_gone(pids: Iterable[int], timeout: float) -> bool:
    pending = list(pids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [p for p in pending if _alive(p)]
        if not pending:
            return True
        time.sleep(0.05)
    return not any(_alive(p) for p in pending)


def down(root: Path | None = None, quiet: bool = False) -> None:
    """Stop every process the sandbox started and remove its state directory."""
    sb = Sandbox(root or default_root())
    with _exclusive(sb.root):
        _down(sb, quiet)


def _down(sb: Sandbox, quiet: bool) -> None:
    if sb.state_file.exists():
        real_node = sb.has_real_node()
        bin_dir = Path(str(sb.state()["bin"]))
        tasks = 0
        if real_node:
            # The kubelet first, so it restarts nothing; then the containers, while containerd
            # can still stop them; then everything else.
            _stop_processes(sb, only=("kubelet",))
            tasks = realnode_mod.stop_tasks(sb.root)
        _stop_processes(sb)
        if real_node:
            removed = realnode_mod.cleanup(sb.root, bin_dir, tasks)
            if not quiet:
                _say(removed.describe())
    if sb.root.exists():
        realnode_mod.remove_tree(sb.root)
        if not quiet:
            _say(f"stopped; removed {sb.root}")
    elif not quiet:
        _say("not running")
