"""spec.ingress.maxBodySize at the ingress controller, so an oversized body is refused before it
crosses the controller (the backend refuses it too: MAX_REQUEST_BODY_BYTES).

The Ingress API has no body limit, so it is per controller (spec.ingress.controller): Traefik
through a buffering Middleware on the backend's routes, ingress-nginx through an annotation.
"""

from __future__ import annotations

from typing import Any

from dimini_operator.specs.common import Manifest, Stack, metadata
from dimini_operator.specs.model import quantity_bytes

MIDDLEWARE_API_VERSION = "traefik.io/v1alpha1"
MIDDLEWARE_GROUP = "traefik.io"
MIDDLEWARE_KIND = "Middleware"
# Traefik's Ingress provider: comma-separated `<namespace>-<name>@<provider>` references.
TRAEFIK_MIDDLEWARES = "traefik.ingress.kubernetes.io/router.middlewares"
NGINX_BODY_SIZE = "nginx.ingress.kubernetes.io/proxy-body-size"


def max_bytes(stack: Stack) -> int:
    return quantity_bytes(stack.spec.ingress.max_body_size)


def middleware_name(stack: Stack) -> str:
    return stack.child("body-limit")


def uses_middleware(stack: Stack) -> bool:
    return stack.spec.ingress.controller == "Traefik"


def middleware(stack: Stack) -> Manifest:
    """Traefik's buffering Middleware: a body over the limit gets 413 from Traefik. It buffers
    the whole request (in memory up to Traefik's default 1 MiB, then on disk) and the response."""
    return {
        "apiVersion": MIDDLEWARE_API_VERSION,
        "kind": MIDDLEWARE_KIND,
        "metadata": metadata(stack, middleware_name(stack), "ingress"),
        "spec": {"buffering": {"maxRequestBodyBytes": max_bytes(stack)}},
    }


def traefik_annotations(stack: Stack, user: dict[str, str]) -> dict[str, str]:
    """The Ingress annotation naming the Middleware, ahead of any the user lists there."""
    ours = f"{stack.namespace}-{middleware_name(stack)}@kubernetescrd"
    theirs = user.get(TRAEFIK_MIDDLEWARES, "")
    return {TRAEFIK_MIDDLEWARES: ",".join(m for m in (ours, theirs) if m)}


def nginx_annotations(stack: Stack) -> dict[str, str]:
    if stack.spec.ingress.controller != "IngressNginx":
        return {}
    # nginx's size syntax takes plain bytes.
    return {NGINX_BODY_SIZE: str(max_bytes(stack))}


def route_filters(stack: Stack) -> list[dict[str, Any]]:
    """HTTPRoute filters of the backend's rule: the Middleware as Traefik's ExtensionRef."""
    if not uses_middleware(stack):
        return []
    ref = {"group": MIDDLEWARE_GROUP, "kind": MIDDLEWARE_KIND, "name": middleware_name(stack)}
    return [{"type": "ExtensionRef", "extensionRef": ref}]
