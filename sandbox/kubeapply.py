"""Installing a manifest set into the sandbox: server-side apply as one field manager, then
wait until what was installed is ready (the node's Traefik, its policy engine, CRDs)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from lightkube import Client, codecs
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition


def apply_all(client: Client, manifests: Iterable[dict[str, Any]], field_manager: str) -> None:
    """Server-side apply each manifest, taking over fields another manager set (force)."""
    for manifest in manifests:
        client.apply(codecs.from_dict(manifest), field_manager=field_manager, force=True)


def wait_until(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.2) -> None:
    """Poll `check` until it holds; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout}s")
        time.sleep(interval)


def install_crds(
    client: Client, manifests: list[dict[str, Any]], field_manager: str, timeout: float = 60
) -> None:
    """Server-side apply CRDs and wait until each is Established (served)."""
    apply_all(client, manifests, field_manager)
    names = [str(m["metadata"]["name"]) for m in manifests]
    wait_until(
        f"CRDs {', '.join(names)} not all Established",
        lambda: all(_established(client.get(CustomResourceDefinition, n)) for n in names),
        timeout,
    )


def _established(crd: CustomResourceDefinition) -> bool:
    conditions = (crd.status.conditions if crd.status else None) or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)
