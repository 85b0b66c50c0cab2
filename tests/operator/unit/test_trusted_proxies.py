"""Issue 12 #3: the operator renders the proxies whose X-Forwarded-For the backend believes
(FORWARDED_ALLOW_IPS) from spec.ingress.trustedProxies; never `*`, never a host name."""

from __future__ import annotations

import ipaddress

import pytest
from app.core.config import Settings
from dimini_operator.specs import backend
from dimini_operator.specs.model import PRIVATE_RANGES, StackSpec
from pydantic import ValidationError

from tests.operator.unit.conftest import make_stack, sample_body


def _env(spec: dict[str, object] | None = None) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in backend.env(make_stack(spec))}


def test_default_trusts_the_private_ranges_pods_and_nodes_live_in() -> None:
    value = _env()["FORWARDED_ALLOW_IPS"]
    assert value.split(",") == PRIVATE_RANGES
    # The backend accepts exactly what the operator renders.
    settings = Settings(
        database_url="postgresql+asyncpg://u@localhost/db",
        secret_key="s" * 40,
        forwarded_allow_ips=value,
    )
    assert settings.forwarded_allow_ips == PRIVATE_RANGES
    # A public client address is never trusted; the sandbox's pod bridge (10.88.0.1) is.
    nets = [ipaddress.ip_network(n) for n in PRIVATE_RANGES]
    assert not any(ipaddress.ip_address("192.0.2.2") in n for n in nets)
    assert any(ipaddress.ip_address("10.88.0.1") in n for n in nets)


def test_a_narrowed_range_is_rendered_as_given() -> None:
    spec = sample_body()["spec"]
    spec["ingress"]["trustedProxies"] = ["10.88.0.1", "fd00:10::/64"]
    assert _env(spec)["FORWARDED_ALLOW_IPS"] == "10.88.0.1,fd00:10::/64"
    spec["ingress"]["trustedProxies"] = []
    assert _env(spec)["FORWARDED_ALLOW_IPS"] == ""  # trust none: the peer is the client


@pytest.mark.parametrize("entry", ["*", "0.0.0.0/0", "::/0", "ingress.example", "10.0.0.0/33"])
def test_every_client_or_a_host_name_is_refused(entry: str) -> None:
    spec = sample_body()["spec"]
    spec["ingress"]["trustedProxies"] = ["10.0.0.0/8", entry]
    with pytest.raises(ValidationError, match="trustedProxies"):
        StackSpec.model_validate(spec)
