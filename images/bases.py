"""The base images, built locally and cached by recipe hash: Debian, Python 3.11, Node LTS."""

from __future__ import annotations

from pathlib import Path

from images import cmd, config, debian, node_dist
from images.bud import bud
from images.log import say, step
from images.recipe import recipe_hash


def _derived(ref: str, dockerfile: Path, context: Path, extra: list[str], what: str) -> str:
    """Build `ref` FROM the Debian base unless an image with the same recipe exists."""
    parent = debian.ensure()
    parent_id = cmd.image_id(parent) or ""
    wanted = recipe_hash([parent_id, dockerfile.read_text(), *extra])
    if cmd.image_label(ref, config.RECIPE_LABEL) == wanted:
        say(f"{ref}: cached")
        return ref
    with step(f"{ref}: {what}"):
        bud(
            context,
            dockerfile,
            [ref],
            build_args={"DEBIAN_IMAGE": parent},
            labels={config.RECIPE_LABEL: wanted},
        )
    return ref


def python() -> str:
    dockerfile = config.DOCKERFILES / "base-python.Dockerfile"
    return _derived(
        config.BASE_PYTHON, dockerfile, config.DOCKERFILES, [], "apt python3 (cold: ~1 min)"
    )


def node() -> str:
    dockerfile = config.DOCKERFILES / "base-node.Dockerfile"
    context = node_dist.stage_context()
    versions = [node_dist.node_package(), node_dist.npm_package()]
    return _derived(config.BASE_NODE, dockerfile, context, versions, "node + npm (cold: ~1 min)")


def ensure(name: str) -> str:
    """The base image's ref by short name: debian, python or node."""
    builders = {"debian": debian.ensure, "python": python, "node": node}
    return builders[name]()
