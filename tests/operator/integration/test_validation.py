"""Acceptance 5: invalid specs are refused by the API server, naming the field."""

from __future__ import annotations

import copy
import json
import subprocess
from typing import Any

import pytest

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import STACK, sample

pytestmark = pytest.mark.sandbox


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    target = out
    keys = path.split(".")
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value
    return out


S3_TARGET = {
    "endpoint": "https://s3.example.com",
    "bucket": "dimini-backups",
    "credentialsSecretRef": {"name": "backup-s3"},
    "encryption": {"secretRef": {"name": "backup-age"}},
}
EXACTLY_ONE_TARGET = "spec.postgres.backup.target needs exactly one of pvc or s3"

# (what, path in the object, bad value, text the error must contain)
INVALID_CREATES = [
    (
        "backup target with both pvc and s3",
        "spec.postgres.backup",
        {"target": {"pvc": {}, "s3": S3_TARGET}},
        EXACTLY_ONE_TARGET,
    ),
    ("backup target with neither", "spec.postgres.backup", {"target": {}}, EXACTLY_ONE_TARGET),
    (
        "s3 target without encryption",
        "spec.postgres.backup.target",
        {"s3": {k: v for k, v in S3_TARGET.items() if k != "encryption"}},
        "spec.postgres.backup.target.s3.encryption",
    ),
    (
        "s3 endpoint not a URL",
        "spec.postgres.backup.target",
        {"s3": {**S3_TARGET, "endpoint": "s3.example.com"}},
        "spec.postgres.backup.target.s3.endpoint",
    ),
    ("negative replicas", "spec.backend.replicas", -1, "spec.backend.replicas"),
    ("zero frontend replicas", "spec.frontend.replicas", 0, "spec.frontend.replicas"),
    ("host not a DNS name", "spec.ingress.host", "Not_A_Host!", "spec.ingress.host"),
    ("unknown mode", "spec.mode", "staging", "spec.mode"),
    ("unknown deletion policy", "spec.deletionPolicy", "Keep", "spec.deletionPolicy"),
    (
        "path shadowing /api",
        "spec.ingress.extraPaths",
        [{"path": "/api/v2"}],
        "spec.ingress.extraPaths",
    ),
    (
        "path shadowing /socket.io",
        "spec.ingress.extraPaths",
        [{"path": "/socket.io"}],
        "spec.ingress.extraPaths",
    ),
    ("malformed storage size", "spec.postgres.storage.size", "lots", "spec.postgres.storage.size"),
    (
        "autoscaling min > max",
        "spec.backend.autoscaling",
        {"enabled": True, "minReplicas": 5, "maxReplicas": 2},
        "spec.backend.autoscaling.minReplicas",
    ),
    (
        "similarity above 1",
        "spec.config.similarityThreshold",
        1.5,
        "spec.config.similarityThreshold",
    ),
    ("unknown log level", "spec.config.logLevel", "verbose", "spec.config.logLevel"),
    (
        "managed env var",
        "spec.backend.env",
        [{"name": "DATABASE_URL", "value": "x"}],
        "spec.backend.env",
    ),
    ("missing backend image", "spec.backend", {"replicas": 1}, "spec.backend.image"),
    ("bad database name", "spec.postgres.database", "Robert'); DROP", "spec.postgres.database"),
    (
        "tunnel without its token and host",
        "spec.tunnel",
        {"enabled": True},
        "spec.tunnel.publicHostname",
    ),
]

# (what, merge patch, text the error must contain) applied to an existing stack
INVALID_UPDATES = [
    (
        "database name is immutable",
        {"spec": {"postgres": {"database": "other"}}},
        "spec.postgres.database",
    ),
    (
        "storage class is immutable",
        {"spec": {"postgres": {"storage": {"storageClassName": "other"}}}},
        "spec.postgres.storage.storageClassName",
    ),
    (
        "storage size cannot shrink",
        {"spec": {"postgres": {"storage": {"size": "512Mi"}}}},
        "spec.postgres.storage.size cannot shrink",
    ),
    (
        "username is immutable",
        {"spec": {"postgres": {"username": "admin"}}},
        "spec.postgres.username",
    ),
    (
        "a Postgres major bump needs an upgrade method",
        {"spec": {"postgres": {"image": "postgres:16-alpine"}}},
        "spec.postgres.majorUpgrade",
    ),
]


def test_invalid_specs_are_refused_naming_the_field(stack_ns: StackNs) -> None:
    k = stack_ns.k
    base = sample(stack_ns.storage_class)
    refused = []
    for what, path, value, field in INVALID_CREATES:
        proc = k.apply(_set(base, path, value), check=False)
        assert proc.returncode != 0, f"{what}: accepted"
        assert field in proc.stderr, f"{what}: {proc.stderr}"
        assert k.stack() is None, f"{what}: created anyway"
        refused.append(what)
    long_name = _set(base, "metadata.name", "x" * 41)
    proc = k.apply(long_name, check=False)
    assert proc.returncode != 0 and "metadata.name" in proc.stderr, proc.stderr
    # Nothing at all was created in the namespace.
    assert k.list("diministacks") == []
    assert k.list("all", f"app.kubernetes.io/instance={STACK}") == []

    k.apply(base)
    stack = k.stack()
    assert stack is not None
    for what, patch, field in INVALID_UPDATES:
        proc = k.run(
            "patch",
            "diministack",
            STACK,
            "--type",
            "merge",
            "-p",
            json.dumps(patch),
            check=False,
        )
        assert proc.returncode != 0, f"{what}: accepted"
        assert field in proc.stderr, f"{what}: {proc.stderr}"
        refused.append(what)
    after = k.stack()
    assert after is not None
    assert after["metadata"]["generation"] == stack["metadata"]["generation"]
    assert len(refused) >= 10

    # Same major (a minor tag, another registry with a port) is fine, and so is a new digest
    # (`make publish` names images by digest: "sha256:1..." is no major); a major bump with the
    # upgrade method named is accepted.
    for image in (
        "postgres:15.8-alpine",
        "registry.local:5000/postgres:15",
        f"registry.local:5000/dimini-postgres@sha256:{'1' * 64}",
        f"registry.local:5000/dimini-postgres@sha256:{'2' * 64}",
        f"registry.local:5000/postgres:15@sha256:{'3' * 64}",
    ):
        k.patch("diministack", STACK, {"spec": {"postgres": {"image": image}}})
    k.patch(
        "diministack",
        STACK,
        {"spec": {"postgres": {"image": "postgres:16-alpine", "majorUpgrade": "Manual"}}},
    )


def test_storage_size_grows_never_shrinks(stack_ns: StackNs) -> None:
    """The CEL transition rule compares quantities (2048Mi is 2Gi), as the API server does."""
    k = stack_ns.k
    k.apply(sample(stack_ns.storage_class))

    def size(value: str) -> subprocess.CompletedProcess[str]:
        body = {"spec": {"postgres": {"storage": {"size": value}}}}
        return k.run(
            "patch", "diministack", STACK, "--type", "merge", "-p", json.dumps(body), check=False
        )

    for value in ("2Gi", "2048Mi", "2.5Gi", "3G"):
        proc = size(value)
        assert proc.returncode == 0, f"{value}: {proc.stderr}"
    for value in ("2.5Gi", "1Gi", "2Gi"):  # 3G is 2.79Gi
        proc = size(value)
        assert proc.returncode != 0, f"{value}: accepted"
        assert "spec.postgres.storage.size cannot shrink" in proc.stderr, proc.stderr
    stack = k.stack()
    assert stack is not None and stack["spec"]["postgres"]["storage"]["size"] == "3G"


EXTERNAL = {
    "host": "db.example.org",
    "database": "dimini",
    "credentialsSecretRef": {"name": "pg-ext"},
}


def test_external_postgres_is_exclusive_and_cannot_be_switched(stack_ns: StackNs) -> None:
    k = stack_ns.k
    base = sample(stack_ns.storage_class)
    for what, postgres, text in (
        (
            "with bootstrap.fromBackup",
            {"external": EXTERNAL, "bootstrap": {"fromBackup": {}}},
            "spec.postgres.external replaces the in-cluster Postgres",
        ),
        (
            "with existingSecret",
            {"external": EXTERNAL, "existingSecret": "my-db"},
            "spec.postgres.external replaces the in-cluster Postgres",
        ),
        (
            "unknown sslMode",
            {"external": {**EXTERNAL, "sslMode": "on"}},
            "spec.postgres.external.sslMode",
        ),
        (
            "no credentials",
            {"external": {"host": "db", "database": "d"}},
            "spec.postgres.external.credentialsSecretRef",
        ),
        (
            "a CA with the default sslMode prefer",
            {"external": {**EXTERNAL, "caSecretRef": {"name": "pg-ca"}}},
            "spec.postgres.external.caSecretRef needs sslMode require",
        ),
        (
            "a CA with sslMode disable",
            {"external": {**EXTERNAL, "sslMode": "disable", "caSecretRef": {"name": "pg-ca"}}},
            "spec.postgres.external.caSecretRef needs sslMode require",
        ),
        (
            "a CA Secret key that is no Secret key",
            {
                "external": {
                    **EXTERNAL,
                    "sslMode": "verify-full",
                    "caSecretRef": {"name": "pg-ca", "key": "a/b"},
                }
            },
            "spec.postgres.external.caSecretRef.key",
        ),
    ):
        proc = k.apply(_set(base, "spec.postgres", postgres), check=False)
        assert proc.returncode != 0, f"{what}: accepted"
        assert text in proc.stderr, f"{what}: {proc.stderr}"
        assert k.stack() is None, f"{what}: created anyway"

    def patch(body: dict[str, Any]) -> str:
        proc = k.run(
            "patch", "diministack", STACK, "--type", "merge", "-p", json.dumps(body), check=False
        )
        assert proc.returncode != 0, f"{body}: accepted"
        return proc.stderr

    switch = "spec.postgres.external cannot be added to or removed from an existing stack"
    # In-cluster -> external.
    k.apply(base)
    assert switch in patch({"spec": {"postgres": {"external": EXTERNAL}}})
    k.run("delete", "diministack", STACK)
    # External -> in-cluster.
    k.apply(_set(base, "spec.postgres", {"external": EXTERNAL}))
    assert switch in patch({"spec": {"postgres": {"external": None}}})
    # Another host (a fail-over, a migrated server) is an ordinary change.
    k.patch("diministack", STACK, {"spec": {"postgres": {"external": {"host": "10.0.0.7"}}}})
    # verify-full with a private CA; without one too (a CA the clients already trust).
    ca = {"sslMode": "verify-full", "caSecretRef": {"name": "pg-ca"}}
    k.patch("diministack", STACK, {"spec": {"postgres": {"external": ca}}})
    got = (k.stack() or {})["spec"]["postgres"]["external"]["caSecretRef"]
    assert got == {"name": "pg-ca", "key": "ca.crt"}, "the key defaults to ca.crt"
    k.patch("diministack", STACK, {"spec": {"postgres": {"external": {"caSecretRef": None}}}})
    assert "spec.postgres.external.caSecretRef needs sslMode require" in patch(
        {"spec": {"postgres": {"external": {"sslMode": "prefer", "caSecretRef": {"name": "c"}}}}}
    )


def test_backup_targets_default_to_a_claim_and_accept_s3(stack_ns: StackNs) -> None:
    """The API server's defaults: `backup: {}` is a 5Gi claim; an S3 target is path style."""
    k = stack_ns.k
    k.apply(_set(sample(stack_ns.storage_class), "spec.postgres.backup", {}))
    stack = k.stack()
    assert stack is not None
    assert stack["spec"]["postgres"]["backup"]["target"] == {"pvc": {"size": "5Gi"}}
    k.patch(
        "diministack",
        STACK,
        {"spec": {"postgres": {"backup": {"target": {"pvc": None, "s3": S3_TARGET}}}}},
    )
    stack = k.stack()
    assert stack is not None
    assert stack["spec"]["postgres"]["backup"]["target"] == {
        "s3": {**S3_TARGET, "forcePathStyle": True}
    }
