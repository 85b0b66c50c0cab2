"""The project's images: buildah bud of their own Dockerfiles FROM the local bases.

Each image gets a content tag (hash of the build context, the Dockerfile, the base image ID and
the target) and an alias (`dev`, or `15` for Postgres). An image whose content tag exists is not
rebuilt, so a warm `build` costs a hash of the context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from images import bases, cmd, config, context
from images.bud import FORMAT, bud
from images.log import say, step


@dataclass(frozen=True)
class Image:
    name: str
    context: Path
    base: str  # bases.ensure() name
    base_arg: str  # the Dockerfile's ARG naming its base image
    target: str | None
    aliases: tuple[str, ...] = ("dev",)
    cold: str = ""
    build_args: Mapping[str, str] = field(default_factory=dict)

    @property
    def repository(self) -> str:
        return f"{config.REGISTRY}/{self.name}"


IMAGES: dict[str, Image] = {
    image.name: image
    for image in [
        Image("backend", config.REPO / "backend", "python", "PYTHON_IMAGE", "production",
              cold="pip install, ~1-2 min"),
        Image("frontend", config.REPO / "frontend", "node", "NODE_IMAGE", "production",
              cold="npm ci + next build, ~3-5 min"),
        Image("operator", config.REPO / "operator", "python", "PYTHON_IMAGE", None,
              cold="pip install, ~1 min"),
        Image("postgres", config.PACKAGE_DIR / "postgres", "debian", "DEBIAN_IMAGE", None,
              aliases=("15",), cold="apt postgresql-15, ~1 min"),
    ]
}  # fmt: skip

TAG_LENGTH = 12
# The Dockerfile stages the developer loop runs (`python -m images tilt`): reloaders, dev servers.
DEV_TARGETS = {"backend": "dev", "frontend": "dev"}


def dev_image(name: str) -> Image:
    """Image `name` as the developer loop builds it: its dev stage, no alias (aliases name the
    production images the e2e tests and the chart use)."""
    image = IMAGES[name]
    target = DEV_TARGETS.get(name, image.target)
    return replace(image, target=target, aliases=()) if target != image.target else image


def content_tag(image: Image, base_ref: str, extra_files: Mapping[str, str] | None = None) -> str:
    """Hash of what the build reads: context files, extra files, base image ID, target, args."""
    base_id = cmd.image_id(base_ref) or ""
    inputs = [
        FORMAT,
        base_id,
        image.target or "",
        *sorted(f"{k}={v}" for k, v in image.build_args.items()),
    ]
    return context.digest(image.context, extra_files or {}, *inputs)[:TAG_LENGTH]


def build(name: str, extra_files: Mapping[str, str] | None = None, *, dev: bool = False) -> str:
    """Build (or reuse) image `name`; return its content-tagged ref.

    `extra_files` ({path in the context: text}) are added to a staged copy of the context, e.g. an
    extra Alembic migration for an "upgrade" backend image; they change the tag, and such builds
    get no alias. `dev`: the developer loop's stage (dev_image).
    """
    image = dev_image(name) if dev else IMAGES[name]
    extra = dict(extra_files or {})
    base_ref = bases.ensure(image.base)
    tag = content_tag(image, base_ref, extra)
    ref = f"{image.repository}:{tag}"
    aliases = [] if extra else [f"{image.repository}:{alias}" for alias in image.aliases]
    if cmd.image_id(ref) is not None:
        say(f"{ref}: cached")
    else:
        build_context = context.stage(name, image.context, extra, tag) if extra else image.context
        with step(f"{ref}: build (cold: {image.cold})"):
            bud(
                build_context,
                build_context / "Dockerfile",
                [ref],
                build_args={image.base_arg: base_ref, **image.build_args},
                target=image.target,
            )
    if aliases:
        cmd.tag(ref, *aliases)
    say(f"{ref} ({cmd.image_size(ref)}){''.join(f', {a}' for a in aliases)}")
    return ref
