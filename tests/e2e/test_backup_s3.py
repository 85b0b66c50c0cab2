"""Issue 15, acceptance 2 on the real node: backups to S3-compatible object storage (S3Proxy on
the host, reached from the pods through the host's address), encrypted with age in the pod. An
on-demand backup uploads only ciphertext and its manifest, is verified (downloaded, decrypted,
restored into a throwaway Postgres); then the stack and its data volume are deleted and a new
stack with the same S3 target restores it (bootstrap.fromBackup)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import realnode
from tests.e2e.conftest import World, stack_manifest
from tests.e2e.flow import PASSWORD
from tests.e2e.test_backup import (
    BACKUP_TIMEOUT,
    back_up_now,
    backup_status,
    delete_stack_and_its_data,
    verified_by,
)
from tests.e2e.test_stack import client, wait_ready
from tests.operator.integration.support import STACK
from tests.support.s3server import S3Server, s3_server
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

BUCKET = "dimini-e2e"
PREFIX = "stacks/e2e"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server(listen="0.0.0.0", advertise=realnode.host_ip()) as server:  # noqa: S104
        server.make_bucket(BUCKET)
        yield server


def s3_target(s3: S3Server) -> dict[str, Any]:
    return {
        "endpoint": s3.endpoint,
        "bucket": BUCKET,
        "prefix": PREFIX,
        "credentialsSecretRef": {"name": "backup-s3"},
        "encryption": {"secretRef": {"name": "backup-age"}},
    }


def s3_manifest(world: World, s3: S3Server) -> dict[str, Any]:
    doc = stack_manifest(world.refs)
    doc["spec"]["postgres"]["backup"] = {
        "retention": {"count": 1},
        "target": {"s3": s3_target(s3)},
    }
    return doc


def test_on_demand_backup_to_s3_is_encrypted_and_verified(
    world: World, s3: S3Server, tmp_path: Path
) -> None:
    key = tmp_path / "identity"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    world.facts["age_identity"] = key.read_text()
    k = world.kubectl
    for name, data in (
        (
            "backup-s3",
            {"accessKeyId": s3.access_key_id, "secretAccessKey": s3.secret_access_key},
        ),
        ("backup-age", {"identity": key.read_text()}),
    ):
        k.apply(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}
        )
    k.apply(s3_manifest(world, s3))
    wait_ready(world)
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    with client(world) as c:
        c.register(email, PASSWORD, "Dr S3")
        c.login(email, PASSWORD)
        patient = c.create_patient("Pat S3", email="pat.s3@example.com")
    world.facts.update(email=email, patient=patient["id"])

    back_up_now(world, "s3-first")
    st = wait_for(
        "the S3 backup verified", lambda: verified_by(world, "s3-first"), BACKUP_TIMEOUT, 1
    )
    name = st["lastVerified"]["name"]
    objects = s3.list(f"{BUCKET}/{PREFIX}")
    assert objects == [f"{name}.dump.age", f"{name}.json", f"{name}.verified"]
    stored = s3.get(f"{BUCKET}/{PREFIX}/{name}.dump.age")
    assert stored.startswith(b"age-encryption.org/v1")
    manifest = json.loads(s3.get(f"{BUCKET}/{PREFIX}/{name}.json"))
    assert manifest["sha256"] == hashlib.sha256(stored).hexdigest() == st["lastVerified"]["sha256"]
    assert manifest["rowCounts"]["patients"] >= 1
    # No credential in the stack's status or the backup pods' logs.
    status = json.dumps((k.stack() or {}).get("status"))
    logs = k.run("logs", "-l", "app.kubernetes.io/component=backup", "--all-containers").stdout
    for secret in (s3.secret_access_key, "AGE-SECRET-KEY"):
        assert secret not in status and secret not in logs
    world.facts["backup"] = st["lastVerified"]


def test_a_new_stack_restores_from_s3(world: World, s3: S3Server) -> None:
    k = world.kubectl
    delete_stack_and_its_data(world)
    assert k.get("pvc", f"{STACK}-backups") is None, "an S3 target has no claim"
    doc = s3_manifest(world, s3)
    doc["spec"]["postgres"]["bootstrap"] = {"fromBackup": {}}
    k.apply(doc)
    wait_ready(world)
    assert backup_status(world).get("restoredFrom") == world.facts["backup"]["name"]
    with client(world) as c:
        c.login(world.facts["email"], PASSWORD)
        assert c.get_patient(world.facts["patient"])["name"] == "Pat S3"
