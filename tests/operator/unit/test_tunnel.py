"""The webhook tunnel: rendered only when enabled, restricted, and its URL in status."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs import tunnel
from dimini_operator.specs.plan import Observed, plan_migration, render
from dimini_operator.specs.status import derive

from tests.operator.pss import restricted_violations
from tests.operator.unit.conftest import make_stack, sample_body
from tests.operator.unit.test_status import T0, _conds, converged

TUNNEL = {
    "enabled": True,
    "tokenSecretRef": {"name": "dimini-tunnel"},
    "publicHostname": "hooks.example.com",
}


def _spec(**tunnel_spec: Any) -> dict[str, Any]:
    spec: dict[str, Any] = sample_body()["spec"]
    spec["tunnel"] = tunnel_spec
    return spec


def _kinds(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    plan = render(make_stack(spec), Observed(db_password="pw", secret_key="sk"))
    return {(o["kind"], o["metadata"]["name"]): o for o in plan.apply}


def test_disabled_by_default_renders_nothing() -> None:
    objects = _kinds(sample_body()["spec"])
    assert not [key for key in objects if key[1] == "demo-tunnel"]
    assert tunnel.webhook_url(make_stack()) is None


def test_enabled_renders_a_restricted_cloudflared_deployment() -> None:
    objects = _kinds(_spec(**TUNNEL))
    deployment = objects[("Deployment", "demo-tunnel")]
    pod = deployment["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["image"].startswith("cloudflare/cloudflared:")
    assert container["args"][-1] == "run"
    (token,) = container["env"]
    assert token["name"] == "TUNNEL_TOKEN"
    assert token["valueFrom"]["secretKeyRef"] == {"name": "dimini-tunnel", "key": "token"}
    assert ("ServiceAccount", "demo-tunnel") in objects
    assert deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "tunnel"


def test_webhook_url_names_the_public_hostname() -> None:
    stack = make_stack(_spec(**TUNNEL))
    assert tunnel.webhook_url(stack) == "https://hooks.example.com/api/webhooks/hume"


def test_a_tunnel_that_is_not_ready_keeps_the_stack_from_ready() -> None:
    stack = make_stack(_spec(**TUNNEL))
    obs = converged(stack)
    crashing = tunnel.render(stack)[1]
    crashing["status"] = {"replicas": 1, "readyReplicas": 0, "observedGeneration": 1}
    crashing["metadata"]["generation"] = 1
    children = {**obs.children, ("Deployment", "demo-tunnel"): crashing}
    obs = Observed(
        db_password="pw", secret_key="sk", children=children, applied_image=obs.applied_image
    )
    st = derive(stack, obs, plan_migration(stack, obs), old_status={}, now=T0, paused=False)
    conds = _conds(st)
    assert conds["TunnelReady"]["status"] == "False"
    assert conds["Ready"]["status"] == "False"
    assert st["phase"] == "Provisioning"
