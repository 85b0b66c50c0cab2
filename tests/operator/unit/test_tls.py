"""spec.ingress.tls: the Ingress' TLS section, cert-manager annotations, HSTS and an https URL."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from dimini_operator.specs import backend, ingress
from dimini_operator.specs.common import Stack
from pydantic import ValidationError

from tests.operator.unit.conftest import make_stack, sample_body


def tls_stack(tls: dict[str, Any], **ingress_fields: Any) -> Stack:
    spec = copy.deepcopy(sample_body()["spec"])
    spec["ingress"] = {"host": "dimini.example.org", "tls": tls, **ingress_fields}
    return make_stack(spec)


def _ingress(stack: Stack) -> dict[str, Any]:
    (obj,) = ingress.render(stack)
    return obj


def _env(stack: Stack) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in backend.env(stack)}


def test_a_tls_secret_serves_https() -> None:
    stack = tls_stack({"secretName": "dimini-tls"})
    obj = _ingress(stack)
    assert obj["spec"]["tls"] == [{"hosts": ["dimini.example.org"], "secretName": "dimini-tls"}]
    assert "annotations" not in obj["metadata"]
    assert stack.url == "https://dimini.example.org"
    assert _env(stack)["HSTS_ENABLED"] == "true"
    assert _env(stack)["ALLOWED_ORIGINS"] == '["https://dimini.example.org"]'


def test_without_tls_the_operator_leaves_hsts_to_the_backend(stack: Stack) -> None:
    assert "HSTS_ENABLED" not in _env(stack)
    assert stack.url.startswith("http://")


@pytest.mark.parametrize(
    ("kind", "annotation"),
    [("Issuer", "cert-manager.io/issuer"), ("ClusterIssuer", "cert-manager.io/cluster-issuer")],
)
def test_an_issuer_ref_asks_cert_manager_for_the_secret(kind: str, annotation: str) -> None:
    stack = tls_stack(
        {"secretName": "dimini-tls", "issuerRef": {"name": "letsencrypt", "kind": kind}}
    )
    obj = _ingress(stack)
    assert obj["metadata"]["annotations"] == {annotation: "letsencrypt"}
    # cert-manager's ingress-shim writes the certificate into the Secret the Ingress names.
    assert obj["spec"]["tls"][0]["secretName"] == "dimini-tls"


def test_issuer_kind_defaults_to_issuer_and_user_annotations_win() -> None:
    stack = tls_stack(
        {"secretName": "dimini-tls", "issuerRef": {"name": "ca"}},
        annotations={"cert-manager.io/issuer": "other", "x": "y"},
    )
    assert _ingress(stack)["metadata"]["annotations"] == {
        "cert-manager.io/issuer": "other",
        "x": "y",
    }


def test_an_unknown_issuer_kind_is_refused() -> None:
    with pytest.raises(ValidationError):
        tls_stack({"secretName": "dimini-tls", "issuerRef": {"name": "ca", "kind": "Vault"}})
