"""Waiting for CustomResourceDefinitions the tests apply."""

from __future__ import annotations

import functools
import subprocess

from tests.support.waiting import wait_for

ESTABLISHED = "jsonpath={.status.conditions[?(@.type=='Established')].status}"


def wait_established(env: dict[str, str], *names: str, timeout: float = 60) -> None:
    """Until every named CRD is Established. Polled, not `kubectl wait`: right after the apply a
    CRD can have no conditions yet, and kubectl wait then fails at once (seen on a fresh
    sandbox)."""

    def established(name: str) -> bool:
        got = subprocess.run(
            ["kubectl", "get", "crd", name, "-o", ESTABLISHED],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return got.returncode == 0 and got.stdout.strip() == "True"

    for name in names:
        wait_for(f"CRD {name} Established", functools.partial(established, name), timeout)
