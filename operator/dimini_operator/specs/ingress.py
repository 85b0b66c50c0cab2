"""The Ingress `<stack>`: API and websocket paths to the backend, the rest to the frontend (with
spec.ingress.controller Traefik, in the Ingress `<stack>-frontend`: specs/body_limit.py)."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs import body_limit
from dimini_operator.specs.common import (
    BACKEND_PORT,
    FRONTEND_PORT,
    Manifest,
    Stack,
    metadata,
)

# (path, pathType) routed to the backend. /health and /ready are Prefix, not Exact: Traefik (the
# dev loop's and the e2e sandbox's controller) orders routes by the length of their rule text, so
# `Path(/ready)` loses to the frontend's `PathPrefix(/)`; `PathPrefix(/ready)` wins.
BACKEND_PATHS = [
    ("/api", "Prefix"),
    ("/socket.io", "Prefix"),
    ("/docs", "Prefix"),
    ("/openapi.json", "Exact"),
    ("/health", "Prefix"),
    ("/ready", "Prefix"),
]


def _path(stack: Stack, path: str, path_type: str, component: str) -> dict[str, Any]:
    port = BACKEND_PORT if component == "backend" else FRONTEND_PORT
    return {
        "path": path,
        "pathType": path_type,
        "backend": {"service": {"name": stack.child(component), "port": {"number": port}}},
    }


def splits_frontend(stack: Stack) -> bool:
    """Whether the frontend's paths get an Ingress of their own: Traefik's body limit buffers
    responses too, which would hold back the frontend's streamed pages (and dev chunks)."""
    return body_limit.uses_middleware(stack)


def names(stack: Stack) -> list[str]:
    """The Ingresses `render` makes, the one named like the stack first."""
    if not stack.spec.ingress.enabled or stack.spec.gateway is not None:
        return []
    return [stack.name, stack.child("frontend")] if splits_frontend(stack) else [stack.name]


def _ingress(
    stack: Stack, name: str, paths: list[dict[str, Any]], annotations: dict[str, str]
) -> Manifest:
    ing = stack.spec.ingress
    meta = metadata(stack, name, "ingress")
    if annotations:
        meta["annotations"] = annotations
    spec: dict[str, Any] = {"rules": [{"host": ing.host, "http": {"paths": paths}}]}
    if ing.class_name:
        spec["ingressClassName"] = ing.class_name
    if ing.tls:
        spec["tls"] = [{"hosts": [ing.host], "secretName": ing.tls.secret_name}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def render(stack: Stack) -> list[Manifest]:
    ing = stack.spec.ingress
    if not ing.enabled:
        return []
    extra = ing.extra_paths or []
    paths = [_path(stack, p, t, "backend") for p, t in BACKEND_PATHS]
    paths += [_path(stack, e.path, "Prefix", e.service) for e in extra]
    paths.append(_path(stack, "/", "Prefix", "frontend"))
    user = dict(ing.annotations or {})
    if not splits_frontend(stack):
        annotations = {**tls_annotations(stack), **body_limit.nginx_annotations(stack), **user}
        return [_ingress(stack, stack.name, paths, annotations)]
    backend = [p for p in paths if p["backend"]["service"]["name"] == stack.child("backend")]
    frontend = [p for p in paths if p not in backend]
    # cert-manager makes one Certificate per Ingress and Secret: only the first asks for it.
    return [
        body_limit.middleware(stack),
        _ingress(
            stack,
            stack.name,
            backend,
            {**tls_annotations(stack), **user, **body_limit.traefik_annotations(stack, user)},
        ),
        _ingress(stack, stack.child("frontend"), frontend, user),
    ]


# cert-manager's ingress-shim: an Ingress with one of these and a tls section gets a Certificate
# (named after the Secret) whose certificate cert-manager writes into that Secret.
CERT_MANAGER_ANNOTATIONS = {
    "Issuer": "cert-manager.io/issuer",
    "ClusterIssuer": "cert-manager.io/cluster-issuer",
}


def terminates_tls(stack: Stack) -> bool:
    """Whether the stack's Ingress serves https (the backend then sends HSTS)."""
    ing = stack.spec.ingress
    return stack.spec.gateway is None and ing.enabled and ing.tls is not None


def tls_annotations(stack: Stack) -> dict[str, str]:
    tls = stack.spec.ingress.tls
    if tls is None or tls.issuer_ref is None:
        return {}
    return {CERT_MANAGER_ANNOTATIONS[tls.issuer_ref.kind]: tls.issuer_ref.name}
