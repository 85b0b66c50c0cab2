"""The declared model of a DiminiStack: one typed source for the spec and the status.

The CRD's openAPIV3Schema (descriptions for `kubectl explain`, defaults, CEL rules) is generated
from these classes by `specs.schema.openapi`; the renders read a validated `StackSpec` instead of
dict keys, and `specs.defaults` defaults a spec exactly as the API server does (same source).

Conventions the generator relies on:
- a field's `description` documents it (a class docstring documents a nested object by default);
- `X | None = None` is optional without a default; any other default is written to the schema,
  and a nested model defaulted with `default_factory=Model` becomes `default: {}`;
- `json_schema_extra` carries Kubernetes extensions (CEL rules, list types, formats) verbatim.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticUndefined

# DNS-1123 subdomain (what Kubernetes accepts as a host name / object name).
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Resource quantity, binary or decimal suffixes (e.g. 1Gi, 500Mi, 10G).
QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
CPU_OR_MEMORY = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
C_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
PG_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
# Paths the operator routes itself; extra paths must not shadow them.
RESERVED_PATHS = ["/api", "/socket.io", "/docs", "/openapi.json", "/health", "/ready"]
# Environment variables that carry credentials; users must not override them.
MANAGED_ENV = ["DATABASE_URL", "SECRET_KEY", "DB_USER", "DB_PASSWORD"]

INT64: dict[str, Any] = {"format": "int64"}
DATE_TIME: dict[str, Any] = {"format": "date-time"}
# Where pod and node networks live in practically every cluster (RFC 1918, RFC 4193): the default
# set of proxies whose X-Forwarded-For names the client (Rails' default, less loopback).
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
# An address or CIDR range (no `*`, no host names); the validator below checks it fully.
IP_OR_CIDR = r"^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$"
TUNNEL_REQUIRED = (
    "spec.tunnel.tokenSecretRef and spec.tunnel.publicHostname are required when "
    "spec.tunnel.enabled is true"
)


def _quoted(values: list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _rule(rule: str, message: str, reason: str, field_path: str | None = None) -> dict[str, str]:
    out = {"rule": rule, "message": message}
    if field_path:
        out["fieldPath"] = field_path
    out["reason"] = reason
    return out


def _cel(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


def _major(image: str) -> str:
    """CEL: ':<major>' of an image's tag ('' without a numeric tag), e.g. ':15' of
    'registry:5000/postgres:15-alpine' (the last path segment, so a registry port is skipped;
    before any '@', so 'postgres@sha256:1...' has none)."""
    return f"{image}.find('^[^@]*').find('[^/]*$').find(':[0-9]+')"


def _immutable(field: str, path: str) -> dict[str, str]:
    return _rule(
        f"!has(oldSelf.{field}) || (has(self.{field}) && self.{field} == oldSelf.{field})",
        f"{path}.{field} is immutable",
        "FieldValueForbidden",
        f".{field}",
    )


class Model(BaseModel):
    """Base: camelCase names on the wire, snake_case in Python, immutable values."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


# An int-or-string resource quantity (`x-kubernetes-int-or-string` with CPU_OR_MEMORY), as in a
# Pod spec; the schema generator maps `int | str` to it.
Quantity = int | str


def _image(what: str) -> Any:
    return Field(
        description=f"Container image of the {what}, e.g. registry.local/dimini-{what}:1.2.3.",
        min_length=1,
        max_length=512,
    )


def _secret_name(description: str, default: Any = PydanticUndefined) -> Any:
    return Field(default, description=description, max_length=253, pattern=DNS1123_SUBDOMAIN)


class Resources(Model):
    """CPU and memory requests and limits of the container (as in a Pod spec)."""

    requests: dict[str, Quantity] | None = Field(
        None, description="Minimum resources, e.g. {cpu: 100m, memory: 256Mi}."
    )
    limits: dict[str, Quantity] | None = Field(
        None, description="Maximum resources, e.g. {memory: 512Mi}."
    )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.requests:
            out["requests"] = dict(self.requests)
        if self.limits:
            out["limits"] = dict(self.limits)
        return out


def _resources(what: str) -> Any:
    return Field(
        None,
        description=f"CPU and memory requests and limits of the {what} container "
        "(as in a Pod spec).",
    )


class Autoscaling(Model):
    """HorizontalPodAutoscaler (replaces `replicas` when enabled)."""

    enabled: bool = Field(False, description="Create a HorizontalPodAutoscaler.")
    min_replicas: int = Field(1, description="Lowest replica count (at least 1).", ge=1)
    max_replicas: int = Field(3, description="Highest replica count (at least 1).", ge=1)
    target_cpu_utilization_percentage: int = Field(
        80,
        alias="targetCPUUtilizationPercentage",
        description="Average CPU utilisation (percent of requests) the autoscaler aims for.",
        ge=1,
        le=100,
    )


def _autoscaling(what: str, field: str) -> Any:
    return Field(
        default_factory=Autoscaling,
        description=f"HorizontalPodAutoscaler for the {what} (replaces `replicas` when enabled).",
        json_schema_extra=_cel(
            _rule(
                "!has(self.minReplicas) || !has(self.maxReplicas) || "
                "self.minReplicas <= self.maxReplicas",
                f"{field}.minReplicas must be less than or equal to {field}.maxReplicas",
                "FieldValueInvalid",
                ".minReplicas",
            )
        ),
    )


def _replicas(what: str) -> Any:
    return Field(
        1, description=f"Number of {what} pods when autoscaling is off (at least 1).", ge=1
    )


class EnvVar(Model):
    """One environment variable."""

    name: str = Field(
        description="Variable name (a C identifier).", pattern=C_IDENTIFIER, max_length=128
    )
    value: str | None = Field(
        None, description="Variable value (plain text; use secretRefs for secrets)."
    )


class MigrationSpec(Model):
    """The schema migration Job (`python -m app.migrate`) run before each new image."""

    backoff_limit: int = Field(
        1, description="Retries of a failed migration pod before the Job fails.", ge=0, le=10
    )
    active_deadline_seconds: int = Field(
        600, description="Time limit of one migration Job in seconds.", ge=30
    )
    ttl_seconds_after_finished: int = Field(
        3600, description="Seconds a finished migration Job is kept before it is cleaned up.", ge=0
    )


class PodOptions(Model):
    """Pod settings of one component."""

    pod_labels: dict[str, str] | None = Field(
        None, description="Extra labels on the component's pods (the operator's own labels win)."
    )
    pod_annotations: dict[str, str] | None = Field(
        None, description="Extra annotations on the component's pods."
    )
    priority_class_name: str | None = Field(
        None, description="PriorityClass of the component's pods.", max_length=253
    )
    topology_spread_constraints: list[dict[str, Any]] | None = Field(
        None,
        description="Topology spread constraints of the component's pods (as in a Pod spec); "
        "select them with app.kubernetes.io/instance and app.kubernetes.io/component.",
        json_schema_extra={"x-items": {"description": "One constraint."}},
    )


class Backend(PodOptions):
    """The FastAPI backend (`uvicorn app.main:socket_app`) and its migration Job."""

    image: str = _image("backend")
    replicas: int = _replicas("backend")
    workers: int = Field(
        2,
        description="Uvicorn worker processes per pod (WEB_CONCURRENCY) in production mode.",
        ge=1,
        le=64,
    )
    resources: Resources | None = _resources("backend")
    run_as_user: int = Field(
        10001,
        description="Numeric uid (and gid, fsGroup) of the backend and migration pods.",
        ge=1,
        json_schema_extra=INT64,
    )
    env: list[EnvVar] | None = Field(
        None,
        description="Extra environment variables for the backend and migration pods; an entry "
        "wins over the operator's value of the same name. "
        + ", ".join(MANAGED_ENV)
        + " carry credentials, are managed by the operator and refused here.",
        max_length=64,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            **_cel(
                _rule(
                    f"self.all(e, !(e.name in {_quoted(MANAGED_ENV)}))",
                    "spec.backend.env must not set "
                    + ", ".join(MANAGED_ENV)
                    + " (managed by the operator)",
                    "FieldValueForbidden",
                )
            ),
        },
    )
    autoscaling: Autoscaling = _autoscaling("backend", "spec.backend.autoscaling")
    migration: MigrationSpec = Field(default_factory=MigrationSpec)


class Frontend(PodOptions):
    """The Next.js frontend, served same-origin with the backend."""

    image: str = _image("frontend")
    replicas: int = _replicas("frontend")
    resources: Resources | None = _resources("frontend")
    run_as_user: int = Field(
        1000,
        description="Numeric uid (and gid, fsGroup) of the frontend pods; 1000 is the "
        "`node` user of the official Node.js images.",
        ge=1,
        json_schema_extra=INT64,
    )
    autoscaling: Autoscaling = _autoscaling("frontend", "spec.frontend.autoscaling")


class Storage(Model):
    """The data volume (PVC `data-<stack>-postgres-0`)."""

    size: str = Field(
        "1Gi",
        description="Requested size as a quantity, e.g. 1Gi. May grow, never shrink: a larger "
        "size expands the claim if its StorageClass has allowVolumeExpansion (condition "
        "StorageResized).",
        pattern=QUANTITY,
    )
    storage_class_name: str | None = Field(
        None,
        description="StorageClass of the volume; empty uses the cluster default. Immutable.",
        max_length=253,
    )


class SecretRef(Model):
    """A Secret in the stack's namespace."""

    name: str = _secret_name("Name of the Secret in the stack's namespace.")


class BackupRetention(Model):
    """Which backups are kept; the newest verified backup is never deleted."""

    count: int = Field(7, description="Backups kept, newest first.", ge=1, le=1000)
    max_age_days: int | None = Field(
        None, description="Backups older than this many days are deleted.", ge=1, le=3650
    )


class BackupVolume(Model):
    """The PersistentVolumeClaim `<stack>-backups` the dumps are written to."""

    size: str = Field(
        "5Gi", description="Requested size as a quantity, e.g. 5Gi.", pattern=QUANTITY
    )
    storage_class_name: str | None = Field(
        None,
        description="StorageClass of the claim; empty uses the cluster default.",
        max_length=253,
    )


class BackupEncryption(Model):
    """Client-side encryption with age: each dump is encrypted in the pod before it is
    uploaded, to the recipient derived from the identity (`age-keygen -y`). The Secret's key
    `identity` holds an age identity (`age-keygen` output, AGE-SECRET-KEY-1...); verification
    and restores decrypt with it. Keep a copy outside the cluster: without it no backup can be
    read."""

    secret_ref: SecretRef = Field(
        description="Secret holding the age identity under the key `identity`."
    )


class S3Target(Model):
    """An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...), written with rclone. Objects
    per backup: `<prefix>/dimini-<timestamp>.dump.age` (the encrypted dump), `.json` (the
    manifest), `.verified` or `.failed`."""

    endpoint: str = Field(
        description="URL of the S3 API, e.g. https://s3.eu-central-1.amazonaws.com or "
        "http://minio.storage.svc:9000.",
        max_length=512,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
    )
    bucket: str = Field(
        description="Bucket name (it must exist; it is never created).",
        min_length=3,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$",
    )
    prefix: str | None = Field(
        None,
        description="Key prefix (a folder) of the stack's objects, e.g. prod/dimini; "
        "empty stores at the bucket's root.",
        max_length=256,
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
    )
    region: str | None = Field(
        None,
        description="Region of the bucket, e.g. eu-central-1.",
        max_length=64,
        pattern=r"^[a-z0-9-]+$",
    )
    force_path_style: bool = Field(
        True,
        description="Path-style URLs (endpoint/bucket/key), as MinIO and most S3-compatible "
        "servers need; false uses virtual-hosted style (bucket.endpoint/key).",
    )
    credentials_secret_ref: SecretRef = Field(
        description="Secret holding the access key under the keys `accessKeyId` and "
        "`secretAccessKey`."
    )
    encryption: BackupEncryption


TARGET_EXACTLY_ONE = "spec.postgres.backup.target needs exactly one of pvc or s3"


class BackupTarget(Model):
    """Where backups are stored: a PersistentVolumeClaim (`pvc`) or an S3-compatible bucket
    (`s3`), exactly one."""

    pvc: BackupVolume | None = None
    s3: S3Target | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> BackupTarget:
        # Mirrors the CEL rule on spec.postgres.backup.target, for specs that skip the API
        # server.
        if (self.pvc is None) == (self.s3 is None):
            raise ValueError(TARGET_EXACTLY_ONE)
        return self


def _pvc_target() -> BackupTarget:
    return BackupTarget(pvc=BackupVolume())


class Backup(Model):
    """Scheduled logical backups (pg_dump custom format, compressed, with a manifest), each
    restored into a throwaway Postgres and checked against its manifest before it counts."""

    schedule: str = Field(
        "0 3 * * *",
        description="Cron schedule of the backup CronJob (the controller's time zone, UTC by "
        "default).",
        min_length=9,
        max_length=128,
    )
    suspend: bool = Field(False, description="Suspend scheduled backups (on-demand ones run).")
    retention: BackupRetention = Field(default_factory=BackupRetention)
    target: BackupTarget = Field(
        default_factory=_pvc_target,
        json_schema_extra={
            "default": {"pvc": {}},
            **_cel(
                _rule(
                    "has(self.pvc) != has(self.s3)",
                    TARGET_EXACTLY_ONE,
                    "FieldValueInvalid",
                )
            ),
        },
    )
    active_deadline_seconds: int = Field(
        3600, description="Time limit of one backup and verification in seconds.", ge=60
    )
    resources: Resources | None = Field(
        None,
        description="CPU and memory requests and limits of every backup, verify and restore "
        "container; default requests {cpu: 50m, memory: 128Mi} and limits {cpu: 500m}, so a "
        "dump cannot take the CPU the app needs (raise them for a faster restore).",
    )


# A backup's name (`dimini-<UTC timestamp>`, files <name>.dump and <name>.json).
BACKUP_NAME_PATTERN = r"^dimini-[A-Za-z0-9-]+$"


class FromBackup(Model):
    """A backup (written by spec.postgres.backup) to load into the new stack's database."""

    claim_name: str | None = Field(
        None,
        description="PersistentVolumeClaim holding the backups; default `<stack>-backups`.",
        max_length=253,
    )
    name: str | None = Field(
        None,
        description="Backup name (`dimini-<timestamp>`); default the newest verified one.",
        max_length=128,
        pattern=BACKUP_NAME_PATTERN,
    )


class Bootstrap(Model):
    """How a new stack's database starts."""

    from_backup: FromBackup | None = Field(
        None,
        description="Restore a backup before the first migration (a database that already "
        "has a schema is left alone).",
    )


# A DNS name or an IP address (v4, or v6 without brackets).
HOST = (
    r"^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*"
    r"|[0-9A-Fa-f:.]+)$"
)
EXTERNAL_EXCLUSIVE = (
    "spec.postgres.external replaces the in-cluster Postgres: spec.postgres.existingSecret, "
    "bootstrap, parameters, resources and majorUpgrade must not be set with it"
)
CA_NEEDS_VERIFICATION = (
    "spec.postgres.external.caSecretRef needs sslMode require, verify-ca or verify-full (with "
    "disable, allow or prefer the server's certificate is never checked against it)"
)
EXTERNAL_SWITCH = (
    "spec.postgres.external cannot be added to or removed from an existing stack (the data "
    "would stay behind): back up, and create a new stack from the backup"
)


class CaSecretRef(Model):
    """A Secret in the stack's namespace holding a PEM CA bundle."""

    name: str = _secret_name("Name of the Secret in the stack's namespace.")
    key: str = Field(
        "ca.crt",
        description="Key of the PEM bundle in the Secret.",
        min_length=1,
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
    )


SSL_UNVERIFIED = ("disable", "allow", "prefer")


class ExternalPostgres(Model):
    """A Postgres outside the cluster (managed service, host database): no StatefulSet, volume
    or Postgres NetworkPolicy is created; the backend, the migration Job and the backups connect
    to it with the user's credentials (never generated or rotated by the operator)."""

    host: str = Field(
        description="Host name or IP address of the server.",
        min_length=1,
        max_length=253,
        pattern=HOST,
    )
    port: int = Field(5432, description="TCP port of the server.", ge=1, le=65535)
    database: str = Field(
        description="Database name (the role must own it or be able to create its tables).",
        min_length=1,
        max_length=63,
    )
    ssl_mode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = Field(
        "prefer",
        description="libpq sslmode of every connection. verify-ca and verify-full check the "
        "server's certificate against `caSecretRef`; without it, against the clients' default "
        "root file (libpq's ~/.postgresql/root.crt, absent in the project's images: set "
        "caSecretRef, also for a public CA, e.g. with the provider's bundle).",
    )
    credentials_secret_ref: SecretRef = Field(
        description="Secret in the stack's namespace with keys `username` and `password` "
        "(owned by you: the operator never writes it; a missing Secret or key makes the stack "
        "Degraded until it appears)."
    )
    ca_secret_ref: CaSecretRef | None = Field(
        None,
        description="The CA (PEM) that signed the server's certificate, mounted read-only into "
        "the backend, migration and backup pods (PGSSLROOTCERT, read by libpq and asyncpg). "
        "Needs sslMode require, verify-ca or verify-full. Its data is in the pods' checksum: "
        "a new CA rolls them; a missing Secret or key makes the stack Degraded.",
    )

    @model_validator(mode="after")
    def _ca_needs_verification(self) -> ExternalPostgres:
        # Mirrors the CEL rule on spec.postgres.external, for specs that do not pass the API
        # server.
        if self.ca_secret_ref and self.ssl_mode in SSL_UNVERIFIED:
            raise ValueError(CA_NEEDS_VERIFICATION)
        return self


class Postgres(PodOptions):
    """The Postgres database: a one-replica StatefulSet with a persistent volume, or an
    external server (`external`)."""

    image: str = Field(
        "postgres:15-alpine",
        description="Postgres image (official image layout, runs as uid 70 on alpine). A change "
        "of the major version in the tag (15 -> 16) is refused unless `majorUpgrade` is set.",
        min_length=1,
        max_length=512,
    )
    major_upgrade: Literal["Manual"] | None = Field(
        None,
        description="Allows changing the Postgres major version of `image`. Manual: the data "
        "directory has been upgraded by hand (pg_upgrade, or dump and restore; see "
        "docs/operator.md); the operator does not convert data, and a new major on an old data "
        "directory does not start.",
    )
    database: str = Field("dimini", description="Database name. Immutable.", pattern=PG_IDENTIFIER)
    username: str = Field(
        "dimini", description="Database owner role. Immutable.", pattern=PG_IDENTIFIER
    )
    run_as_user: int = Field(
        70,
        description="Numeric uid (and gid, fsGroup) the postgres container runs as.",
        ge=1,
        json_schema_extra=INT64,
    )
    storage: Storage = Field(
        default_factory=Storage,
        json_schema_extra=_cel(
            _rule(
                "has(self.storageClassName) == has(oldSelf.storageClassName)"
                " && (!has(self.storageClassName) ||"
                " self.storageClassName == oldSelf.storageClassName)",
                "spec.postgres.storage.storageClassName is immutable",
                "FieldValueForbidden",
                ".storageClassName",
            ),
            # quantity() (Kubernetes 1.29+) compares 2Gi with 2048Mi right; isQuantity guards
            # a malformed value, which the pattern reports.
            _rule(
                "!has(oldSelf.size) || (has(self.size) && (!isQuantity(self.size) ||"
                " !isQuantity(oldSelf.size) ||"
                " quantity(self.size).compareTo(quantity(oldSelf.size)) >= 0))",
                "spec.postgres.storage.size cannot shrink (a volume claim only grows; set at "
                "least the current size)",
                "FieldValueForbidden",
                ".size",
            ),
        ),
    )
    resources: Resources | None = Field(
        None,
        description="CPU and memory requests and limits of the postgres container (as in a Pod "
        "spec); default requests {cpu: 100m, memory: 256Mi} (not BestEffort, so not the first "
        "evicted).",
    )
    parameters: dict[str, str] | None = Field(
        None,
        description="Server settings passed as `postgres -c name=value`, e.g. "
        "{max_connections: '200', shared_buffers: 256MB}. max_connections also sizes the "
        "backend's connection pools.",
        json_schema_extra=_cel(
            _rule(
                "self.all(k, k.matches('^[a-z_][a-z0-9_.]*$'))",
                "spec.postgres.parameters names must be Postgres setting names",
                "FieldValueInvalid",
            )
        ),
    )
    backup: Backup | None = Field(
        None,
        description="Verified backups: a CronJob dumps the database to the target and "
        "restores each dump into a throwaway Postgres to check it (docs/backup.md).",
    )
    bootstrap: Bootstrap | None = Field(None, description="How a new stack's database starts.")
    existing_secret: str | None = _secret_name(
        "Bring your own credentials: a Secret with keys `username` and `password` "
        "used instead of the generated `<stack>-db`.",
        None,
    )
    external: ExternalPostgres | None = Field(
        None,
        description="Use a Postgres outside the cluster instead of the StatefulSet (storage and "
        "the pod settings are then unused; `image` is still the backup and verify image, its "
        "major at least the server's). Cannot be added or removed on an existing stack.",
        json_schema_extra=_cel(
            _rule(
                "!has(self.caSecretRef) || (has(self.sslMode) && "
                f"!(self.sslMode in {_quoted(list(SSL_UNVERIFIED))}))",
                CA_NEEDS_VERIFICATION,
                "FieldValueInvalid",
                ".caSecretRef",
            )
        ),
    )

    @model_validator(mode="after")
    def _external_exclusive(self) -> Postgres:
        # Mirrors the CEL rule on spec.postgres, for specs that do not pass the API server.
        if self.external and (
            self.existing_secret
            or self.bootstrap
            or self.parameters
            or self.resources
            or self.major_upgrade
        ):
            raise ValueError(EXTERNAL_EXCLUSIVE)
        return self


class IssuerRef(Model):
    """A cert-manager issuer that obtains the certificate (through cert-manager's annotations
    on the Ingress: it creates a Certificate writing `secretName`)."""

    name: str = Field(
        description="Name of the Issuer or ClusterIssuer.",
        max_length=253,
        pattern=DNS1123_SUBDOMAIN,
    )
    kind: Literal["Issuer", "ClusterIssuer"] = Field(
        "Issuer",
        description="Issuer (in the stack's namespace) or ClusterIssuer.",
    )


class Tls(Model):
    """Serve HTTPS with the certificate in a kubernetes.io/tls Secret (yours, or written by
    cert-manager with `issuerRef`). The backend then sends Strict-Transport-Security and the
    stack's URL is https."""

    secret_name: str = _secret_name("Name of the TLS Secret in the stack's namespace.")
    issuer_ref: IssuerRef | None = Field(
        None,
        description="Have cert-manager issue the certificate into secretName (annotation "
        "cert-manager.io/issuer or cert-manager.io/cluster-issuer on the Ingress).",
    )


class ExtraPath(Model):
    """One extra route."""

    path: str = Field(
        description="Path prefix, starting with /.",
        pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$",
        max_length=256,
    )
    service: Literal["backend", "frontend"] = Field(
        "backend", description="Which service receives the path."
    )


# spec.ingress.maxBodySize: the backend's own bounds of MAX_REQUEST_BODY_BYTES.
BODY_SIZE = r"^[1-9][0-9]{0,8}(Ki|Mi)?$"
MIN_BODY_SIZE, MAX_BODY_SIZE = "1Ki", "64Mi"
BODY_SIZE_RANGE = f"spec.ingress.maxBodySize must be between {MIN_BODY_SIZE} and {MAX_BODY_SIZE}"
_BINARY_SUFFIXES = {"Ki": 1024, "Mi": 1024 * 1024}


def quantity_bytes(size: str) -> int:
    """Bytes of a BODY_SIZE quantity, e.g. 1048576 for '1Mi'."""
    factor = _BINARY_SUFFIXES.get(size[-2:], 1)
    return int(size[:-2] if factor > 1 else size) * factor


class Ingress(Model):
    """The Ingress `<stack>` routing /api, /socket.io, /docs, /openapi.json and /health to the
    backend and / to the frontend."""

    enabled: bool = Field(True, description="Create the Ingress.")
    class_name: str | None = Field(
        None, description="IngressClass name; empty uses the cluster default.", max_length=253
    )
    host: str = Field(
        "dimini.localhost",
        description="Host name the stack is served on (a DNS-1123 name).",
        max_length=253,
        pattern=DNS1123_SUBDOMAIN,
    )
    tls: Tls | None = None
    annotations: dict[str, str] | None = Field(
        None, description="Annotations for the Ingress (controller-specific settings)."
    )
    extra_paths: list[ExtraPath] | None = Field(
        None,
        description="Additional path prefixes routed to the backend or the frontend. "
        "They must not shadow the paths the operator routes itself "
        "(" + ", ".join(RESERVED_PATHS) + ") or /.",
        max_length=32,
        json_schema_extra={
            "x-items": _cel(
                _rule(
                    f"self.path != '/' && !{_quoted(RESERVED_PATHS)}.exists(p, "
                    "self.path == p || self.path.startsWith(p + '/'))",
                    "spec.ingress.extraPaths[].path must not shadow /, "
                    + ", ".join(RESERVED_PATHS),
                    "FieldValueForbidden",
                    ".path",
                )
            )
        },
    )
    max_body_size: str = Field(
        "1Mi",
        description="Largest request body the stack accepts (1Ki to 64Mi): the backend refuses "
        "a larger one with 413 (MAX_REQUEST_BODY_BYTES), and so does the ingress controller "
        "before the body crosses it when spec.ingress.controller says how.",
        pattern=BODY_SIZE,
        json_schema_extra=_cel(
            _rule(
                f"quantity(self).compareTo(quantity('{MIN_BODY_SIZE}')) >= 0 && "
                f"quantity(self).compareTo(quantity('{MAX_BODY_SIZE}')) <= 0",
                BODY_SIZE_RANGE,
                "FieldValueInvalid",
            )
        ),
    )
    controller: Literal["Traefik", "IngressNginx", "Other"] = Field(
        "Other",
        description="The controller serving the Ingress (or the HTTPRoute), for what the "
        "Ingress API cannot say: Traefik: a Middleware `<stack>-body-limit` (traefik.io/"
        "v1alpha1; needs Traefik's kubernetescrd provider) limits the backend's request bodies "
        "to maxBodySize, on the Ingress `<stack>` (the frontend's paths then move to the Ingress "
        "`<stack>-frontend`, whose responses stay unbuffered) or as an ExtensionRef filter of "
        "the HTTPRoute; IngressNginx: the proxy-body-size annotation; Other: only the backend "
        "enforces maxBodySize.",
    )
    trusted_proxies: list[str] = Field(
        PRIVATE_RANGES,
        description="Addresses or CIDR ranges of the proxies in front of the backend (the "
        "ingress controller) whose X-Forwarded-For names the client (FORWARDED_ALLOW_IPS): "
        "per-address login and registration limits key on that client. The backend takes the "
        "rightmost address that is not in these ranges. Default: the private ranges pod and "
        "node networks use; narrow it to the controller's pod or node addresses. Never `*` or "
        "a range holding every address; empty: the connecting peer is the client.",
        max_length=32,
        json_schema_extra={
            "x-items": {"description": "An IP address or CIDR range.", "pattern": IP_OR_CIDR}
        },
    )

    @field_validator("max_body_size")
    @classmethod
    def _body_size_range(cls, value: str) -> str:
        # Mirrors the CEL rule, for specs that skip the API server.
        if (
            not quantity_bytes(MIN_BODY_SIZE)
            <= quantity_bytes(value)
            <= quantity_bytes(MAX_BODY_SIZE)
        ):
            raise ValueError(BODY_SIZE_RANGE)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_ranges(cls, value: list[str]) -> list[str]:
        # Mirrors the backend's check (which also refuses these) for specs that skip the API
        # server; everything trusted would let any client name its own address.
        for entry in value:
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"spec.ingress.trustedProxies: {entry!r} is not an IP address or CIDR range"
                ) from None
            if net.prefixlen == 0:
                raise ValueError(f"spec.ingress.trustedProxies: {entry!r} trusts every client")
        return value


# The Ingress' own settings: meaningless (so refused) when spec.gateway routes the stack instead.
GATEWAY_EXCLUSIVE = (
    "spec.gateway replaces the Ingress: spec.ingress.className, spec.ingress.tls and "
    "spec.ingress.annotations must not be set with it"
)
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class ParentRef(Model):
    """A Gateway the HTTPRoute attaches to (a Gateway API ParentReference of kind Gateway)."""

    name: str = Field(description="Name of the Gateway.", max_length=253, pattern=DNS1123_SUBDOMAIN)
    namespace: str | None = Field(
        None,
        description="Namespace of the Gateway; default: the stack's namespace. The Gateway's "
        "listener must allow routes from the stack's namespace (allowedRoutes.namespaces).",
        max_length=63,
        pattern=DNS1123_LABEL,
    )
    section_name: str | None = Field(
        None,
        description="Name of the Gateway's listener to attach to; empty: every listener that "
        "allows the route.",
        max_length=253,
        pattern=DNS1123_SUBDOMAIN,
    )
    port: int | None = Field(
        None, description="Port of the Gateway's listener to attach to.", ge=1, le=65535
    )


class Gateway(Model):
    """Route the stack with a Gateway API HTTPRoute `<stack>` (gateway.networking.k8s.io/v1)
    instead of the Ingress: the same paths (spec.ingress.extraPaths included) for the given
    host names. RouteReady is True once every parent Gateway accepted the route and resolved
    its backends."""

    parent_refs: list[ParentRef] = Field(
        description="Gateways (and optionally their listeners) the route attaches to.",
        min_length=1,
        max_length=32,
    )
    hostnames: list[str] = Field(
        description="Host names the stack is served on; the first is the stack's URL.",
        min_length=1,
        max_length=16,
        json_schema_extra={
            "x-items": {
                "description": "A DNS-1123 host name.",
                "maxLength": 253,
                "pattern": DNS1123_SUBDOMAIN,
            }
        },
    )
    https: bool = Field(
        False,
        description="The Gateway listeners the route attaches to serve https (they terminate "
        "TLS: protocol HTTPS with certificateRefs). Then status.url is https and the HTTPRoute "
        "sets Strict-Transport-Security on every response (a ResponseHeaderModifier filter).",
    )


# The Prometheus Operator's Duration (monitoring.coreos.com/v1), e.g. 30s, 1m30s.
PROM_DURATION = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
    r"(([0-9]+)ms)?)$"
)


class Otlp(Model):
    """OpenTelemetry tracing of the backend, exported over OTLP/HTTP (off without this)."""

    endpoint: str = Field(
        description="OTLP/HTTP base URL of the collector (OTEL_EXPORTER_OTLP_ENDPOINT), e.g. "
        "http://otel-collector.monitoring:4318; traces go to <endpoint>/v1/traces.",
        max_length=2048,
        pattern=r"^https?://[^\s]+$",
    )
    service_name: str | None = Field(
        None,
        description="service.name of the traces (OTEL_SERVICE_NAME); default <stack>-backend.",
        max_length=128,
    )
    sampler_ratio: float | None = Field(
        None,
        description="Share of traces kept, 0..1 (OTEL_TRACES_SAMPLER_ARG); default: the "
        "backend's (1).",
        ge=0,
        le=1,
    )


class ServiceMonitorSpec(Model):
    """Prometheus Operator ServiceMonitors for this stack (the backend's /metrics, and the
    postgres_exporter's when it runs); needs the monitoring.coreos.com/v1 CRDs."""

    enabled: bool = Field(False, description="Create the ServiceMonitors.")
    labels: dict[str, str] | None = Field(
        None,
        description="Extra labels on the ServiceMonitors, e.g. {release: kube-prometheus-stack} "
        "for a Prometheus that selects monitors by label.",
    )
    interval: str = Field(
        "30s", description="Scrape interval (a Prometheus duration).", pattern=PROM_DURATION
    )


class PostgresExporter(Model):
    """A postgres_exporter sidecar in the Postgres pod, port `metrics` (9187) on the Postgres
    Service; it connects as the stack's database user over loopback."""

    enabled: bool = Field(False, description="Run the sidecar.")
    image: str | None = Field(
        None,
        description="Image of the exporter; default: spec.postgres.image running "
        "prometheus-postgres-exporter (the Dimini Postgres image, images/postgres, carries "
        "Debian's package). With another Postgres image name an exporter image, e.g. "
        "quay.io/prometheuscommunity/postgres-exporter, whose entrypoint is kept.",
        min_length=1,
        max_length=512,
    )
    resources: Resources | None = _resources("exporter")


class Observability(Model):
    """Tracing and Prometheus scraping of the stack (all off by default)."""

    otlp: Otlp | None = None
    service_monitor: ServiceMonitorSpec = Field(default_factory=ServiceMonitorSpec)
    postgres_exporter: PostgresExporter = Field(default_factory=PostgresExporter)


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Config(Model):
    """Non-secret application settings, passed to the backend as environment variables."""

    allowed_origins: list[str] | None = Field(
        None,
        description="CORS origins (ALLOWED_ORIGINS); default: the stack URL.",
        max_length=32,
        json_schema_extra={
            "x-items": {
                "description": "An origin, e.g. https://dimini.example.org.",
                "pattern": r"^https?://",
            }
        },
    )
    similarity_threshold: float = Field(
        0.75,
        description="Cosine similarity (0..1) above which graph nodes are linked "
        "(SIMILARITY_THRESHOLD).",
        ge=0,
        le=1,
    )
    gpt_model: str | None = Field(
        None,
        description="OpenAI chat model for extraction and summaries (GPT_MODEL).",
        max_length=128,
    )
    log_level: LogLevel = Field("INFO", description="Backend log level (LOG_LEVEL).")
    hume_config_id: str | None = Field(
        None, description="Hume EVI configuration id (HUME_CONFIG_ID).", max_length=128
    )
    access_token_expire_minutes: int = Field(
        30, description="JWT lifetime in minutes (ACCESS_TOKEN_EXPIRE_MINUTES).", ge=1, le=10080
    )


class SecretRefs(Model):
    """Secrets with third-party credentials. A missing Secret or key makes the stack Degraded
    (naming the Secret and key) until it appears."""

    openai: SecretRef | None = Field(
        None, description="Secret holding the OpenAI credentials (key OPENAI_API_KEY)."
    )
    hume: SecretRef | None = Field(
        None,
        description="Secret holding the Hume credentials (keys HUME_API_KEY and "
        "HUME_SECRET_KEY, optionally HUME_WEBHOOK_SIGNING_KEY).",
    )


class TokenSecretRef(Model):
    """Secret holding the tunnel token (from `cloudflared tunnel token` or the Cloudflare
    dashboard)."""

    name: str = _secret_name("Name of the Secret in the stack's namespace.")
    key: str = Field("token", description="Key of the token in the Secret.", max_length=253)


class Tunnel(Model):
    """A public URL for Hume's webhooks: a cloudflared Deployment `<stack>-tunnel` runs a
    Cloudflare Tunnel whose public hostname routes to the backend Service
    (`http://<stack>-backend.<namespace>.svc:8000`, configured with the tunnel in Cloudflare).
    status.webhookUrl then holds the URL to paste into Hume."""

    enabled: bool = Field(False, description="Run the tunnel.")
    provider: Literal["cloudflared"] = Field("cloudflared", description="Tunnel implementation.")
    image: str = Field(
        "cloudflare/cloudflared:2025.11.1",
        description="Container image of cloudflared.",
        min_length=1,
        max_length=512,
    )
    token_secret_ref: TokenSecretRef | None = None
    public_hostname: str | None = Field(
        None,
        description="The tunnel's public host name (a DNS-1123 name); the webhook URL is "
        "https://<publicHostname>/api/webhooks/hume.",
        max_length=253,
        pattern=DNS1123_SUBDOMAIN,
    )

    @model_validator(mode="after")
    def _token_and_host_when_enabled(self) -> Tunnel:
        # Mirrors the CEL rule on spec.tunnel, for specs that do not pass the API server.
        if self.enabled and not (self.token_secret_ref and self.public_hostname):
            raise ValueError(TUNNEL_REQUIRED)
        return self


class IngressControllerPeer(Model):
    """Which clients count as the ingress controller (admitted to the backend and the frontend by
    spec.networkPolicies). The defaults select the sandbox's Traefik by labels; a controller on
    the host network (the sandbox's Traefik is one) sends from the node's address, which labels
    cannot select: list that address in ipBlocks."""

    namespace_labels: dict[str, str] = Field(
        {"kubernetes.io/metadata.name": "ingress"},
        description="Labels of the controller's namespace (all must match; {} is any namespace).",
    )
    pod_labels: dict[str, str] = Field(
        {"app.kubernetes.io/name": "traefik"},
        description="Labels of the controller's pods (all must match; {} is every pod).",
    )
    ip_blocks: list[str] | None = Field(
        None,
        description="CIDRs also admitted as the controller, e.g. the nodes' addresses for a "
        "host-network controller or a cloud load balancer's range.",
        max_length=32,
        json_schema_extra={"x-items": {"description": "A CIDR, e.g. 10.88.0.1/32."}},
    )


class NetworkPolicies(Model):
    """Opt-in NetworkPolicies for every component (needs a policy engine in the cluster). The
    Postgres policy (backend, migration and backup pods only) is rendered either way."""

    enabled: bool = Field(
        False,
        description="Render a policy per component admitting only what it needs: the ingress "
        "controller and the tunnel to the backend and the frontend, the frontend to the backend, "
        "the backend and the migration Job to Postgres, DNS, and port 443 out.",
    )
    default_deny: bool = Field(
        False,
        description="Also render `<stack>-default-deny`: no traffic in or out for every pod of "
        "the namespace that no other policy admits (only with enabled).",
    )
    ingress_controller: IngressControllerPeer = Field(default_factory=IngressControllerPeer)
    egress_cidrs: list[str] | None = Field(
        None,
        alias="egressCIDRs",
        description="Where the backend (Hume, OpenAI) and the tunnel (Cloudflare) may connect "
        "outside the cluster, on 443 (and 7844 for the tunnel); empty: any address.",
        max_length=32,
        json_schema_extra={"x-items": {"description": "A CIDR, e.g. 0.0.0.0/0."}},
    )


class Scheduling(Model):
    """Placement applied to every pod of the stack, migration Job included."""

    node_selector: dict[str, str] | None = Field(
        None, description="Node labels a pod's node must have."
    )
    tolerations: list[dict[str, Any]] | None = Field(
        None,
        description="Tolerations (as in a Pod spec).",
        json_schema_extra={"x-items": {"description": "One toleration."}},
    )
    affinity: dict[str, Any] | None = Field(None, description="Affinity (as in a Pod spec).")


class StackSpec(Model):
    """Desired state of one complete Dimini installation."""

    mode: Literal["production", "development"] = Field(
        "production",
        description="production: several uvicorn workers, no reload. development: the backend "
        "reloading on save (app.devserve) and the frontend dev server (for Tilt).",
    )
    paused: bool = Field(
        False, description="Stop reconciling the children; the Paused condition is set."
    )
    deletion_policy: Literal["Retain", "Delete"] = Field(
        "Retain",
        description="Retain keeps the database volume and the `<stack>-db` Secret when the "
        "stack is deleted (a new stack of the same name adopts them); Delete removes them.",
    )
    backend: Backend
    frontend: Frontend
    postgres: Postgres = Field(
        default_factory=Postgres,
        json_schema_extra=_cel(
            _immutable("database", "spec.postgres"),
            _immutable("username", "spec.postgres"),
            _rule(
                "!has(oldSelf.image) || !has(self.image) || has(self.majorUpgrade) || "
                f"{_major('oldSelf.image')} == '' || {_major('self.image')} == '' || "
                f"{_major('self.image')} == {_major('oldSelf.image')}",
                "spec.postgres.image changes the Postgres major version: upgrade the data "
                "directory first and set spec.postgres.majorUpgrade: Manual",
                "FieldValueForbidden",
                ".image",
            ),
            _rule(
                "!has(self.external) || (!has(self.existingSecret) && !has(self.bootstrap) && "
                "!has(self.parameters) && !has(self.resources) && !has(self.majorUpgrade))",
                EXTERNAL_EXCLUSIVE,
                "FieldValueForbidden",
                ".external",
            ),
            _rule(
                "has(self.external) == has(oldSelf.external)",
                EXTERNAL_SWITCH,
                "FieldValueForbidden",
                ".external",
            ),
        ),
    )
    ingress: Ingress = Field(default_factory=Ingress)
    gateway: Gateway | None = Field(
        None,
        description="Route with a Gateway API HTTPRoute instead of the Ingress (which is then "
        "not created); needs the Gateway API CRDs and a Gateway.",
    )
    config: Config = Field(default_factory=Config)
    observability: Observability = Field(default_factory=Observability)
    secret_refs: SecretRefs = Field(default_factory=SecretRefs)
    tunnel: Tunnel = Field(
        default_factory=Tunnel,
        json_schema_extra=_cel(
            _rule(
                "!has(self.enabled) || !self.enabled || (has(self.tokenSecretRef) && "
                "has(self.publicHostname))",
                TUNNEL_REQUIRED,
                "FieldValueRequired",
            )
        ),
    )
    scheduling: Scheduling = Field(default_factory=Scheduling)
    network_policies: NetworkPolicies = Field(default_factory=NetworkPolicies)
    image_pull_secrets: list[SecretRef] | None = Field(
        None,
        description="Secrets (in the stack's namespace) for pulling the images of every pod of "
        "the stack, as a Pod's imagePullSecrets.",
        max_length=16,
    )

    @model_validator(mode="after")
    def _gateway_or_ingress_settings(self) -> StackSpec:
        # Mirrors the CEL rule on spec (SPEC_RULES), for specs that do not pass the API server.
        ing = self.ingress
        if self.gateway and (ing.class_name or ing.tls or ing.annotations):
            raise ValueError(GATEWAY_EXCLUSIVE)
        return self


# Rules across spec's fields (the schema generator puts them on spec itself).
SPEC_RULES = [
    _rule(
        "!has(self.gateway) || !has(self.ingress) || (!has(self.ingress.className) && "
        "!has(self.ingress.tls) && !has(self.ingress.annotations))",
        GATEWAY_EXCLUSIVE,
        "FieldValueForbidden",
        ".gateway",
    )
]


# --- status ---------------------------------------------------------------------------------


class Condition(Model):
    """A standard Kubernetes condition."""

    type: str = Field(
        description="Ready, DatabaseReady, MigrationsApplied, BackendReady, FrontendReady, "
        "IngressReady, RouteReady, TunnelReady, BackupVerified, Reconciling, Stalled, Progressing, "
        "Degraded or Paused."
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str | None = Field(None, description="CamelCase reason of the last transition.")
    message: str | None = Field(None, description="Human-readable details.")
    last_transition_time: str | None = Field(
        None, description="When the status last changed.", json_schema_extra=DATE_TIME
    )
    observed_generation: int | None = Field(
        None,
        description="The .metadata.generation the condition was computed for.",
        json_schema_extra=INT64,
    )


class ComponentStatus(Model):
    """Observed state of a Deployment."""

    image: str | None = Field(None, description="Image the Deployment runs.")
    replicas: int | None = Field(None, description="Desired replicas.")
    ready_replicas: int | None = Field(None, description="Ready replicas.")


class MigrationStatus(Model):
    """The schema migration state."""

    image: str | None = Field(None, description="Backend image whose migration Job last succeeded.")
    revision: str | None = Field(
        None, description="Short hash of that image (the Job name suffix)."
    )
    job: str | None = Field(None, description="Name of the last migration Job.")
    backup: str | None = Field(
        None,
        description="The backup taken and verified before that migration (with "
        "spec.postgres.backup): the one to restore if the upgrade goes wrong.",
    )


class BackupRecord(Model):
    """One backup, as its manifest describes it."""

    name: str | None = Field(None, description="Backup name (files <name>.dump and <name>.json).")
    job: str | None = Field(None, description="The Job that took it.")
    time: str | None = Field(None, description="When it was taken.", json_schema_extra=DATE_TIME)
    verified_at: str | None = Field(
        None, description="When its restore was checked.", json_schema_extra=DATE_TIME
    )
    revision: str | None = Field(None, description="Alembic revision of the database.")
    postgres_version: str | None = Field(None, description="Server version it was dumped from.")
    size: int | None = Field(
        None, description="Size of the dump in bytes.", json_schema_extra=INT64
    )
    sha256: str | None = Field(None, description="SHA-256 of the dump.")
    row_counts: dict[str, int] | None = Field(None, description="Rows per table.")


class BackupFailure(Model):
    """The last backup or verification that failed."""

    name: str | None = Field(None, description="Backup name, when one was written.")
    job: str | None = Field(None, description="The Job that failed.")
    time: str | None = Field(None, description="When it was seen.", json_schema_extra=DATE_TIME)
    message: str | None = Field(None, description="What failed.")


class BackupStatus(Model):
    """Backups: the last one taken, the last one verified (the restore point), the last failure."""

    last_backup: BackupRecord | None = None
    last_verified: BackupRecord | None = None
    last_failure: BackupFailure | None = None
    count: int | None = Field(None, description="Backups on the target after retention.")
    requested: str | None = Field(
        None, description="Value of the dimini.io/backup-now annotation last acted on."
    )
    restored_from: str | None = Field(
        None, description="The backup the database was restored from (bootstrap.fromBackup)."
    )


class RestoreStatus(Model):
    """The last in-place restore (the dimini.io/restore-in-place annotation, docs/backup.md)."""

    request: str | None = Field(
        None, description="Value of the dimini.io/restore-in-place annotation acted on."
    )
    backup: str | None = Field(None, description="The backup being restored.")
    phase: (
        Literal["BackingUp", "ScalingDown", "Restoring", "Migrating", "Restored", "Failed"] | None
    ) = Field(
        None,
        description="BackingUp (the safety backup), ScalingDown (backend to 0), Restoring, "
        "Migrating, then Restored or Failed.",
    )
    reason: str | None = Field(None, description="Why it failed (CamelCase).")
    message: str | None = Field(None, description="What happens or happened.")
    safety_backup: str | None = Field(
        None, description="The backup of the database taken before the restore: the way back."
    )
    database_intact: bool | None = Field(
        None,
        description="After a failure: true when the database is unchanged (the backend serves "
        "again), false when it may be half restored (the backend stays at 0).",
    )


Phase = Literal["Pending", "Provisioning", "Migrating", "Restoring", "Ready", "Degraded", "Paused"]


class StackStatus(Model):
    """Observed state, written by the operator."""

    observed_generation: int | None = Field(
        None,
        description="The .metadata.generation the status was computed for.",
        json_schema_extra=INT64,
    )
    phase: Phase | None = Field(
        None,
        description="Summary: Pending, Provisioning, Migrating, Restoring, Ready, Degraded or "
        "Paused.",
    )
    url: str | None = Field(None, description="Where the stack is served.")
    webhook_url: str | None = Field(
        None, description="Public URL for Hume's webhooks (when spec.tunnel is enabled)."
    )
    version: str | None = Field(
        None, description="Tag of the backend image that is migrated and rolled out."
    )
    conditions: list[Condition] | None = Field(
        None,
        description="Standard conditions, kstatus compatible: Reconciling and Stalled follow "
        "the kstatus convention, every condition carries observedGeneration.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    backend: ComponentStatus | None = None
    frontend: ComponentStatus | None = None
    migration: MigrationStatus | None = None
    backup: BackupStatus | None = None
    restore: RestoreStatus | None = None
