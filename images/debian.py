"""The Debian bookworm base: debootstrap minbase straight into a buildah scratch container."""

from __future__ import annotations

import shutil
from pathlib import Path

from images import cmd, config
from images.log import say, step
from images.recipe import recipe_hash

# Priority-required packages plus what the python:3.11-slim image also has and our images use.
INCLUDE = ["ca-certificates", "netbase"]

# Like Debian's official images: no docs, man pages or locales installed later; no recommends.
DPKG_EXCLUDES = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
"""
APT_CONF = """\
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
"""
SOURCES = f"""\
Types: deb
URIs: {config.DEBIAN_MIRROR}
Suites: {config.DEBIAN_SUITE} {config.DEBIAN_SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {config.DEBIAN_SECURITY_MIRROR}
Suites: {config.DEBIAN_SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# Removed after debootstrap: package lists, caches, logs and the files that are per host.
PRUNE = [
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/debconf/*-old",
    "var/log",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "etc/apt/sources.list",
    "etc/hostname",
    "etc/resolv.conf",
]
# Bump to force a rebuild when the steps below change in a way the texts above do not show.
STEPS_VERSION = "1"


def recipe() -> str:
    return recipe_hash(
        [
            STEPS_VERSION,
            config.DEBIAN_SUITE,
            config.DEBIAN_MIRROR,
            ",".join(INCLUDE),
            DPKG_EXCLUDES,
            APT_CONF,
            SOURCES,
            *PRUNE,
        ]
    )


def ensure() -> str:
    """Build localhost/dimini/base-debian:bookworm unless one with this recipe exists."""
    ref = config.BASE_DEBIAN
    wanted = recipe()
    if cmd.image_label(ref, config.RECIPE_LABEL) == wanted:
        say(f"{ref}: cached")
        return ref
    with step(f"{ref}: debootstrap {config.DEBIAN_SUITE} minbase (cold: 1-4 min)"):
        _build(ref, wanted)
    return ref


def _build(ref: str, wanted: str) -> None:
    container = cmd.output(["buildah", "from", "scratch"])
    try:
        root = Path(cmd.output(["buildah", "mount", container]))
        debs = config.cache_dir() / "debs"
        debs.mkdir(exist_ok=True)
        cmd.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(INCLUDE)}",
                f"--cache-dir={debs}",
                config.DEBIAN_SUITE,
                str(root),
                config.DEBIAN_MIRROR,
            ],
            quiet=True,
        )
        _configure(root)
        cmd.run(["buildah", "umount", container], quiet=True)
        cmd.run(
            [
                "buildah",
                "config",
                "--env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env",
                "LANG=C.UTF-8",
                "--cmd",
                "bash",
                "--label",
                f"{config.RECIPE_LABEL}={wanted}",
                container,
            ],
            quiet=True,
        )
        cmd.run(["buildah", "commit", "--rm", "--quiet", container, ref], quiet=True)
    except BaseException:
        cmd.run(["buildah", "rm", container], quiet=True)
        raise


def _configure(root: Path) -> None:
    (root / "etc/dpkg/dpkg.cfg.d/01-dimini-minimal").write_text(DPKG_EXCLUDES)
    (root / "etc/apt/apt.conf.d/01-dimini-minimal").write_text(APT_CONF)
    for pattern in PRUNE:
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    # apt and dpkg expect these to exist; images get /etc/resolv.conf and hostname at run time.
    for directory in ["var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/log"]:
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(SOURCES)
    (root / "etc/machine-id").write_text("")
