"""spec.gateway: the HTTPRoute render and RouteReady from the route's parent status (pure)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from dimini_operator import kinds
from dimini_operator.handlers.kube import Kube
from dimini_operator.handlers.reconcile import _list_children
from dimini_operator.specs import backend, gateway, ingress
from dimini_operator.specs.common import Stack
from dimini_operator.specs.plan import Observed, plan_migration, prunable, render
from dimini_operator.specs.status import derive
from lightkube import ApiError, AsyncClient
from pydantic import ValidationError

from tests.operator.unit.conftest import make_stack, sample_body
from tests.operator.unit.test_retry import CONFIG, status
from tests.operator.unit.test_status import T0, _conds, converged

GATEWAY: dict[str, list[Any]] = {
    "parentRefs": [{"name": "shared", "namespace": "ingress", "sectionName": "web"}],
    "hostnames": ["dimini.example.org"],
}


def gateway_stack(**overrides: Any) -> Stack:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["ingress"] = {"host": "ignored.localhost"}
    spec["gateway"] = {**copy.deepcopy(GATEWAY), **overrides}
    return make_stack(spec)


def _route(stack: Stack) -> dict[str, Any]:
    (route,) = gateway.render(stack)
    return route


def _paths(rule: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["path"]["value"], m["path"]["type"]) for m in rule["matches"]]


def test_no_gateway_no_route(stack: Stack) -> None:
    assert gateway.render(stack) == []


def test_the_route_has_the_ingress_routes_for_our_hosts_and_parents() -> None:
    stack = gateway_stack()
    route = _route(stack)
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["kind"] == "HTTPRoute"
    assert route["metadata"]["name"] == "demo"
    assert route["metadata"]["ownerReferences"][0]["kind"] == "DiminiStack"
    assert route["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "dimini-operator"
    assert route["spec"]["hostnames"] == ["dimini.example.org"]
    assert route["spec"]["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "shared",
            "namespace": "ingress",
            "sectionName": "web",
        }
    ]
    backend_rule, frontend_rule = route["spec"]["rules"]
    # The same table as the Ingress (socket.io included: upgrades are proxied as such).
    assert _paths(backend_rule) == [
        (p, "PathPrefix" if t == "Prefix" else "Exact") for p, t in ingress.BACKEND_PATHS
    ]
    assert ("/socket.io", "PathPrefix") in _paths(backend_rule)
    assert backend_rule["backendRefs"] == [{"name": "demo-backend", "port": 8000}]
    assert _paths(frontend_rule) == [("/", "PathPrefix")]
    assert frontend_rule["backendRefs"] == [{"name": "demo-frontend", "port": 3000}]


def test_extra_paths_go_to_their_service() -> None:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["ingress"] = {
        "extraPaths": [{"path": "/metrics-ui"}, {"path": "/help", "service": "frontend"}]
    }
    spec["gateway"] = copy.deepcopy(GATEWAY)
    backend_rule, frontend_rule = _route(make_stack(spec))["spec"]["rules"]
    assert ("/metrics-ui", "PathPrefix") in _paths(backend_rule)
    assert _paths(frontend_rule) == [("/help", "PathPrefix"), ("/", "PathPrefix")]


def test_a_parent_ref_without_namespace_or_section_names_neither() -> None:
    route = _route(gateway_stack(parentRefs=[{"name": "gw"}]))
    assert route["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}
    ]


def test_the_gateway_replaces_the_ingress_and_sets_the_url() -> None:
    stack = gateway_stack()
    obs = Observed(db_password="pw", secret_key="sk")
    kinds_rendered = {m["kind"] for m in render(stack, obs).apply}
    assert "HTTPRoute" in kinds_rendered and "Ingress" not in kinds_rendered
    assert stack.url == "http://dimini.example.org"


def test_gateway_with_ingress_only_settings_is_refused() -> None:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["gateway"] = copy.deepcopy(GATEWAY)
    spec["ingress"] = {"className": "traefik"}
    with pytest.raises(ValidationError, match=r"spec\.gateway"):
        make_stack(spec)


def test_httproute_is_a_pruned_optional_child_with_rbac() -> None:
    kind = kinds.BY_KIND["HTTPRoute"]
    assert kind in kinds.CHILDREN and kind.pruned and kind.optional
    assert kind.api_version == "gateway.networking.k8s.io/v1"
    assert {
        "apiGroups": ["gateway.networking.k8s.io"],
        "resources": ["httproutes"],
        "verbs": list(kinds.APPLIED),
    } in kinds.rbac_rules()


# --- RouteReady from status.parents ----------------------------------------------------------


def parent_status(
    accepted: str = "True",
    resolved: str = "True",
    *,
    reason: str = "Accepted",
    generation: int = 1,
    ref: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "parentRef": ref
        or {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "shared",
            "namespace": "ingress",
            "sectionName": "web",
        },
        "controllerName": "traefik.io/gateway-controller",
        "conditions": [
            {"type": "Accepted", "status": accepted, "reason": reason, "message": "",
             "observedGeneration": generation},
            {"type": "ResolvedRefs", "status": resolved, "reason": "ResolvedRefs", "message": "",
             "observedGeneration": generation},
        ],
    }  # fmt: skip


def observed_route(stack: Stack, *parents: dict[str, Any], generation: int = 1) -> Observed:
    obs = converged(stack)
    route = _route(stack)
    route["metadata"]["generation"] = generation
    route["status"] = {"parents": list(parents)}
    children = {k: v for k, v in obs.children.items() if k[0] != "Ingress"}
    children[("HTTPRoute", stack.name)] = route
    return Observed(
        db_password="pw", secret_key="sk", children=children, applied_image=obs.applied_image
    )


def _derive(stack: Stack, obs: Observed) -> dict[str, Any]:
    return derive(stack, obs, plan_migration(stack, obs), old_status={}, now=T0, paused=False)


def test_an_accepted_route_with_resolved_refs_is_ready() -> None:
    stack = gateway_stack()
    st = _derive(stack, observed_route(stack, parent_status()))
    conds = _conds(st)
    assert conds["RouteReady"]["status"] == "True", conds["RouteReady"]
    assert conds["IngressReady"]["status"] == "True"
    assert st["phase"] == "Ready"
    assert st["url"] == "http://dimini.example.org"


@pytest.mark.parametrize(
    ("parents", "reason"),
    [
        ((), "Pending"),
        ((parent_status("False", reason="NotAllowedByListeners"),), "NotAllowedByListeners"),
        ((parent_status("False", reason="NoMatchingParent"),), "NoMatchingParent"),
        ((parent_status(resolved="False"),), "ResolvedRefs"),
        # Another Gateway accepted it, ours did not answer.
        ((parent_status(ref={"name": "other", "namespace": "ingress"}),), "Pending"),
        ((parent_status(ref={"name": "shared", "namespace": "ingress", "sectionName": "x"}),),
         "Pending"),
    ],
)  # fmt: skip
def test_route_not_ready_unless_our_parent_accepted_it(
    parents: tuple[dict[str, Any], ...], reason: str
) -> None:
    stack = gateway_stack()
    st = _derive(stack, observed_route(stack, *parents))
    conds = _conds(st)
    assert conds["RouteReady"]["status"] == "False"
    assert conds["RouteReady"]["reason"] == reason, conds["RouteReady"]
    assert conds["IngressReady"]["status"] == "False"
    assert st["phase"] != "Ready" and conds["Ready"]["status"] == "False"


def test_acceptance_of_an_older_generation_does_not_count() -> None:
    stack = gateway_stack()
    st = _derive(stack, observed_route(stack, parent_status(generation=1), generation=2))
    assert _conds(st)["RouteReady"]["status"] == "False"
    assert _conds(st)["RouteReady"]["reason"] == "Pending"


def test_every_parent_must_accept() -> None:
    other = {"name": "second", "namespace": "ingress"}
    stack = gateway_stack(parentRefs=[*GATEWAY["parentRefs"], other])
    ok = parent_status()
    assert _conds(_derive(stack, observed_route(stack, ok)))["RouteReady"]["status"] == "False"
    both = observed_route(stack, ok, parent_status(ref={**other, "kind": "Gateway"}))
    assert _conds(_derive(stack, both))["RouteReady"]["status"] == "True"


def test_route_ready_follows_the_ingress_without_a_gateway(stack: Stack) -> None:
    conds = _conds(_derive(stack, converged(stack)))
    assert conds["RouteReady"]["status"] == conds["IngressReady"]["status"] == "True"


# --- an optional kind whose CRD is not installed ----------------------------------------------


def kube(handler: Callable[[httpx2.Request], httpx2.Response]) -> Kube:
    return Kube(AsyncClient(CONFIG, transport=httpx2.MockTransport(handler)))


def test_a_missing_optional_crd_lists_as_none_and_a_core_404_still_raises() -> None:

    def not_found(request: httpx2.Request) -> httpx2.Response:
        # What an API server answers for a group it does not serve: a bare 404 page.
        return httpx2.Response(
            404, content=b"404 page not found\n", headers={"Content-Type": "text/plain"}
        )

    client = kube(not_found)
    assert asyncio.run(_list_children(client, kinds.BY_KIND["HTTPRoute"], gateway_stack())) == []
    notfound = status(404, "NotFound", "the server could not find the requested resource")

    def core(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(404, json=notfound)

    with pytest.raises(ApiError):
        asyncio.run(_list_children(kube(core), kinds.BY_KIND["Deployment"], gateway_stack()))


def test_leaving_the_gateway_prunes_the_route() -> None:
    stack = make_stack()  # the sample: the Ingress
    route = _route(gateway_stack())
    obs = Observed(db_password="pw", secret_key="sk", children={("HTTPRoute", "demo"): route})
    assert ("HTTPRoute", "demo") in prunable(stack, render(stack, obs), obs)


HSTS_FILTER = {
    "type": "ResponseHeaderModifier",
    "responseHeaderModifier": {
        "set": [
            {"name": "Strict-Transport-Security", "value": "max-age=31536000; includeSubDomains"}
        ]
    },
}


def test_an_https_gateway_sends_hsts_on_every_route_and_the_url_is_https() -> None:
    stack = gateway_stack(https=True)
    rules = _route(stack)["spec"]["rules"]
    assert all(HSTS_FILTER in rule.get("filters", []) for rule in rules)
    assert stack.url == "https://dimini.example.org"
    env = {e["name"]: e.get("value") for e in backend.env(stack)}
    assert env["ALLOWED_ORIGINS"] == '["https://dimini.example.org"]'
    # The route sets the header on the frontend's responses too; the backend need not.
    assert "HSTS_ENABLED" not in env


def test_hsts_joins_the_body_limit_filter_on_the_backend_rule() -> None:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["ingress"] = {"host": "ignored.localhost", "controller": "Traefik"}
    spec["gateway"] = {**copy.deepcopy(GATEWAY), "https": True}
    backend_rule = _route_of(make_stack(spec))["spec"]["rules"][0]
    assert [f["type"] for f in backend_rule["filters"]] == [
        "ExtensionRef",
        "ResponseHeaderModifier",
    ]


def _route_of(stack: Stack) -> dict[str, Any]:
    (route,) = [m for m in gateway.render(stack) if m["kind"] == "HTTPRoute"]
    return route


def test_a_plain_gateway_sends_no_hsts() -> None:
    rules = _route(gateway_stack())["spec"]["rules"]
    assert not [f for rule in rules for f in rule.get("filters", []) if f == HSTS_FILTER]


def test_the_gateways_hsts_is_the_backends() -> None:
    """One HSTS policy whether the backend (behind an https Ingress) or the HTTPRoute sets it."""
    from app.core.middleware import HSTS

    assert gateway.HSTS == HSTS
