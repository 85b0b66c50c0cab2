"""`python -m dimini_operator`: run the operator against the current kubeconfig.

Subcommands: `run` (default), `crd` (print the CRD YAML), `render FILE` (print the objects a
DiminiStack renders to, for inspection or `kubectl apply --server-side`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

import yaml


def _run(args: argparse.Namespace) -> int:
    import kopf

    from dimini_operator.handlers import operator
    from dimini_operator.metrics import start_metrics_server

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpx2", "kopf.objects", "kopf.activities.probe"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not args.verbose:
        logging.getLogger("kopf").setLevel(logging.WARNING)
    operator.CONFIG["resync"] = args.resync_seconds
    operator.CONFIG["concurrency"] = args.concurrency
    operator.CONFIG["namespaces"] = list(args.namespace or [])
    # The Lease lives where the operator may write: its first watched namespace, or (cluster
    # scope) its own (POD_NAMESPACE from the downward API in the chart).
    operator.CONFIG["lease_namespace"] = args.lease_namespace or (
        args.namespace[0] if args.namespace else os.environ.get("POD_NAMESPACE", "default")
    )
    if args.metrics_port:
        start_metrics_server(args.metrics_port, args.bind)
    liveness = f"http://{args.bind}:{args.liveness_port}/healthz" if args.liveness_port else None
    namespaces = args.namespace or []
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=liveness,
    )
    return 0


# Not a credential: what `render` puts where the operator generates one. Long enough for the
# backend's SECRET_KEY rule (32 characters), so the rendered pods start.
PLACEHOLDER = "rendered-placeholder-generated-by-the-operator"


def _render(args: argparse.Namespace) -> int:
    from dimini_operator import yamlout
    from dimini_operator.specs.common import Stack
    from dimini_operator.specs.defaults import parse_spec
    from dimini_operator.specs.migration import render as render_job
    from dimini_operator.specs.plan import Observed, render

    docs: list[dict[str, Any]] = []
    with open(args.file, encoding="utf-8") as fh:
        for body in yaml.safe_load_all(fh):
            if not body or body.get("kind") != "DiminiStack":
                continue
            meta = body["metadata"]
            stack = Stack(
                name=meta["name"],
                namespace=args.namespace or meta.get("namespace", "default"),
                uid=args.uid,
                generation=1,
                spec=parse_spec(body["spec"]),
            )
            observed = Observed(
                db_password=PLACEHOLDER,
                secret_key=PLACEHOLDER,
                applied_image=stack.spec.backend.image,
            )
            plan = render(stack, observed)
            # The created-once objects too (the `-db` and `-app` Secrets, with the placeholders
            # above): without them the render's pods would not start.
            docs.extend(plan.apply + plan.create_only)
            if args.with_job:
                docs.append(render_job(stack, stack.spec.backend.image))
    yamlout.dump_all(docs, sys.stdout)
    return 0


def _crd(_: argparse.Namespace) -> int:
    from dimini_operator.crd import crd_yaml

    sys.stdout.write(crd_yaml())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dimini_operator", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the operator (default)")
    for p in (parser, run):
        p.add_argument(
            "--namespace",
            "-n",
            action="append",
            help="watch only this namespace (repeatable); default: cluster-wide",
        )
        p.add_argument(
            "--lease-namespace",
            default=None,
            help="namespace of the leader-election Lease `dimini-operator` (default: the first "
            "--namespace, else $POD_NAMESPACE, else default)",
        )
        p.add_argument(
            "--metrics-port",
            type=int,
            default=8080,
            help="Prometheus metrics port (0 disables; default 8080)",
        )
        p.add_argument(
            "--liveness-port",
            type=int,
            default=8081,
            help="liveness endpoint port, path /healthz (0 disables; default 8081)",
        )
        p.add_argument(
            "--bind",
            default="127.0.0.1",
            help="address for metrics and liveness (0.0.0.0 in a pod)",
        )
        p.add_argument(
            "--resync-seconds",
            type=float,
            default=300.0,
            help="safety timer: reconcile every stack at least this often",
        )
        p.add_argument(
            "--concurrency",
            type=int,
            default=8,
            help="stacks reconciled in parallel at most (default 8)",
        )
        p.add_argument("--verbose", "-v", action="store_true")
    sub.add_parser("crd", help="print the CustomResourceDefinition YAML")
    rend = sub.add_parser("render", help="print the objects a DiminiStack YAML renders to")
    rend.add_argument("file")
    rend.add_argument("--namespace", default=None)
    rend.add_argument("--uid", default="00000000-0000-0000-0000-000000000000")
    rend.add_argument("--with-job", action="store_true", help="include the migration Job")
    args = parser.parse_args(argv)
    if args.command == "crd":
        return _crd(args)
    if args.command == "render":
        return _render(args)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
