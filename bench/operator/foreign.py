"""Acceptance 3: a cluster-wide operator's memory beside thousands of objects it does not own.

    .venv/bin/python bench/operator/foreign.py            # 5,000 Secrets, 2,000 ConfigMaps and
                                                          # 2,000 Deployments (replicas 0)
    options: --secrets N --configmaps N --deployments N --settle-seconds 20

Starts the sandbox if needed (never stops it). Runs the operator cluster-wide (no --namespace)
twice in the same run: first with no foreign objects (the floor), then after creating the
foreign objects in a namespace of its own (`bench-op-<id>-foreign`, deleted at the end). Prints
each operator's peak RSS (VmHWM) after its initial lists and a settle window, the floor, the
ratio, and the target (< 150 MiB). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.operator.measure import Bench, line, load, vm_hwm_mib  # noqa: E402
from sandbox import cluster  # noqa: E402
from sandbox.nodes import client as sandbox_client  # noqa: E402
from tests.operator.integration.support import CRD_FILE, Kubectl, Operator  # noqa: E402

PAYLOAD = base64.b64encode(b"x" * 1024).decode()  # 1 KiB per Secret, like a small certificate


def foreign_objects(secrets: int, configmaps: int, deployments: int) -> list[dict[str, object]]:
    labels = {"app.kubernetes.io/name": "someone-else"}
    out: list[dict[str, object]] = []
    out += [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"foreign-{i}", "labels": labels},
            "data": {"tls.crt": PAYLOAD},
        }
        for i in range(secrets)
    ]
    out += [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"foreign-{i}", "labels": labels},
            "data": {"config": "y" * 512},
        }
        for i in range(configmaps)
    ]
    selector = {"app": "foreign"}
    out += [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"foreign-{i}", "labels": labels},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": selector},
                    "spec": {"containers": [{"name": "c", "image": "registry.local/none:1"}]},
                },
            },
        }
        for i in range(deployments)
    ]
    return out


def peak_after_start(b: Bench, log_name: str, settle_seconds: float) -> float:
    op = Operator(b.env, log_name, cluster_wide=True)
    b.operators.append(op)
    op.start()
    # kopf lists every watched kind after startup; give it the settle window to finish.
    time.sleep(settle_seconds)
    peak = vm_hwm_mib(op)
    op.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--secrets", type=int, default=5000)
    parser.add_argument("--configmaps", type=int, default=2000)
    parser.add_argument("--deployments", type=int, default=2000)
    parser.add_argument("--settle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    sb = cluster.up()
    b = Bench(sb, sandbox_client(sb), sb.env())
    try:
        k = Kubectl(b.env, "default")
        k.run("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE), namespaced=False)
        print(f"cluster-wide operator beside foreign objects, {load()}")
        floor = peak_after_start(b, f"bench-op-{b.run_id}-floor", args.settle_seconds)
        ns = b.namespace("-foreign")
        docs = foreign_objects(args.secrets, args.configmaps, args.deployments)
        for start in range(0, len(docs), 500):
            b.kubectl_apply(ns, docs[start : start + 500], "--server-side")
        figure = peak_after_start(b, f"{ns}-op", args.settle_seconds)
        what = (
            f"{args.secrets} Secrets, {args.configmaps} ConfigMaps, {args.deployments} Deployments"
        )
        line("peak RSS, empty cluster (floor)", f"{floor:.1f} MiB")
        line(f"peak RSS beside {what}", f"{figure:.1f} MiB", "< 150 MiB")
        line("ratio to the floor", f"{figure / floor:.2f}x", "~1 (the API server filters)")
        print(f"done, {load()}")
    finally:
        b.cleanup()


if __name__ == "__main__":
    main()
