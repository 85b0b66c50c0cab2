"""Subprocess and buildah helpers; output of long commands streams to stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence


class CommandError(RuntimeError):
    pass


def run(args: Sequence[str], *, quiet: bool = False) -> None:
    """Run a command; its output goes to stderr (stdout of `python -m images` stays for refs)."""
    proc = subprocess.run(
        list(args),
        stdout=subprocess.DEVNULL if quiet else sys.stderr,
        stderr=subprocess.PIPE if quiet else sys.stderr,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = f": {proc.stderr.strip()[-2000:]}" if quiet and proc.stderr else ""
        raise CommandError(f"{' '.join(args)} exited with {proc.returncode}{detail}")


def output(args: Sequence[str]) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CommandError(f"{' '.join(args)} exited with {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def image_id(ref: str) -> str | None:
    """The full image ID of `ref` in buildah's storage, or None when there is no such image."""
    proc = subprocess.run(
        ["buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}", ref],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def image_label(ref: str, label: str) -> str | None:
    if image_id(ref) is None:
        return None
    value = output(
        [
            "buildah",
            "inspect",
            "--type",
            "image",
            "--format",
            f'{{{{index .OCIv1.Config.Labels "{label}"}}}}',
            ref,
        ]
    )
    return value if value and value != "<no value>" else None


def image_size(ref: str) -> str:
    """Size of the image as buildah reports it (uncompressed layers, human-readable)."""
    listing = json.loads(output(["buildah", "images", "--json", ref]))
    return str(listing[0]["size"]) if listing else "?"


def tag(ref: str, *aliases: str) -> None:
    run(["buildah", "tag", ref, *aliases], quiet=True)
