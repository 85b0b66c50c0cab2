"""`buildah bud` as every build here runs it: host network, the host's CA bundle, layer cache."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from images import cmd, config

# pip and npm read these system-wide config files; mounted only while RUN steps execute, so the
# images themselves carry no host configuration (the CA bundle is mounted over Debian's).
PIP_CONF = f"[global]\ncert = {config.HOST_CA_BUNDLE}\n"
# docker, not oci: keeps HEALTHCHECK (the OCI image config has no field for it).
FORMAT = "docker"
NPMRC = f"cafile={config.HOST_CA_BUNDLE}\nfund=false\naudit=false\nupdate-notifier=false\n"


def _mounts() -> list[str]:
    etc = config.cache_dir() / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "pip.conf").write_text(PIP_CONF)
    (etc / "npmrc").write_text(NPMRC)
    ca = config.HOST_CA_BUNDLE
    return [
        f"--volume={ca}:{ca}:ro",
        f"--volume={etc / 'pip.conf'}:/etc/pip.conf:ro",
        # npm's global config is $PREFIX/etc/npmrc; the node base's prefix is /usr/local.
        f"--volume={etc / 'npmrc'}:/usr/local/etc/npmrc:ro",
    ]


def bud(
    context: Path,
    dockerfile: Path,
    tags: Sequence[str],
    *,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> None:
    args = [
        "buildah",
        "bud",
        "--layers",
        "--network=host",
        "--pull=never",  # bases are local images; never ask a registry for them
        f"--format={FORMAT}",
        f"--file={dockerfile}",
        *_mounts(),
    ]
    for key, value in (build_args or {}).items():
        args.append(f"--build-arg={key}={value}")
    for key, value in (labels or {}).items():
        args.append(f"--label={key}={value}")
    if target:
        args.append(f"--target={target}")
    for ref in tags:
        args.append(f"--tag={ref}")
    cmd.run([*args, str(context)])
