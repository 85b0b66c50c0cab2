"""Postgres: a one-replica StatefulSet with a volume claim template and two Services."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs import database, observability
from dimini_operator.specs.common import (
    POSTGRES_PORT,
    Manifest,
    Stack,
    container_security_context,
    labels,
    metadata,
    pod_metadata,
    pod_options,
    pod_security_context,
    resources,
    selector_labels,
)

# The pods' app.kubernetes.io/component, and the server's container in them.
COMPONENT = "postgres"
CONTAINER = "postgres"
DATA_MOUNT = "/var/lib/postgresql/data"
VOLUME_NAME = "data"
DEFAULT_REQUESTS = {"cpu": "100m", "memory": "256Mi"}
# Postgres' default max_connections, and what the pools leave free for psql, migrations and
# the superuser reserve.
DEFAULT_MAX_CONNECTIONS = 100
RESERVED_CONNECTIONS = 10
# The official image's shared memory: parallel queries need more than a container's 64 MiB.
SHM_SIZE = "256Mi"


def max_connections(stack: Stack) -> int:
    raw = (stack.spec.postgres.parameters or {}).get("max_connections", "")
    return int(raw) if raw.isdigit() else DEFAULT_MAX_CONNECTIONS


def parameter_args(stack: Stack) -> list[str]:
    """`-c name=value` per setting, sorted (a stable pod template)."""
    out: list[str] = []
    for name, value in sorted((stack.spec.postgres.parameters or {}).items()):
        out += ["-c", f"{name}={value}"]
    return out


def pvc_name(stack: Stack) -> str:
    """Name the StatefulSet controller gives the data volume claim."""
    return f"{VOLUME_NAME}-{stack.child('postgres')}-0"


def db_env(stack: Stack) -> list[dict[str, Any]]:
    secret = stack.db_secret_name
    return [
        {
            "name": "POSTGRES_USER",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": "username"}},
        },
        {
            "name": "POSTGRES_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}},
        },
        {"name": "POSTGRES_DB", "value": stack.spec.postgres.database},
        {"name": "PGDATA", "value": f"{DATA_MOUNT}/pgdata"},
    ]


def claim_size(stack: Stack, live: dict[str, Any] | None) -> str:
    """The claim template's size: the live StatefulSet's (claim templates are immutable, a larger
    spec.postgres.storage.size patches the claim: specs/storage.py), else the spec's."""
    for tmpl in ((live or {}).get("spec") or {}).get("volumeClaimTemplates") or []:
        if (tmpl.get("metadata") or {}).get("name") == VOLUME_NAME:
            size = ((tmpl.get("spec") or {}).get("resources") or {}).get("requests", {})
            if size.get("storage"):
                return str(size["storage"])
    return stack.spec.postgres.storage.size


def statefulset_name(stack: Stack) -> str:
    return stack.child("postgres")


def statefulset(stack: Stack, live: dict[str, Any] | None = None) -> Manifest:
    """`live`: the StatefulSet as it is (its claim template is kept)."""
    pg = stack.spec.postgres
    uid = pg.run_as_user
    name = statefulset_name(stack)
    probe_cmd = 'pg_isready -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": claim_size(stack, live)}},
    }
    if pg.storage.storage_class_name:
        claim_spec["storageClassName"] = pg.storage.storage_class_name
    retain = stack.spec.deletion_policy == "Retain"
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": pg.image,
        "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT, "protocol": "TCP"}],
        "env": db_env(stack),
        "securityContext": container_security_context(read_only_root=False),
        "readinessProbe": {
            "exec": {"command": ["sh", "-c", probe_cmd]},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
        },
        # Crash recovery of a big database can take minutes: liveness starts only after this
        # succeeds (up to 10 minutes), so it does not kill a recovering server in a loop. Every
        # second: the kubelet probes readiness as soon as it succeeds (issue 18, Ready in 10 s).
        "startupProbe": {
            "exec": {"command": ["sh", "-c", probe_cmd]},
            "periodSeconds": 1,
            "timeoutSeconds": 5,
            "failureThreshold": 600,
        },
        "livenessProbe": {
            "exec": {"command": ["sh", "-c", probe_cmd]},
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 6,
        },
        "volumeMounts": [
            {"name": VOLUME_NAME, "mountPath": DATA_MOUNT},
            {"name": "run", "mountPath": "/var/run/postgresql"},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir
            {"name": "shm", "mountPath": "/dev/shm"},  # noqa: S108 - a memory emptyDir
        ],
    }
    args = parameter_args(stack)
    if args:
        container["args"] = args
    container["resources"] = resources(pg.resources) or {"requests": dict(DEFAULT_REQUESTS)}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(stack, name, COMPONENT),
        "spec": {
            "serviceName": stack.child("postgres-headless"),
            "replicas": 1,
            "selector": {"matchLabels": selector_labels(stack, COMPONENT)},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain" if retain else "Delete",
                "whenScaled": "Retain",
            },
            "template": {
                "metadata": pod_metadata(stack, COMPONENT, pg),
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    # Change the volume's ownership only when its root does not already match:
                    # a recursive pass on every start is slow on big volumes and opens PGDATA
                    # to the group, which postgres refuses.
                    "securityContext": {
                        **pod_security_context(uid),
                        "fsGroupChangePolicy": "OnRootMismatch",
                    },
                    "containers": [container, *exporter(stack)],
                    "volumes": [
                        {"name": "run", "emptyDir": {}},
                        {"name": "tmp", "emptyDir": {}},
                        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE}},
                    ],
                    **pod_options(stack, pg),
                },
            },
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": VOLUME_NAME, "labels": labels(stack, COMPONENT)},
                    "spec": claim_spec,
                }
            ],
        },
    }


def exporter(stack: Stack) -> list[dict[str, Any]]:
    """spec.observability.postgresExporter's sidecar, if on."""
    return (
        [observability.exporter_container(stack)] if observability.exporter_enabled(stack) else []
    )


def services(stack: Stack) -> list[Manifest]:
    port = {
        "name": "postgres",
        "port": POSTGRES_PORT,
        "targetPort": POSTGRES_PORT,
        "protocol": "TCP",
    }
    metrics = (
        [observability.exporter_service_port()] if observability.exporter_enabled(stack) else []
    )
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(stack, stack.child("postgres"), COMPONENT),
            "spec": {
                "type": "ClusterIP",
                "selector": selector_labels(stack, COMPONENT),
                "ports": [dict(port), *metrics],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(stack, stack.child("postgres-headless"), COMPONENT),
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": selector_labels(stack, COMPONENT),
                "ports": [dict(port)],
            },
        },
    ]


def render(stack: Stack, live: dict[str, Any] | None = None) -> list[Manifest]:
    if database.external(stack):
        return []  # the server is the user's: no StatefulSet, volume or Services
    return [statefulset(stack, live), *services(stack)]
