"""Traefik as a local image: the static binary from build.sh plus the Dockerfile next to this file.

binary()   build (or reuse) the binary; its path
context()  a temporary build context: Dockerfile, traefik, ca-certificates.crt
build()    buildah the image IMAGE from that context; returns the reference
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Must equal TRAEFIK_VERSION's default in build.sh (a unit test checks); passed to it explicitly.
VERSION = "v3.6.12"
IMAGE = f"localhost/dimini/traefik:{VERSION}"
# Debian's bundle (package ca-certificates); the image needs one for ACME and HTTPS backends.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def binary() -> Path:
    """The static Traefik binary, built on first use (minutes) and cached per version."""
    out = subprocess.run(
        ["bash", str(HERE / "build.sh")],
        env={**os.environ, "TRAEFIK_VERSION": VERSION},
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


@contextmanager
def context() -> Iterator[Path]:
    """A build context for HERE/Dockerfile, removed on exit (the binary is ~100 MB: hard-linked
    when the cache and the temp dir share a file system)."""
    if not CA_BUNDLE.is_file():
        raise FileNotFoundError(f"{CA_BUNDLE} missing: apt-get install ca-certificates")
    exe = binary()
    with tempfile.TemporaryDirectory(prefix="dimini-traefik-") as tmp:
        ctx = Path(tmp)
        try:
            os.link(exe, ctx / "traefik")
        except OSError:
            shutil.copy2(exe, ctx / "traefik")
        shutil.copyfile(CA_BUNDLE, ctx / "ca-certificates.crt")
        shutil.copyfile(HERE / "Dockerfile", ctx / "Dockerfile")
        yield ctx


def build(image: str = IMAGE, base: str = "scratch") -> str:
    """Build the image with buildah into local containers-storage; returns its reference."""
    with context() as ctx:
        subprocess.run(
            [
                "buildah",
                "build",
                "--quiet",
                f"--build-arg=BASE={base}",
                f"--build-arg=VERSION={VERSION}",
                "--tag",
                image,
                str(ctx),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return image
