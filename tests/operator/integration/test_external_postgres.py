"""spec.postgres.external on the control plane (KWOK pods): the stack reaches Ready without a
Postgres StatefulSet or volume, the backend and the migration Job connect to the external host
with the escaped URL built from the user's Secret, and a missing Secret or key is a clear
not-Ready condition. A real server reached from real pods is the e2e's (not run here)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from dimini_operator.specs.common import CHECKSUM_ANNOTATION
from sqlalchemy.engine import make_url

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import STACK, Kubectl, Operator, sample, stack_ready
from tests.support.waiting import wait_for

pytestmark = pytest.mark.sandbox

SECRET = "pg-ext"
USER, PASSWORD = "app@corp", "a@b%c/d:e"
EXTERNAL = {
    "host": "192.0.2.10",
    "port": 6543,
    "database": "dimini_ext",
    "sslMode": "require",
    "credentialsSecretRef": {"name": SECRET},
}


def _credentials(k: Kubectl, **data: str) -> None:
    # part-of=dimini: the opt-in label that has the operator's Secret watch see a change.
    meta = {"name": SECRET, "labels": {"app.kubernetes.io/part-of": "dimini"}}
    encoded = {key: base64.b64encode(v.encode()).decode() for key, v in data.items()}
    k.apply({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": encoded})


def _external_stack(stack_ns: StackNs) -> dict[str, Any]:
    doc = sample(stack_ns.storage_class, networkPolicies={"enabled": True})
    doc["spec"]["postgres"] = {"external": dict(EXTERNAL)}
    return doc


def _env(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in pod_spec["containers"][0]["env"]}


def _degraded(k: Kubectl, text: str) -> dict[str, Any] | None:
    cond = k.condition("Degraded")
    if cond and cond["status"] == "True" and cond["reason"] == "SecretMissing":
        return cond if text in cond["message"] else None
    return None


def test_external_stack_is_ready_without_in_cluster_postgres(
    stack_ns: StackNs, operator: Operator
) -> None:
    k = stack_ns.k
    _credentials(k, username=USER, password=PASSWORD)
    k.apply(_external_stack(stack_ns))
    obj = wait_for("stack Ready", lambda: stack_ready(k), 90)

    assert k.list("statefulsets") == []
    assert k.list("persistentvolumeclaims") == []
    assert k.get("service", f"{STACK}-postgres") is None
    assert k.get("networkpolicy", f"{STACK}-postgres") is None
    assert k.get("secret", f"{STACK}-db") is None  # the user's credentials, none generated

    raw = k.secret_value(f"{STACK}-connection", "DATABASE_URL")
    assert raw is not None
    url = make_url(raw)
    assert (url.username, url.password) == (USER, PASSWORD)
    assert (url.host, url.port, url.database) == ("192.0.2.10", 6543, "dimini_ext")

    deploy = k.get("deployment", f"{STACK}-backend")
    assert deploy is not None
    jobs = k.list("jobs", "app.kubernetes.io/component=migration")
    assert jobs, "no migration Job"
    for pod in (deploy["spec"]["template"]["spec"], jobs[0]["spec"]["template"]["spec"]):
        env = _env(pod)
        assert env["DATABASE_URL"] == {
            "secretKeyRef": {"name": f"{STACK}-connection", "key": "DATABASE_URL"}
        }
        assert env["PGSSLMODE"] == "require"

    policy = k.get("networkpolicy", f"{STACK}-backend")
    assert policy is not None
    assert {
        "to": [{"ipBlock": {"cidr": "192.0.2.10/32"}}],
        "ports": [{"protocol": "TCP", "port": 6543}],
    } in policy["spec"]["egress"]

    conds = {c["type"]: c for c in obj["status"]["conditions"]}
    db = conds["DatabaseReady"]
    assert (db["status"], db["reason"]) == ("True", "External")
    assert "192.0.2.10:6543" in db["message"]
    assert PASSWORD not in json.dumps(obj["status"])


def test_missing_external_credentials_is_a_clear_condition(
    stack_ns: StackNs, operator: Operator
) -> None:
    k = stack_ns.k
    k.apply(_external_stack(stack_ns))
    cond = wait_for("Degraded: Secret not found", lambda: _degraded(k, "not found"), 60)
    assert f'"{SECRET}"' in cond["message"]
    assert "spec.postgres.external.credentialsSecretRef" in cond["message"]
    ready = k.condition("Ready")
    assert ready is not None and ready["status"] == "False"
    assert k.get("deployment", f"{STACK}-backend") is None
    assert k.list("jobs", "app.kubernetes.io/component=migration") == []

    _credentials(k, username=USER)
    wait_for("Degraded: no key password", lambda: _degraded(k, "has no key password"), 60)
    assert k.list("jobs", "app.kubernetes.io/component=migration") == []

    _credentials(k, username=USER, password=PASSWORD)
    obj = wait_for("stack Ready once the Secret is complete", lambda: stack_ready(k), 90)
    assert PASSWORD not in json.dumps(obj["status"])
    assert k.list("statefulsets") == []


CA_SECRET = "pg-ca"


def _ca(k: Kubectl, key: str, pem: str) -> None:
    meta = {"name": CA_SECRET, "labels": {"app.kubernetes.io/part-of": "dimini"}}
    k.apply({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": {key: pem}})


def _checksum(k: Kubectl) -> str | None:
    deploy = k.get("deployment", f"{STACK}-backend")
    if deploy is None:
        return None
    annotations = deploy["spec"]["template"]["metadata"].get("annotations") or {}
    return annotations.get(CHECKSUM_ANNOTATION)


def test_a_private_ca_is_checked_mounted_and_rolls_the_pods(
    stack_ns: StackNs, operator: Operator
) -> None:
    k = stack_ns.k
    _credentials(k, username=USER, password=PASSWORD)
    doc = _external_stack(stack_ns)
    doc["spec"]["postgres"]["external"].update(
        sslMode="verify-full", caSecretRef={"name": CA_SECRET}
    )
    k.apply(doc)
    cond = wait_for("Degraded: CA Secret not found", lambda: _degraded(k, "not found"), 60)
    assert f'"{CA_SECRET}" (spec.postgres.external.caSecretRef) not found' in cond["message"]
    assert k.list("jobs", "app.kubernetes.io/component=migration") == []

    _ca(k, "root.pem", "first CA")
    wait_for("Degraded: no key ca.crt", lambda: _degraded(k, "has no key ca.crt"), 60)

    _ca(k, "ca.crt", "first CA")
    wait_for("stack Ready once the CA is there", lambda: stack_ready(k), 90)
    deploy = k.get("deployment", f"{STACK}-backend")
    assert deploy is not None
    pod = deploy["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "postgres-ca"]
    assert volume["secret"]["secretName"] == CA_SECRET
    assert volume["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    assert _env(pod)["PGSSLROOTCERT"] == "/etc/dimini/postgres-ca/ca.crt"

    # A rotated CA (the server's new certificate) rolls the pods that read it at connect.
    before = _checksum(k)
    _ca(k, "ca.crt", "second CA")
    wait_for("the backend rolled onto the new CA", lambda: _checksum(k) not in (None, before), 60)
