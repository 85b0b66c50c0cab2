"""Shared fixtures: the Kubernetes sandbox, a throwaway Postgres 15 and the Chromium executable.

- `sandbox` (session): the local control plane (started if not running, see sandbox/).
- `kube` (session): a lightkube client for it.
- `real_sandbox`, `real_kube`, `real_namespace`: the same for the sandbox with a real node
  (marker `e2e`, `make e2e`).
- `namespace` (per test): a fresh namespace in the sandbox, deleted afterwards.
- `postgres` (session): a Postgres 15 server on a free loopback port.
- `database_url` (per module): a fresh database on it, as an asyncpg SQLAlchemy URL.
- `helm` (session): path of the helm binary built with the sandbox.
- `chromium` (session): path of Debian's Chromium for browser tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from sandbox import cluster, podprocs
from sandbox.nodes import client as sandbox_client
from tests.support.postgres import PostgresServer, start_postgres


def _running_sandbox(root: Path, nodes: int, real_node: bool) -> Iterator[cluster.Sandbox]:
    """Start the sandbox in `root` unless it runs (then leave it running); stop it afterwards
    unless DIMINI_SANDBOX_KEEP=1 (a faster next run)."""
    already_running = cluster.Sandbox(root).is_running()
    sb = cluster.up(root, nodes=nodes, real_node=real_node)
    yield sb
    if not already_running and not os.environ.get("DIMINI_SANDBOX_KEEP"):
        cluster.down(sb.root)
        if real_node:
            # Acceptance 0 of issue 16, after every `make e2e`: nothing of the pods runs on.
            left = podprocs.pod_pids()
            assert not left, f"container processes survived sandbox down: {sorted(left)}"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[cluster.Sandbox]:
    """The sandbox: control plane and simulated nodes."""
    yield from _running_sandbox(cluster.default_root(), nodes=2, real_node=False)


@pytest.fixture(scope="session")
def real_sandbox() -> Iterator[cluster.Sandbox]:
    """A second sandbox with a real node and no simulated ones (`make e2e`), in .sandbox-e2e."""
    yield from _running_sandbox(cluster.REPO / ".sandbox-e2e", nodes=0, real_node=True)


@pytest.fixture
def namespace(kube: Client) -> Iterator[str]:
    """A fresh namespace for one test; deleted afterwards (without waiting for it to go)."""
    yield from _fresh_namespace(kube, "t")


@pytest.fixture
def real_namespace(real_kube: Client) -> Iterator[str]:
    """A fresh namespace in the real-node sandbox, deleted afterwards."""
    yield from _fresh_namespace(real_kube, "e")


def _fresh_namespace(kube: Client, prefix: str) -> Iterator[str]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    kube.create(Namespace(metadata=ObjectMeta(name=name, labels={"dimini.io/test": "true"})))
    yield name
    kube.delete(Namespace, name)


@pytest.fixture(scope="session")
def real_kube(real_sandbox: cluster.Sandbox) -> Client:
    """A lightkube client for the real-node sandbox (admin)."""
    return sandbox_client(real_sandbox)


@pytest.fixture(scope="session")
def kube(sandbox: cluster.Sandbox) -> Client:
    """A lightkube client for the sandbox (admin)."""
    return sandbox_client(sandbox)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def database_url(postgres: PostgresServer) -> Iterator[str]:
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def helm() -> str:
    """The helm binary built with the sandbox's binaries."""
    return str(cluster.binaries() / "helm")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"Chromium not found at {path}: apt-get install chromium")
    return path
