"""The DiminiStack CustomResourceDefinition, built in Python.

This module is the single source of the schema: `manifests/crds/diministacks.dimini.io.yaml` is
generated from it (`python -m dimini_operator crd`), a unit test keeps the two in step, and
`specs.defaults.apply_defaults` reads the same defaults so the render functions see exactly what
the API server would store.
"""

from __future__ import annotations

from typing import Any

GROUP = "dimini.io"
VERSION = "v1alpha1"
KIND = "DiminiStack"
PLURAL = "diministacks"
SINGULAR = "diministack"
SHORT_NAMES = ["dimini"]
CRD_NAME = f"{PLURAL}.{GROUP}"

Schema = dict[str, Any]

# DNS-1123 subdomain (what Kubernetes accepts as a host name / object name).
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Resource quantity, binary or decimal suffixes (e.g. 1Gi, 500Mi, 10G).
QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
C_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
PG_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
# Paths the operator routes itself; extra paths must not shadow them.
RESERVED_PATHS = ["/api", "/socket.io", "/docs", "/openapi.json", "/health", "/ready"]
# Environment variables the operator sets and users must not override.
MANAGED_ENV = ["DATABASE_URL", "SECRET_KEY", "DB_USER", "DB_PASSWORD"]


def _s(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def _i(description: str, **extra: Any) -> Schema:
    return {"type": "integer", "format": "int32", "description": description, **extra}


def _b(description: str, default: bool) -> Schema:
    return {"type": "boolean", "description": description, "default": default}


def _o(description: str, properties: dict[str, Schema], **extra: Any) -> Schema:
    return {"type": "object", "description": description, "properties": properties, **extra}


def _image(what: str) -> Schema:
    return _s(
        f"Container image of the {what}, e.g. registry.local/dimini-{what}:1.2.3.",
        minLength=1,
        maxLength=512,
    )


def _resources(what: str) -> Schema:
    quantity: Schema = {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
        "pattern": r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$",
    }
    return _o(
        f"CPU and memory requests and limits of the {what} container (as in a Pod spec).",
        {
            "requests": {
                "type": "object",
                "description": "Minimum resources, e.g. {cpu: 100m, memory: 256Mi}.",
                "additionalProperties": quantity,
            },
            "limits": {
                "type": "object",
                "description": "Maximum resources, e.g. {memory: 512Mi}.",
                "additionalProperties": quantity,
            },
        },
    )


def _replicas(what: str) -> Schema:
    return _i(f"Number of {what} pods when autoscaling is off (at least 1).", minimum=1, default=1)


def _autoscaling(what: str, field: str) -> Schema:
    return _o(
        f"HorizontalPodAutoscaler for the {what} (replaces `replicas` when enabled).",
        {
            "enabled": _b("Create a HorizontalPodAutoscaler for the " + what + ".", False),
            "minReplicas": _i("Lowest replica count (at least 1).", minimum=1, default=1),
            "maxReplicas": _i("Highest replica count (at least 1).", minimum=1, default=3),
            "targetCPUUtilizationPercentage": _i(
                "Average CPU utilisation (percent of requests) the autoscaler aims for.",
                minimum=1,
                maximum=100,
                default=80,
            ),
        },
        default={},
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.minReplicas) || !has(self.maxReplicas) || "
                    "self.minReplicas <= self.maxReplicas",
                    "message": f"{field}.minReplicas must be less than or equal to "
                    f"{field}.maxReplicas",
                    "fieldPath": ".minReplicas",
                    "reason": "FieldValueInvalid",
                }
            ]
        },
    )


def _secret_name(description: str) -> Schema:
    return _s(description, maxLength=253, pattern=DNS1123_SUBDOMAIN)


def spec_schema() -> Schema:
    backend = _o(
        "The FastAPI backend (`uvicorn app.main:socket_app`) and its migration Job.",
        {
            "image": _image("backend"),
            "replicas": _replicas("backend"),
            "workers": _i(
                "Uvicorn worker processes per pod (WEB_CONCURRENCY) in production mode.",
                minimum=1,
                maximum=64,
                default=2,
            ),
            "resources": _resources("backend"),
            "runAsUser": {
                "type": "integer",
                "format": "int64",
                "description": "Numeric uid (and gid, fsGroup) of the backend and migration pods.",
                "minimum": 1,
                "default": 10001,
            },
            "env": {
                "type": "array",
                "description": "Extra environment variables for the backend and migration pods. "
                "DATABASE_URL and SECRET_KEY are managed by the operator and refused here.",
                "maxItems": 64,
                "items": _o(
                    "One environment variable.",
                    {
                        "name": _s(
                            "Variable name (a C identifier).", pattern=C_IDENTIFIER, maxLength=128
                        ),
                        "value": _s("Variable value (plain text; use secretRefs for secrets)."),
                    },
                    required=["name"],
                ),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "x-kubernetes-validations": [
                    {
                        "rule": "self.all(e, !(e.name in "
                        + "["
                        + ", ".join(f"'{n}'" for n in MANAGED_ENV)
                        + "]))",
                        "message": "spec.backend.env must not set "
                        + ", ".join(MANAGED_ENV)
                        + " (managed by the operator)",
                        "reason": "FieldValueForbidden",
                    }
                ],
            },
            "autoscaling": _autoscaling("backend", "spec.backend.autoscaling"),
            "migration": _o(
                "The schema migration Job (`python -m app.migrate`) run before each new image.",
                {
                    "backoffLimit": _i(
                        "Retries of a failed migration pod before the Job fails.",
                        minimum=0,
                        maximum=10,
                        default=1,
                    ),
                    "activeDeadlineSeconds": _i(
                        "Time limit of one migration Job in seconds.",
                        minimum=30,
                        default=600,
                    ),
                    "ttlSecondsAfterFinished": _i(
                        "Seconds a finished migration Job is kept before it is cleaned up.",
                        minimum=0,
                        default=3600,
                    ),
                },
                default={},
            ),
        },
        required=["image"],
    )
    frontend = _o(
        "The Next.js frontend, served same-origin with the backend.",
        {
            "image": _image("frontend"),
            "replicas": _replicas("frontend"),
            "resources": _resources("frontend"),
            "runAsUser": {
                "type": "integer",
                "format": "int64",
                "description": "Numeric uid (and gid, fsGroup) of the frontend pods; 1000 is the "
                "`node` user of the official Node.js images.",
                "minimum": 1,
                "default": 1000,
            },
            "autoscaling": _autoscaling("frontend", "spec.frontend.autoscaling"),
        },
        required=["image"],
    )
    postgres = _o(
        "The Postgres database: a one-replica StatefulSet with a persistent volume.",
        {
            "image": _s(
                "Postgres image (official image layout, runs as uid 70 on alpine).",
                default="postgres:15-alpine",
                minLength=1,
            ),
            "database": _s("Database name. Immutable.", default="dimini", pattern=PG_IDENTIFIER),
            "username": _s(
                "Database owner role. Immutable.", default="dimini", pattern=PG_IDENTIFIER
            ),
            "runAsUser": {
                "type": "integer",
                "format": "int64",
                "description": "Numeric uid (and gid, fsGroup) the postgres container runs as.",
                "minimum": 1,
                "default": 70,
            },
            "storage": _o(
                "The data volume (PVC `data-<stack>-postgres-0`).",
                {
                    "size": _s(
                        "Requested size as a quantity, e.g. 1Gi. Immutable (resize the PVC).",
                        default="1Gi",
                        pattern=QUANTITY,
                    ),
                    "storageClassName": _s(
                        "StorageClass of the volume; empty uses the cluster default. Immutable.",
                        maxLength=253,
                    ),
                },
                default={},
                **{
                    "x-kubernetes-validations": [
                        {
                            "rule": "has(self.storageClassName) == has(oldSelf.storageClassName)"
                            " && (!has(self.storageClassName) ||"
                            " self.storageClassName == oldSelf.storageClassName)",
                            "message": "spec.postgres.storage.storageClassName is immutable",
                            "fieldPath": ".storageClassName",
                            "reason": "FieldValueForbidden",
                        },
                        {
                            "rule": "!has(oldSelf.size) || "
                            "(has(self.size) && self.size == oldSelf.size)",
                            "message": "spec.postgres.storage.size is immutable "
                            "(resize the PersistentVolumeClaim directly)",
                            "fieldPath": ".size",
                            "reason": "FieldValueForbidden",
                        },
                    ]
                },
            ),
            "resources": _resources("postgres"),
            "existingSecret": _secret_name(
                "Bring your own credentials: a Secret with keys `username` and `password` "
                "used instead of the generated `<stack>-db`."
            ),
        },
        default={},
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "!has(oldSelf.database) || "
                    "(has(self.database) && self.database == oldSelf.database)",
                    "message": "spec.postgres.database is immutable",
                    "fieldPath": ".database",
                    "reason": "FieldValueForbidden",
                },
                {
                    "rule": "!has(oldSelf.username) || "
                    "(has(self.username) && self.username == oldSelf.username)",
                    "message": "spec.postgres.username is immutable",
                    "fieldPath": ".username",
                    "reason": "FieldValueForbidden",
                },
            ]
        },
    )
    reserved = "[" + ", ".join(f"'{p}'" for p in RESERVED_PATHS) + "]"
    ingress = _o(
        "The Ingress `<stack>` routing /api, /socket.io, /docs, /openapi.json and /health to "
        "the backend and / to the frontend.",
        {
            "enabled": _b("Create the Ingress.", True),
            "className": _s("IngressClass name; empty uses the cluster default.", maxLength=253),
            "host": _s(
                "Host name the stack is served on (a DNS-1123 name).",
                default="dimini.localhost",
                maxLength=253,
                pattern=DNS1123_SUBDOMAIN,
            ),
            "tls": _o(
                "Serve HTTPS with the certificate in a kubernetes.io/tls Secret.",
                {"secretName": _secret_name("Name of the TLS Secret in the stack's namespace.")},
                required=["secretName"],
            ),
            "annotations": {
                "type": "object",
                "description": "Annotations for the Ingress (controller-specific settings).",
                "additionalProperties": {"type": "string"},
            },
            "extraPaths": {
                "type": "array",
                "description": "Additional path prefixes routed to the backend or the frontend. "
                "They must not shadow the paths the operator routes itself "
                "(" + ", ".join(RESERVED_PATHS) + ") or /.",
                "maxItems": 32,
                "items": _o(
                    "One extra route.",
                    {
                        "path": _s(
                            "Path prefix, starting with /.",
                            pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$",
                            maxLength=256,
                        ),
                        "service": _s(
                            "Which service receives the path.",
                            enum=["backend", "frontend"],
                            default="backend",
                        ),
                    },
                    required=["path"],
                    **{
                        "x-kubernetes-validations": [
                            {
                                "rule": "self.path != '/' && !" + reserved + ".exists(p, "
                                "self.path == p || self.path.startsWith(p + '/'))",
                                "message": "spec.ingress.extraPaths[].path must not shadow /, "
                                + ", ".join(RESERVED_PATHS),
                                "fieldPath": ".path",
                                "reason": "FieldValueForbidden",
                            }
                        ]
                    },
                ),
            },
        },
        default={},
    )
    config = _o(
        "Non-secret application settings, passed to the backend as environment variables.",
        {
            "allowedOrigins": {
                "type": "array",
                "description": "CORS origins (ALLOWED_ORIGINS); default: the stack URL.",
                "maxItems": 32,
                "items": _s("An origin, e.g. https://dimini.example.org.", pattern=r"^https?://"),
            },
            "similarityThreshold": {
                "type": "number",
                "description": "Cosine similarity (0..1) above which graph nodes are linked "
                "(SIMILARITY_THRESHOLD).",
                "minimum": 0,
                "maximum": 1,
                "default": 0.75,
            },
            "gptModel": _s(
                "OpenAI chat model for extraction and summaries (GPT_MODEL).", maxLength=128
            ),
            "logLevel": _s(
                "Backend log level (LOG_LEVEL).",
                enum=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                default="INFO",
            ),
            "humeConfigId": _s("Hume EVI configuration id (HUME_CONFIG_ID).", maxLength=128),
            "accessTokenExpireMinutes": _i(
                "JWT lifetime in minutes (ACCESS_TOKEN_EXPIRE_MINUTES).",
                minimum=1,
                maximum=10080,
                default=30,
            ),
        },
        default={},
    )

    def _ref(what: str, keys: str) -> Schema:
        return _o(
            f"Secret holding the {what} credentials ({keys}).",
            {"name": _secret_name("Name of the Secret in the stack's namespace.")},
            required=["name"],
        )

    secret_refs = _o(
        "Secrets with third-party credentials. A missing Secret or key makes the stack Degraded "
        "(naming the Secret and key) until it appears.",
        {
            "openai": _ref("OpenAI", "key OPENAI_API_KEY"),
            "hume": _ref(
                "Hume",
                "keys HUME_API_KEY and HUME_SECRET_KEY, optionally HUME_WEBHOOK_SIGNING_KEY",
            ),
        },
        default={},
    )
    tunnel = _o(
        "A public URL for Hume's webhooks: a cloudflared Deployment `<stack>-tunnel` runs a "
        "Cloudflare Tunnel whose public hostname routes to the backend Service "
        "(`http://<stack>-backend.<namespace>.svc:8000`, configured with the tunnel in "
        "Cloudflare). status.webhookUrl then holds the URL to paste into Hume.",
        {
            "enabled": _b("Run the tunnel.", False),
            "provider": _s("Tunnel implementation.", enum=["cloudflared"], default="cloudflared"),
            "image": _s(
                "Container image of cloudflared.",
                minLength=1,
                maxLength=512,
                default="cloudflare/cloudflared:2025.11.1",
            ),
            "tokenSecretRef": _o(
                "Secret holding the tunnel token (from `cloudflared tunnel token` or the "
                "Cloudflare dashboard).",
                {
                    "name": _secret_name("Name of the Secret in the stack's namespace."),
                    "key": _s("Key of the token in the Secret.", default="token", maxLength=253),
                },
                required=["name"],
            ),
            "publicHostname": _s(
                "The tunnel's public host name (a DNS-1123 name); the webhook URL is "
                "https://<publicHostname>/api/webhooks/hume.",
                maxLength=253,
                pattern=DNS1123_SUBDOMAIN,
            ),
        },
        default={},
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.enabled) || !self.enabled || (has(self.tokenSecretRef) && "
                    "has(self.publicHostname))",
                    "message": "spec.tunnel.tokenSecretRef and spec.tunnel.publicHostname are "
                    "required when spec.tunnel.enabled is true",
                    "reason": "FieldValueRequired",
                },
            ]
        },
    )
    scheduling = _o(
        "Placement applied to every pod of the stack, migration Job included.",
        {
            "nodeSelector": {
                "type": "object",
                "description": "Node labels a pod's node must have.",
                "additionalProperties": {"type": "string"},
            },
            "tolerations": {
                "type": "array",
                "description": "Tolerations (as in a Pod spec).",
                "items": {
                    "type": "object",
                    "description": "One toleration.",
                    "x-kubernetes-preserve-unknown-fields": True,
                },
            },
            "affinity": {
                "type": "object",
                "description": "Affinity (as in a Pod spec).",
                "x-kubernetes-preserve-unknown-fields": True,
            },
        },
        default={},
    )
    return _o(
        "Desired state of one complete Dimini installation.",
        {
            "mode": _s(
                "production: several uvicorn workers, no reload. development: backend --reload "
                "and the frontend dev server (for Tilt).",
                enum=["production", "development"],
                default="production",
            ),
            "paused": _b("Stop reconciling the children; the Paused condition is set.", False),
            "deletionPolicy": _s(
                "Retain keeps the database volume and the `<stack>-db` Secret when the stack is "
                "deleted (a new stack of the same name adopts them); Delete removes them.",
                enum=["Retain", "Delete"],
                default="Retain",
            ),
            "backend": backend,
            "frontend": frontend,
            "postgres": postgres,
            "ingress": ingress,
            "config": config,
            "secretRefs": secret_refs,
            "tunnel": tunnel,
            "scheduling": scheduling,
        },
        required=["backend", "frontend"],
    )


def status_schema() -> Schema:
    condition = _o(
        "A standard Kubernetes condition.",
        {
            "type": _s(
                "Ready, DatabaseReady, MigrationsApplied, BackendReady, FrontendReady, "
                "IngressReady, Progressing, Degraded or Paused."
            ),
            "status": _s("True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "reason": _s("CamelCase reason of the last transition."),
            "message": _s("Human-readable details."),
            "lastTransitionTime": _s("When the status last changed.", format="date-time"),
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "The .metadata.generation the condition was computed for.",
            },
        },
        required=["type", "status"],
    )
    component = _o(
        "Observed state of a Deployment.",
        {
            "image": _s("Image the Deployment runs."),
            "replicas": _i("Desired replicas."),
            "readyReplicas": _i("Ready replicas."),
        },
    )
    return _o(
        "Observed state, written by the operator.",
        {
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "The .metadata.generation the status was computed for.",
            },
            "phase": _s(
                "Summary: Pending, Provisioning, Migrating, Ready, Degraded or Paused.",
                enum=["Pending", "Provisioning", "Migrating", "Ready", "Degraded", "Paused"],
            ),
            "url": _s("Where the stack is served."),
            "webhookUrl": _s("Public URL for Hume's webhooks (when spec.tunnel is enabled)."),
            "version": _s("Tag of the backend image that is migrated and rolled out."),
            "conditions": {
                "type": "array",
                "description": "Standard conditions (kstatus compatible).",
                "items": condition,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "backend": component,
            "frontend": component,
            "migration": _o(
                "The schema migration state.",
                {
                    "image": _s("Backend image whose migration Job last succeeded."),
                    "revision": _s("Short hash of that image (the Job name suffix)."),
                    "job": _s("Name of the last migration Job."),
                },
            ),
        },
    )


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {
                "app.kubernetes.io/name": "dimini-operator",
                "app.kubernetes.io/part-of": "dimini",
            },
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": KIND + "List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": ["dimini"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                            "description": "Whether the whole stack is ready.",
                        },
                        {
                            "name": "Phase",
                            "type": "string",
                            "jsonPath": ".status.phase",
                            "description": "Summary phase.",
                        },
                        {
                            "name": "Version",
                            "type": "string",
                            "jsonPath": ".status.version",
                            "description": "Backend image tag rolled out.",
                        },
                        {
                            "name": "URL",
                            "type": "string",
                            "jsonPath": ".status.url",
                            "description": "Where the stack is served.",
                        },
                        {
                            "name": "Age",
                            "type": "date",
                            "jsonPath": ".metadata.creationTimestamp",
                        },
                    ],
                    "schema": {
                        "openAPIV3Schema": _o(
                            "DiminiStack is one complete Dimini installation: Postgres, backend, "
                            "frontend, routing and secrets, reconciled by the dimini operator.",
                            {
                                "apiVersion": _s("APIVersion of this object (dimini.io/v1alpha1)."),
                                "kind": _s("Kind of this object (DiminiStack)."),
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                            required=["spec"],
                            **{
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "self.metadata.name.size() <= 40 && "
                                        "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
                                        "message": "metadata.name must be a DNS-1035 label of at "
                                        "most 40 characters (children are named <name>-<part>)",
                                        "reason": "FieldValueInvalid",
                                    }
                                ]
                            },
                        )
                    },
                }
            ],
        },
    }


def crd_yaml() -> str:
    import yaml

    header = (
        "# Generated by `python -m dimini_operator crd` from operator/dimini_operator/crd.py;\n"
        "# edit that file, not this one.\n"
    )
    return header + yaml.safe_dump(crd(), sort_keys=False, width=100)
