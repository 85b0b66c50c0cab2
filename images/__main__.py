"""`python -m images build|load|list [name ...]`: refs go to stdout, progress to stderr."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from images import cmd
from images import project as builder
from images.load import load as load_image
from images.log import say


def _names(given: list[str]) -> list[str]:
    unknown = set(given) - set(builder.IMAGES)
    if unknown:
        raise SystemExit(f"unknown image(s): {', '.join(sorted(unknown))}; see `list`")
    return given or list(builder.IMAGES)


def _build(names: list[str]) -> list[str]:
    refs = []
    for name in names:
        start = time.monotonic()
        refs.append(builder.build(name))
        say(f"{name}: {time.monotonic() - start:.1f} s")
    return refs


def _sandbox_socket() -> Path | None:
    """The sandbox's real-node containerd socket (sandbox/cluster.py), if the sandbox has one."""
    try:
        from sandbox import cluster
    except ImportError:
        return None
    return cluster.Sandbox(cluster.default_root()).containerd_socket


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m images", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("build", "load"):
        p = sub.add_parser(command, help=f"{command} images (default: all)")
        p.add_argument("names", nargs="*", metavar="name")
        if command == "load":
            p.add_argument(
                "--address", type=Path, help="containerd socket (default: the sandbox's)"
            )
            p.add_argument(
                "--if-running", action="store_true", help="no socket: say so and succeed"
            )
    sub.add_parser("list", help="the images and their current refs")
    args = parser.parse_args(argv)

    if args.command == "list":
        for name, image in builder.IMAGES.items():
            aliases = ", ".join(f"{image.repository}:{a}" for a in image.aliases)
            print(f"{name}\t{aliases}\t(base {image.base}; context {image.context})")
        return 0
    names = _names(args.names)
    address: Path | None = None
    if args.command == "load":
        address = args.address or _sandbox_socket()
        if address is None or not address.is_socket():
            if args.if_running:
                say(f"no containerd socket at {address}: images built, not loaded")
                address = None
            else:
                raise SystemExit(f"no containerd socket at {address}")
    refs = _build(names)
    if address is not None:
        for name, ref in zip(names, refs, strict=True):
            image = builder.IMAGES[name]
            load_image(ref, address, [f"{image.repository}:{a}" for a in image.aliases])
    for ref in refs:
        print(ref)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except cmd.CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
