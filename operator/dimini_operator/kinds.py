"""The one registry of the kinds the operator touches.

Everything else is derived from it: kopf's watches, the listing of a stack's children, pruning,
the lightkube resource classes, and the chart's RBAC rules (generated between markers in
charts/dimini-operator/templates/rbac.yaml by `make manifests`; a unit test fails on drift).
Adding a child kind means adding one line here.
"""

from __future__ import annotations

from dataclasses import dataclass

from dimini_operator import crd

# Children are written by server-side apply (create + patch) and pruned by delete.
APPLIED = ("list", "watch", "create", "patch", "delete")
# Server-side label selectors of the watches: the API server filters, so a cluster-wide operator
# never streams the cluster's other objects through Python. Secrets use part-of=dimini, which
# the operator's own Secrets carry and users add to referenced Secrets to have a change seen at
# once (an unlabelled one is re-read on each reconcile and, while missing, every few seconds).
MANAGED = "app.kubernetes.io/managed-by=dimini-operator"
PART_OF = "app.kubernetes.io/part-of=dimini"
# Page size of initial listings and of the per-reconcile child lists.
CHUNK_SIZE = 500


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    verbs: tuple[str, ...]
    # Deleted when no longer desired. Never Secrets (generated credentials) or Jobs (their TTL
    # removes finished ones).
    pruned: bool = False
    watch_selector: str = MANAGED
    # Served only when its CRD is installed (Gateway API): listed as empty while it is not, and
    # kopf (no resource scanning) watches it only if it was there when the operator started.
    optional: bool = False

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]


# Children of a stack: listed per reconcile and watched (by label) to trigger one.
CHILDREN: tuple[Kind, ...] = (
    # get: referenced (user) Secrets are read by name and hashed.
    Kind("v1", "Secret", "secrets", ("get", "list", "watch", "create", "patch"), False, PART_OF),
    Kind("v1", "ServiceAccount", "serviceaccounts", APPLIED, pruned=True),
    Kind("v1", "Service", "services", APPLIED, pruned=True),
    Kind("apps/v1", "StatefulSet", "statefulsets", APPLIED, pruned=True),
    Kind("apps/v1", "Deployment", "deployments", APPLIED, pruned=True),
    # Jobs are created once, never patched or deleted.
    Kind("batch/v1", "Job", "jobs", ("list", "watch", "create")),
    Kind("networking.k8s.io/v1", "Ingress", "ingresses", APPLIED, pruned=True),
    Kind("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", APPLIED, True, optional=True),
    # Traefik's body limit (specs/body_limit.py), with spec.ingress.controller Traefik.
    Kind("traefik.io/v1alpha1", "Middleware", "middlewares", APPLIED, True, optional=True),
    Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", APPLIED, pruned=True),
    Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", APPLIED, pruned=True),
    Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", APPLIED, True),
    Kind(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        "servicemonitors",
        APPLIED,
        True,
        optional=True,
    ),
    # Backups (specs/backup.py): the scripts and the schedule.
    Kind("v1", "ConfigMap", "configmaps", APPLIED, pruned=True),
    Kind("batch/v1", "CronJob", "cronjobs", APPLIED, pruned=True),
)
# The data volume claim (created by the StatefulSet controller): read to tell a lost `-db`
# Secret from a new stack, patched for Argo-safe metadata under deletionPolicy Retain and to
# grow it (specs/storage.py); the
# backup claim `<stack>-backups` is created once (specs/backup.py).
VOLUME = Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims", ("get", "create", "patch"))
# The data claim's StorageClass, read only to grow the claim (specs/storage.py): cluster-scoped,
# so granted by the chart's `<release>-crd` ClusterRole, bound cluster-wide whatever rbac.scope
# (a RoleBinding cannot grant it); not in RBAC_KINDS, which are granted per namespace.
STORAGE_CLASS = Kind("storage.k8s.io/v1", "StorageClass", "storageclasses", ("get",))
# Backup pods: their containers' termination messages carry the backup's and the verification's
# result (specs/backup.py). Read per reconcile of a stack with backups, not watched (the Job is).
POD = Kind("v1", "Pod", "pods", ("list",))
# Leader election (handlers/leader.py).
LEASE = Kind("coordination.k8s.io/v1", "Lease", "leases", ("get", "create", "patch"))
STACK = Kind(f"{crd.GROUP}/{crd.VERSION}", crd.KIND, crd.PLURAL, ("get", "list", "watch"))
STACK_STATUS = Kind(STACK.api_version, crd.KIND, f"{crd.PLURAL}/status", ("patch",))
EVENT = Kind("v1", "Event", "events", ("create",))

BY_KIND: dict[str, Kind] = {k.kind: k for k in (*CHILDREN, VOLUME, POD, LEASE, STACK, EVENT)}
PRUNED: frozenset[str] = frozenset(k.kind for k in CHILDREN if k.pruned)


# Every kind the operator's role grants verbs on (rbac.yaml; `helm test` checks them: selfcheck).
RBAC_KINDS: tuple[Kind, ...] = (STACK, STACK_STATUS, *CHILDREN, VOLUME, POD, EVENT, LEASE)


def rbac_rules() -> list[dict[str, list[str]]]:
    """The ClusterRole's rules: one rule per (API group, verbs), in registry order."""
    rules: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for k in RBAC_KINDS:
        rules.setdefault((k.group, k.verbs), []).append(k.plural)
    return [
        {"apiGroups": [group], "resources": plurals, "verbs": list(verbs)}
        for (group, verbs), plurals in rules.items()
    ]


def rbac_rules_yaml(indent: int = 2) -> str:
    """`rbac_rules()` in the flow style the chart template uses."""
    pad = " " * indent
    lines = []
    for rule in rbac_rules():
        group = rule["apiGroups"][0] or '""'
        lines.append(f"{pad}- apiGroups: [{group}]")
        lines.append(f"{pad}  resources: [{', '.join(rule['resources'])}]")
        lines.append(f"{pad}  verbs: [{', '.join(rule['verbs'])}]")
    return "\n".join(lines) + "\n"
