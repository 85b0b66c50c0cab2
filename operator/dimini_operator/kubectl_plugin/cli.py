"""Argument parsing and the subcommands of `kubectl dimini`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dimini_operator import crd, yamlout
from dimini_operator.kubectl_plugin import ondemand, restore, shell, table
from dimini_operator.kubectl_plugin.cluster import (
    ALL_NAMESPACES,
    Cluster,
    as_stack,
    kubectl,
    run_kubectl,
    selector,
)
from dimini_operator.kubectl_plugin.errors import PluginError
from dimini_operator.specs.backup import BACKUP_NOW_ANNOTATION, RESTORE_IN_PLACE_ANNOTATION

DESCRIPTION = f"""Inspect and operate {crd.KIND}s ({crd.CRD_NAME}): health, backups, restore,
psql and logs. Talks to the cluster of the current kubeconfig context."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubectl dimini", description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_, description=help_)
        c.add_argument("-n", "--namespace", help="namespace (default: the context's)")
        return c

    st = command("status", "health of a stack, or one line per stack")
    st.add_argument("stack", nargs="?", help="stack name (default: every stack)")
    st.add_argument("-A", "--all-namespaces", action="store_true", help="stacks of every namespace")

    bk = command("backup", "request an on-demand backup (docs/backup.md)")
    bk.add_argument("stack")
    bk.add_argument("--wait", action="store_true", help="wait until it is verified or failed")
    bk.add_argument("--timeout", type=float, default=3600, help="seconds to wait (default 3600)")

    rs = command(
        "restore", "create a new stack from a stack's backup, or restore the stack in place"
    )
    rs.add_argument("stack", help="the stack whose backups to restore")
    rs.add_argument(
        "--from-backup", metavar="NAME", help="backup name (default: the last verified one)"
    )
    where = rs.add_mutually_exclusive_group(required=True)
    where.add_argument("--into", metavar="NEWSTACK", help="the new stack's name")
    where.add_argument(
        "--in-place",
        action="store_true",
        help="restore into the stack's own database: safety backup, backend stopped, restore, "
        "migration, backend started (docs/backup.md, Restoring in place)",
    )
    rs.add_argument("--claim", help="claim holding the backups (default: <stack>-backups)")
    rs.add_argument("--dry-run", action="store_true", help="print the new stack's YAML only")

    ps = command("psql", "psql in the stack's Postgres pod: kubectl dimini psql STACK -- ARGS")
    ps.add_argument("stack")

    lg = command("logs", "logs of the stack's pods")
    lg.add_argument("stack")
    lg.add_argument("--component", choices=[*shell.COMPONENTS, shell.OPERATOR])
    lg.add_argument("-f", "--follow", action="store_true")
    lg.add_argument("--tail", type=int, help="lines per container")
    lg.add_argument("--operator-namespace", help="where the operator runs (default: found)")
    return p


def _status(args: argparse.Namespace) -> int:
    if args.stack and args.all_namespaces:
        raise PluginError("a STACK is in one namespace: name it with -n, not -A")
    cluster = Cluster(args.namespace)
    if args.stack:
        obj = cluster.stack(args.stack)
        sys.stdout.write(table.stack_report(obj, cluster.stack_pods(args.stack)))
        return 0
    stacks = cluster.stacks(all_namespaces=args.all_namespaces)
    if not stacks:
        where = "any namespace" if args.all_namespaces else f"namespace {cluster.namespace!r}"
        raise PluginError(f"no {crd.KIND}s in {where}")
    sys.stdout.write(table.stacks_table(stacks, with_namespace=args.all_namespaces))
    return 0


def _backup(args: argparse.Namespace) -> int:
    cluster = Cluster(args.namespace)
    req = ondemand.request(cluster, args.stack)
    print(f"backup requested ({BACKUP_NOW_ANNOTATION}={req.value}): Job {req.job}")
    if args.wait:
        print(ondemand.wait(cluster, args.stack, req, args.timeout))
    return 0


def _restore(args: argparse.Namespace) -> int:
    if args.in_place and (args.claim or args.dry_run):
        raise PluginError("--in-place restores from the stack's own target: no --claim, --dry-run")
    cluster = Cluster(args.namespace)
    if args.in_place:
        req = restore.in_place(cluster, args.stack, args.from_backup)
        print(
            f"restore in place of {req.backup} requested ({RESTORE_IN_PLACE_ANNOTATION}="
            f"{req.value}): a safety backup first, then the backend stops until the restore and "
            f"migration are done; follow it with: kubectl dimini status {args.stack} "
            f"-n {cluster.namespace}"
        )
        return 0
    if args.into == args.stack:
        raise PluginError(restore.IN_PLACE)
    obj = cluster.stack(args.stack)
    name = restore.source_backup(obj, args.from_backup)
    doc = restore.new_stack(obj, args.into, name, args.claim)
    for warning in restore.warnings(doc):
        print(f"warning: {warning}", file=sys.stderr)
    if args.dry_run:
        sys.stdout.write(yamlout.dump_all([doc]) or "")
        return 0
    if any(o["metadata"]["name"] == args.into for o in cluster.stacks()):
        raise PluginError(f"{crd.KIND} {args.into!r} exists already: --into names a new stack")
    cluster.create_stack(doc)
    print(
        f"created {crd.KIND} {args.into!r} restoring backup {name} before its first migration; "
        f"follow it with: kubectl dimini status {args.into} -n {cluster.namespace}"
    )
    return 0


def _psql(args: argparse.Namespace) -> int:
    kubectl()
    cluster = Cluster(args.namespace)
    stack = as_stack(cluster.stack(args.stack))
    argv = shell.psql_argv(stack, shell.postgres_pod(stack), args.extra, tty=sys.stdin.isatty())
    run_kubectl(argv)


def _operator_namespace(cluster: Cluster, given: str | None) -> str:
    if given:
        return given
    try:
        pods = cluster.pods(shell.OPERATOR_LABELS, namespace=ALL_NAMESPACES)
    except PluginError as exc:
        raise PluginError(f"{exc}; name it with --operator-namespace") from None
    if not pods:
        raise PluginError(
            "no operator pod found (a chart install labels it "
            f"{selector(shell.OPERATOR_LABELS)}); name it with --operator-namespace"
        )
    return str(pods[0]["metadata"]["namespace"])


def _logs(args: argparse.Namespace) -> int:
    kubectl()
    cluster = Cluster(args.namespace)
    stack = as_stack(cluster.stack(args.stack))
    op_ns = None
    if args.component == shell.OPERATOR:
        op_ns = _operator_namespace(cluster, args.operator_namespace)
    run_kubectl(shell.logs_argv(stack, args.component, args.follow, args.tail, op_ns))


COMMANDS = {
    "status": _status,
    "backup": _backup,
    "restore": _restore,
    "psql": _psql,
    "logs": _logs,
}


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is psql's (split first: options may follow the stack name).
    extra: list[str] = []
    if "--" in words:
        cut = words.index("--")
        words, extra = words[:cut], words[cut + 1 :]
    parser = _parser()
    args = parser.parse_args(words)
    if extra and args.command != "psql":
        parser.error(f"{args.command} takes no arguments after --")
    args.extra = extra
    try:
        return COMMANDS[args.command](args)
    except PluginError as exc:
        print(f"kubectl dimini {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
