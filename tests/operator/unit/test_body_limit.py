"""Issue 12 #1 at the ingress: spec.ingress.maxBodySize is the one request body limit, enforced by
the backend (MAX_REQUEST_BODY_BYTES) and, as spec.ingress.controller says, by the controller."""

from __future__ import annotations

from typing import Any

import pytest
from app.core.config import Settings
from dimini_operator.specs import backend, body_limit, gateway, ingress, plan
from dimini_operator.specs.model import StackSpec
from pydantic import ValidationError

from tests.operator.unit.conftest import make_stack, sample_body

MIDDLEWARES = body_limit.TRAEFIK_MIDDLEWARES


def _spec(**ingress_fields: Any) -> dict[str, Any]:
    spec: dict[str, Any] = sample_body()["spec"]
    spec["ingress"] = {**spec.get("ingress", {}), **ingress_fields}
    return spec


def _by_kind(objs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def _services(ing: dict[str, Any]) -> set[str]:
    paths = ing["spec"]["rules"][0]["http"]["paths"]
    return {p["backend"]["service"]["name"] for p in paths}


def test_the_backend_limit_is_the_spec_field_in_bytes() -> None:
    env = {e["name"]: e.get("value") for e in backend.env(make_stack(_spec(maxBodySize="256Ki")))}
    assert env["MAX_REQUEST_BODY_BYTES"] == str(256 * 1024)
    # The backend's settings accept every value the spec allows, both bounds included.
    for size, want in (("1Ki", 1024), ("64Mi", 64 * 1024 * 1024)):
        stack = make_stack(_spec(maxBodySize=size))
        settings = Settings(
            database_url="postgresql+asyncpg://u@localhost/db",
            secret_key="s" * 40,
            max_request_body_bytes=body_limit.max_bytes(stack),
        )
        assert settings.max_request_body_bytes == want


@pytest.mark.parametrize("size", ["0", "1023", "65Mi", "1Gi", "1.5Mi", "1M", "-1Ki", ""])
def test_sizes_outside_what_the_backend_takes_are_refused(size: str) -> None:
    with pytest.raises(ValidationError, match="maxBodySize"):
        StackSpec.model_validate(_spec(maxBodySize=size))


def test_other_controllers_get_one_ingress_and_no_controller_settings() -> None:
    objs = ingress.render(make_stack(_spec()))
    (ing,) = objs
    assert MIDDLEWARES not in ing["metadata"].get("annotations", {})
    assert body_limit.NGINX_BODY_SIZE not in ing["metadata"].get("annotations", {})


def test_ingress_nginx_gets_the_proxy_body_size_annotation() -> None:
    (ing,) = ingress.render(make_stack(_spec(controller="IngressNginx", maxBodySize="2Mi")))
    assert ing["metadata"]["annotations"][body_limit.NGINX_BODY_SIZE] == str(2 * 1024 * 1024)


def test_traefik_limits_the_backend_routes_and_leaves_the_frontend_unbuffered() -> None:
    stack = make_stack(
        _spec(
            controller="Traefik",
            maxBodySize="512Ki",
            extraPaths=[{"path": "/media", "service": "frontend"}, {"path": "/hooks"}],
            annotations={MIDDLEWARES: "ns1-auth@kubernetescrd", "x.example/y": "z"},
        )
    )
    objs = ingress.render(stack)
    # The Middleware first: an Ingress naming a missing one is refused by Traefik (404).
    assert [o["kind"] for o in objs] == ["Middleware", "Ingress", "Ingress"]
    by = _by_kind(objs)
    mw = by[("Middleware", "demo-body-limit")]
    assert mw["apiVersion"] == "traefik.io/v1alpha1"
    assert mw["spec"] == {"buffering": {"maxRequestBodyBytes": 512 * 1024}}
    api, web = by[("Ingress", "demo")], by[("Ingress", "demo-frontend")]
    assert _services(api) == {"demo-backend"} and _services(web) == {"demo-frontend"}
    api_paths = [p["path"] for p in api["spec"]["rules"][0]["http"]["paths"]]
    assert "/hooks" in api_paths and "/api" in api_paths and "/socket.io" in api_paths
    web_paths = [p["path"] for p in web["spec"]["rules"][0]["http"]["paths"]]
    assert web_paths == ["/media", "/"]
    # Ours first, then the user's own middlewares; the frontend keeps only the user's.
    assert api["metadata"]["annotations"][MIDDLEWARES] == (
        "ns1-demo-body-limit@kubernetescrd,ns1-auth@kubernetescrd"
    )
    assert web["metadata"]["annotations"] == {
        MIDDLEWARES: "ns1-auth@kubernetescrd",
        "x.example/y": "z",
    }
    # Status waits for both Ingresses.
    assert ingress.names(stack) == ["demo", "demo-frontend"]


def test_traefik_with_cert_manager_asks_for_the_certificate_once() -> None:
    tls = {"secretName": "demo-tls", "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}}
    objs = ingress.render(make_stack(_spec(controller="Traefik", tls=tls)))
    api, web = (o for o in objs if o["kind"] == "Ingress")
    assert api["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert "cert-manager.io/cluster-issuer" not in web["metadata"].get("annotations", {})
    # Both serve https with the same certificate.
    assert (
        api["spec"]["tls"]
        == web["spec"]["tls"]
        == [{"hosts": ["dimini.localhost"], "secretName": "demo-tls"}]
    )


def test_traefik_on_a_gateway_filters_only_the_backend_rule() -> None:
    spec = _spec(controller="Traefik", maxBodySize="1Mi")
    for key in ("className", "tls", "annotations"):
        spec["ingress"].pop(key, None)
    spec["gateway"] = {"parentRefs": [{"name": "gw"}], "hostnames": ["dimini.example"]}
    objs = gateway.render(make_stack(spec))
    assert [o["kind"] for o in objs] == ["Middleware", "HTTPRoute"]
    to_backend, to_frontend = objs[1]["spec"]["rules"]
    assert to_backend["filters"] == [
        {
            "type": "ExtensionRef",
            "extensionRef": {
                "group": "traefik.io",
                "kind": "Middleware",
                "name": "demo-body-limit",
            },
        }
    ]
    assert "filters" not in to_frontend


def test_the_middleware_and_frontend_ingress_are_pruned_when_the_controller_changes() -> None:
    stack = make_stack(_spec(controller="Other"))
    obs = plan.Observed(
        db_password="p",
        secret_key="k",
        applied_image="b:1",
        children={
            ("Ingress", "demo"): {},
            ("Ingress", "demo-frontend"): {},
            ("Middleware", "demo-body-limit"): {},
        },
    )
    assert plan.prunable(stack, plan.render(stack, obs), obs) == [
        ("Ingress", "demo-frontend"),
        ("Middleware", "demo-body-limit"),
    ]
