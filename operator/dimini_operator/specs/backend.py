"""Backend Deployment + Service; the environment is shared with the migration Job."""

from __future__ import annotations

import json
from typing import Any

from dimini_operator.specs import body_limit, database, ingress, observability, postgres
from dimini_operator.specs.common import (
    BACKEND_PORT,
    CHECKSUM_ANNOTATION,
    Manifest,
    Stack,
    container_security_context,
    drain_lifecycle,
    http_service,
    metadata,
    pod_metadata,
    pod_options,
    pod_security_context,
    resources,
    selector_labels,
)
from dimini_operator.specs.secrets import CONNECTION_KEY

TMP = "/tmp"  # noqa: S108 - an emptyDir, not a shared directory
OPENAI_KEYS = ("OPENAI_API_KEY",)
HUME_KEYS = ("HUME_API_KEY", "HUME_SECRET_KEY")
HUME_OPTIONAL_KEYS = ("HUME_WEBHOOK_SIGNING_KEY",)
EXTERNAL_CREDENTIALS = "spec.postgres.external.credentialsSecretRef"
EXTERNAL_CA = "spec.postgres.external.caSecretRef"
# Secrets whose password reaches pods only through `<stack>-connection`.
DB_CREDENTIAL_FIELDS = ("spec.postgres.existingSecret", EXTERNAL_CREDENTIALS)


def _secret_env(name: str, secret: str, key: str, *, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def referenced_secrets(stack: Stack) -> list[tuple[str, str, tuple[str, ...]]]:
    """(spec field, Secret name, required keys) of every Secret the backend reads."""
    refs = stack.spec.secret_refs
    out: list[tuple[str, str, tuple[str, ...]]] = []
    if refs.openai:
        out.append(("spec.secretRefs.openai", refs.openai.name, OPENAI_KEYS))
    if refs.hume:
        out.append(("spec.secretRefs.hume", refs.hume.name, HUME_KEYS))
    if stack.spec.postgres.existing_secret:
        out.append(("spec.postgres.existingSecret", stack.db_secret_name, ("username", "password")))
    if database.external(stack):
        out.append((EXTERNAL_CREDENTIALS, stack.db_secret_name, ("username", "password")))
    if ca := database.ca_ref(stack):
        # Not a credential: its data is in the checksum, so a new CA rolls the pods.
        out.append((EXTERNAL_CA, ca.name, (ca.key,)))
    return out


# The backend's own default; pools are only ever sized down from it.
MAX_POOL_SIZE = 10


def pool_size(stack: Stack) -> int:
    """Per-process pool so that every process of the most replicas the stack can run fits in
    Postgres' max_connections, with as many again to spare (the backend opens no overflow
    connections; the spare half covers each process's pub/sub connection and those of a roll
    still closing)."""
    be = stack.spec.backend
    replicas = be.autoscaling.max_replicas if be.autoscaling.enabled else be.replicas
    # +1: during a rolling update (maxSurge 1) one extra pod runs.
    processes = (be.workers if stack.spec.mode == "production" else 1) * (replicas + 1)
    budget = postgres.max_connections(stack) - postgres.RESERVED_CONNECTIONS
    return max(1, min(MAX_POOL_SIZE, budget // (2 * processes)))


def env(stack: Stack) -> list[dict[str, Any]]:
    """Environment of backend and migration pods: one source of configuration."""
    spec = stack.spec
    cfg = spec.config
    origins = cfg.allowed_origins or [stack.url]
    out: list[dict[str, Any]] = [
        # Built by the operator with the credentials percent-encoded (a `$(DB_PASSWORD)`
        # expansion cannot escape a password containing `@`, `%`, `/` or `:`).
        _secret_env("DATABASE_URL", stack.child("connection"), CONNECTION_KEY),
        _secret_env("SECRET_KEY", stack.app_secret_name, "SECRET_KEY"),
        {"name": "ALLOWED_ORIGINS", "value": json.dumps(list(origins))},
        {"name": "LOG_LEVEL", "value": cfg.log_level},
        {"name": "SIMILARITY_THRESHOLD", "value": str(cfg.similarity_threshold)},
        {"name": "ACCESS_TOKEN_EXPIRE_MINUTES", "value": str(cfg.access_token_expire_minutes)},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        # The ingress hop(s): without them every client shares the ingress's address budget.
        {"name": "FORWARDED_ALLOW_IPS", "value": ",".join(spec.ingress.trusted_proxies)},
        {"name": "MAX_REQUEST_BODY_BYTES", "value": str(body_limit.max_bytes(stack))},
    ]
    if spec.mode == "production":
        out.append({"name": "WEB_CONCURRENCY", "value": str(spec.backend.workers)})
    out.append({"name": "DB_POOL_SIZE", "value": str(pool_size(stack))})
    # asyncpg reads libpq's PGSSLMODE and PGSSLROOTCERT when the URL names no ssl setting.
    out += database.ssl_env(stack)
    if ingress.terminates_tls(stack):
        out.append({"name": "HSTS_ENABLED", "value": "true"})
    out += observability.otel_env(stack)
    if cfg.gpt_model:
        out.append({"name": "GPT_MODEL", "value": cfg.gpt_model})
    if cfg.hume_config_id:
        out.append({"name": "HUME_CONFIG_ID", "value": cfg.hume_config_id})
    refs = spec.secret_refs
    if refs.openai:
        out.extend(_secret_env(k, refs.openai.name, k) for k in OPENAI_KEYS)
    if refs.hume:
        out.extend(_secret_env(k, refs.hume.name, k) for k in HUME_KEYS)
        out.extend(_secret_env(k, refs.hume.name, k, optional=True) for k in HUME_OPTIONAL_KEYS)
    # A user entry wins over the operator's value of the same name (one entry per name: a
    # duplicate is ambiguous to readers and to server-side apply's list merge).
    user = {
        item.name: {"name": item.name, "value": item.value or ""} for item in spec.backend.env or []
    }
    out = [user.pop(e["name"], e) for e in out]
    return out + list(user.values())


def pod_spec(stack: Stack, image: str, container: dict[str, Any]) -> dict[str, Any]:
    """Pod spec shared by the backend Deployment and the migration Job."""
    base: dict[str, Any] = {
        "image": image,
        "env": env(stack),
        # Development: Tilt's live update writes the synced code into the container.
        "securityContext": container_security_context(
            read_only_root=stack.spec.mode != "development"
        ),
        "volumeMounts": [{"name": "tmp", "mountPath": TMP}, *database.ca_mounts(stack)],
    }
    res = resources(stack.spec.backend.resources)
    if res:
        base["resources"] = res
    return {
        "serviceAccountName": stack.child("backend"),
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(stack.spec.backend.run_as_user),
        "containers": [{**container, **base}],
        "volumes": [{"name": "tmp", "emptyDir": {}}, *database.ca_volumes(stack)],
        **pod_options(stack, stack.spec.backend),
    }


def command(stack: Stack) -> list[str]:
    """production: `python -m app.serve` (validates settings, WEB_CONCURRENCY uvicorn workers,
    multiprocess metrics); development: `python -m app.devserve`, which reloads the app on every
    change under /app/app (where Tilt syncs it) by forking a warm parent."""
    if stack.spec.mode == "development":
        return [
            "python",
            "-m",
            "app.devserve",
            "--host",
            "0.0.0.0",  # noqa: S104 - the container's interface
            "--port",
            str(BACKEND_PORT),
            "--reload-dir",
            "/app/app",
        ]
    return ["python", "-m", "app.serve"]


def deployment(stack: Stack, image: str, checksum: str) -> Manifest:
    backend = stack.spec.backend
    container: dict[str, Any] = {
        "name": "backend",
        "command": command(stack),
        "ports": [{"name": "http", "containerPort": BACKEND_PORT, "protocol": "TCP"}],
        # Polled every second until the server answers (imports take seconds, more under
        # load; up to 5 minutes), then liveness and readiness take over: readiness at once.
        "startupProbe": {
            "httpGet": {"path": "/health", "port": "http"},
            "periodSeconds": 1,
            "timeoutSeconds": 2,
            "failureThreshold": 300,
        },
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": "http"},
            "periodSeconds": 15,
            "timeoutSeconds": 5,
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": "http"},
            "periodSeconds": 5,
            "timeoutSeconds": 5,
        },
        "lifecycle": drain_lifecycle(),
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(stack, "backend")},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": pod_metadata(stack, "backend", backend, {CHECKSUM_ANNOTATION: checksum}),
            "spec": pod_spec(stack, image, container),
        },
    }
    if not backend.autoscaling.enabled:
        spec["replicas"] = backend.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(stack, stack.child("backend"), "backend"),
        "spec": spec,
    }


def service(stack: Stack) -> Manifest:
    return http_service(stack, "backend", BACKEND_PORT)
