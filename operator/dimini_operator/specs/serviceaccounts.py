"""One ServiceAccount per component, without API token automount."""

from __future__ import annotations

from dimini_operator.specs.common import Manifest, Stack, metadata

COMPONENTS = ("postgres", "backend", "frontend")


def render(stack: Stack) -> list[Manifest]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(stack, stack.child(component), component),
            "automountServiceAccountToken": False,
        }
        for component in COMPONENTS
    ]
