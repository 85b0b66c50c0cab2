"""Names, labels, owner references and security settings shared by every child."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from dimini_operator import crd
from dimini_operator.specs.model import PodOptions, Resources, StackSpec

Manifest = dict[str, Any]

FIELD_MANAGER = "dimini-operator"
MANAGED_BY = "dimini-operator"
PART_OF = "dimini"
APP_NAME = "dimini"
HASH_ANNOTATION = "dimini.io/applied-hash"
CHECKSUM_ANNOTATION = "dimini.io/config-checksum"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
# On what deletionPolicy Retain leaves ownerless (the `-db` Secret, the data volume claim), in
# place of app.kubernetes.io/instance: Argo CD < 3.0 tracks resources by that label, and with
# auto-prune it would delete data it finds carrying its application's name but not in Git.
LABEL_STACK = "dimini.io/stack"
RETAINED_ANNOTATIONS = {
    "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
    "argocd.argoproj.io/compare-options": "IgnoreExtraneous",
}

BACKEND_PORT = 8000
FRONTEND_PORT = 3000
POSTGRES_PORT = 5432


@dataclass(frozen=True)
class Stack:
    """The parts of a DiminiStack the render functions need; `spec` is validated and defaulted."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: StackSpec

    def child(self, part: str) -> str:
        return f"{self.name}-{part}"

    @property
    def db_secret_name(self) -> str:
        pg = self.spec.postgres
        if pg.external:
            return pg.external.credentials_secret_ref.name
        return pg.existing_secret or self.child("db")

    @property
    def app_secret_name(self) -> str:
        return self.child("app")

    @property
    def url(self) -> str:
        if self.spec.gateway:
            # TLS is the Gateway listener's business: spec.gateway.https says it serves https.
            scheme = "https" if self.spec.gateway.https else "http"
            return f"{scheme}://{self.spec.gateway.hostnames[0]}"
        ingress = self.spec.ingress
        if ingress.enabled:
            scheme = "https" if ingress.tls else "http"
            return f"{scheme}://{ingress.host}"
        return f"http://{self.child('frontend')}.{self.namespace}.svc:{FRONTEND_PORT}"


def selector_labels(stack: Stack, component: str) -> dict[str, str]:
    return {LABEL_NAME: APP_NAME, LABEL_INSTANCE: stack.name, LABEL_COMPONENT: component}


def labels(stack: Stack, component: str) -> dict[str, str]:
    return {
        **selector_labels(stack, component),
        LABEL_PART_OF: PART_OF,
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def owner_reference(stack: Stack) -> dict[str, Any]:
    return {
        "apiVersion": f"{crd.GROUP}/{crd.VERSION}",
        "kind": crd.KIND,
        "name": stack.name,
        "uid": stack.uid,
        "controller": True,
        # No blockOwnerDeletion: with the OwnerReferencesPermissionEnforcement admission plugin
        # it would need `update` on diministacks/finalizers, which the operator does not use.
    }


def metadata(stack: Stack, name: str, component: str, *, owned: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": stack.namespace,
        "labels": labels(stack, component),
    }
    if owned:
        meta["ownerReferences"] = [owner_reference(stack)]
    return meta


def retained(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata of an object that outlives its stack: no instance label, keep annotations."""
    labels = dict(meta.get("labels") or {})
    stack = labels.pop(LABEL_INSTANCE, None) or labels.get(LABEL_STACK)
    if stack:
        labels[LABEL_STACK] = stack
    annotations = {**(meta.get("annotations") or {}), **RETAINED_ANNOTATIONS}
    return {**meta, "labels": labels, "annotations": annotations}


def retained_patch(obj: dict[str, Any], stack: str) -> dict[str, Any] | None:
    """Merge patch that makes a live object's metadata `retained(...)`, or None if it is."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    patch: dict[str, Any] = {}
    label_patch: dict[str, Any] = {}
    if LABEL_INSTANCE in labels:
        label_patch[LABEL_INSTANCE] = None
    if labels.get(LABEL_STACK) != stack:
        label_patch[LABEL_STACK] = stack
    if label_patch:
        patch["labels"] = label_patch
    missing = {k: v for k, v in RETAINED_ANNOTATIONS.items() if annotations.get(k) != v}
    if missing:
        patch["annotations"] = missing
    return {"metadata": patch} if patch else None


def digest(value: Any, length: int = 16) -> str:
    """Stable short hash of a JSON-serialisable value."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()[:length]


def image_hash(image: str) -> str:
    return hashlib.sha256(image.encode()).hexdigest()[:10]


def image_tag(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return last.split("@", 1)[1][:19]
    return last.split(":", 1)[1] if ":" in last else "latest"


def pod_security_context(uid: int) -> dict[str, Any]:
    """Pod-level settings that satisfy the `restricted` Pod Security Standard."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(*, read_only_root: bool) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


# Keep serving for a few seconds after a pod is told to stop: the ingress controller and
# kube-proxy drop it from their endpoints asynchronously, and requests still routed to it in
# that window would fail during every rolling update. The kubelet sleeps (no binary needed).
DRAIN_SECONDS = 5


def drain_lifecycle() -> dict[str, Any]:
    return {"preStop": {"sleep": {"seconds": DRAIN_SECONDS}}}


def scheduling(stack: Stack) -> dict[str, Any]:
    """nodeSelector / tolerations / affinity for every pod of the stack."""
    sched = stack.spec.scheduling
    out: dict[str, Any] = {}
    if sched.node_selector:
        out["nodeSelector"] = dict(sched.node_selector)
    if sched.tolerations:
        out["tolerations"] = [dict(t) for t in sched.tolerations]
    if sched.affinity:
        out["affinity"] = dict(sched.affinity)
    return out


def pod_options(stack: Stack, options: PodOptions | None) -> dict[str, Any]:
    """Pod spec fields from the spec: placement, pull secrets, priority, topology spread."""
    out = scheduling(stack)
    if stack.spec.image_pull_secrets:
        out["imagePullSecrets"] = [{"name": s.name} for s in stack.spec.image_pull_secrets]
    if options is not None and options.priority_class_name:
        out["priorityClassName"] = options.priority_class_name
    if options is not None and options.topology_spread_constraints:
        out["topologySpreadConstraints"] = [dict(c) for c in options.topology_spread_constraints]
    return out


def pod_metadata(
    stack: Stack,
    component: str,
    options: PodOptions | None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A pod template's metadata: the user's extra labels/annotations under the operator's."""
    extra_labels = options.pod_labels if options else None
    extra_annotations = options.pod_annotations if options else None
    meta: dict[str, Any] = {"labels": {**(extra_labels or {}), **labels(stack, component)}}
    merged = {**(extra_annotations or {}), **(annotations or {})}
    if merged:
        meta["annotations"] = merged
    return meta


def resources(res: Resources | None) -> dict[str, Any]:
    return res.as_dict() if res else {}


def with_hash(manifest: Manifest) -> Manifest:
    """Stamp the manifest with a hash of itself (lets the applier skip unchanged objects).

    Secret `data` is left out of the hash (no derivative of credentials in annotations); the
    applier compares it field by field instead.
    """
    hashed = {k: v for k, v in manifest.items() if k != "data"}
    manifest["metadata"].setdefault("annotations", {})[HASH_ANNOTATION] = digest(hashed)
    return manifest


def http_service(stack: Stack, component: str, port: int) -> Manifest:
    """ClusterIP Service `<stack>-<component>` to the pods' `http` port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(stack, stack.child(component), component),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(stack, component),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }
