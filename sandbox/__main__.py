"""`python -m sandbox up|down|status|build` — see sandbox/__init__.py."""

from __future__ import annotations

import argparse
import sys

from sandbox import cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the control plane + KWOK; writes .sandbox/kubeconfig")
    up.add_argument("--nodes", type=int, default=2, help="simulated nodes (default 2)")
    up.add_argument(
        "--real-node",
        action="store_true",
        help="also run a real node (containerd, kubelet, kube-proxy, CoreDNS) so pods really run",
    )
    sub.add_parser("down", help="stop every sandbox process and remove its state")
    sub.add_parser("status", help="say whether the sandbox is running")
    sub.add_parser("build", help="build or reuse the control-plane binaries; print their dir")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            cluster.up(nodes=args.nodes, real_node=args.real_node)
        elif args.command == "down":
            cluster.down()
        elif args.command == "build":
            print(cluster.binaries())
        else:
            sb = cluster.Sandbox(cluster.default_root())
            running = sb.is_running()
            print(f"running; KUBECONFIG={sb.kubeconfig}" if running else "not running")
            return 0 if running else 1
    except cluster.SandboxError as e:
        print(f"sandbox: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
