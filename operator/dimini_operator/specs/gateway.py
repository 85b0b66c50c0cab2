"""The HTTPRoute `<stack>` (Gateway API) used instead of the Ingress when spec.gateway is set,
and RouteReady from the route's status: accepted by every parent Gateway, backends resolved."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs import body_limit, ingress
from dimini_operator.specs.common import (
    BACKEND_PORT,
    FRONTEND_PORT,
    Manifest,
    Stack,
    metadata,
)
from dimini_operator.specs.model import ParentRef

GROUP = "gateway.networking.k8s.io"
API_VERSION = f"{GROUP}/v1"
KIND = "HTTPRoute"
# Ingress pathType -> HTTPRoute path match type (both Prefix kinds match whole path elements).
PATH_TYPES = {"Prefix": "PathPrefix", "Exact": "Exact"}


def _parent_ref(ref: ParentRef) -> dict[str, Any]:
    out: dict[str, Any] = {"group": GROUP, "kind": "Gateway", "name": ref.name}
    if ref.namespace:
        out["namespace"] = ref.namespace
    if ref.section_name:
        out["sectionName"] = ref.section_name
    if ref.port:
        out["port"] = ref.port
    return out


# What the backend sends behind an https Ingress (backend/app/core/middleware.py HSTS): a year,
# subdomains included. The operator cannot import the backend; test_gateway holds them equal.
HSTS = "max-age=31536000; includeSubDomains"


def hsts_filters(stack: Stack) -> list[dict[str, Any]]:
    """Behind an https Gateway every response, the frontend's too, carries HSTS (`set`, so the
    header is there once whatever the backend sends)."""
    gw = stack.spec.gateway
    if gw is None or not gw.https:
        return []
    header = {"name": "Strict-Transport-Security", "value": HSTS}
    return [{"type": "ResponseHeaderModifier", "responseHeaderModifier": {"set": [header]}}]


def _match(path: str, path_type: str) -> dict[str, Any]:
    return {"path": {"type": PATH_TYPES[path_type], "value": path}}


def render(stack: Stack) -> list[Manifest]:
    gw = stack.spec.gateway
    if gw is None:
        return []
    extra = stack.spec.ingress.extra_paths or []
    to_backend = [_match(p, t) for p, t in ingress.BACKEND_PATHS]
    to_backend += [_match(e.path, "Prefix") for e in extra if e.service == "backend"]
    to_frontend = [_match(e.path, "Prefix") for e in extra if e.service == "frontend"]
    to_frontend.append(_match("/", "Prefix"))
    backend_rule: dict[str, Any] = {
        "matches": to_backend,
        "backendRefs": [{"name": stack.child("backend"), "port": BACKEND_PORT}],
    }
    hsts = hsts_filters(stack)
    filters = body_limit.route_filters(stack) + hsts
    if filters:
        backend_rule["filters"] = filters
    frontend_rule: dict[str, Any] = {
        "matches": to_frontend,
        "backendRefs": [{"name": stack.child("frontend"), "port": FRONTEND_PORT}],
    }
    if hsts:
        frontend_rule["filters"] = hsts
    middleware = [body_limit.middleware(stack)] if body_limit.uses_middleware(stack) else []
    return [
        *middleware,
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": metadata(stack, stack.name, "ingress"),
            "spec": {
                "parentRefs": [_parent_ref(r) for r in gw.parent_refs],
                "hostnames": list(gw.hostnames),
                "rules": [backend_rule, frontend_rule],
            },
        },
    ]


def _same_parent(stack: Stack, ref: ParentRef, reported: dict[str, Any]) -> bool:
    """Whether a status.parents[].parentRef is `ref` (the API server defaults group and kind)."""
    return (
        reported.get("group", GROUP) == GROUP
        and reported.get("kind", "Gateway") == "Gateway"
        and reported.get("name") == ref.name
        and reported.get("namespace", stack.namespace) == (ref.namespace or stack.namespace)
        and reported.get("sectionName") == ref.section_name
        and reported.get("port") == ref.port
    )


def _condition(parent: dict[str, Any], ctype: str, generation: int) -> dict[str, Any] | None:
    for cond in parent.get("conditions") or []:
        # A verdict on an older spec of the route says nothing about this one.
        if cond.get("type") == ctype and int(cond.get("observedGeneration") or 0) >= generation:
            return dict(cond)
    return None


def route_ready(stack: Stack, route: dict[str, Any] | None) -> tuple[bool, str, str]:
    """(ready, reason, message) of the HTTPRoute for its parents' verdicts: every parentRef of
    the spec needs Accepted=True and ResolvedRefs=True for the route's current generation."""
    gw = stack.spec.gateway
    assert gw is not None
    if route is None:
        return False, "NotCreated", "HTTPRoute not created yet"
    generation = int((route.get("metadata") or {}).get("generation") or 0)
    parents = (route.get("status") or {}).get("parents") or []
    for ref in gw.parent_refs:
        where = f"Gateway {ref.namespace or stack.namespace}/{ref.name}" + (
            f" listener {ref.section_name}" if ref.section_name else ""
        )
        mine = [p for p in parents if _same_parent(stack, ref, p.get("parentRef") or {})]
        verdicts = [(_condition(p, "Accepted", generation), p) for p in mine]
        accepted = [c for c, _ in verdicts if c is not None]
        if not accepted:
            return False, "Pending", f"{where} has not accepted the HTTPRoute yet"
        refused = next((c for c in accepted if c.get("status") != "True"), None)
        if refused is not None:
            reason = str(refused.get("reason") or "NotAccepted")
            detail = f": {refused['message']}" if refused.get("message") else ""
            return False, reason, f"{where} refused the HTTPRoute ({reason}){detail}"
        for _, parent in verdicts:
            resolved = _condition(parent, "ResolvedRefs", generation)
            if resolved is None or resolved.get("status") != "True":
                reason = str((resolved or {}).get("reason") or "ResolvedRefs")
                detail = f": {resolved['message']}" if resolved and resolved.get("message") else ""
                return False, reason, f"{where}: backends of the HTTPRoute not resolved{detail}"
    return True, "Accepted", f"serving {stack.url} through {len(gw.parent_refs)} Gateway(s)"
