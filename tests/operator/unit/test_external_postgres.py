"""spec.postgres.external: no in-cluster Postgres; every client connects to the user's server."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from dimini_operator.specs import backend, backup, frontend, migration
from dimini_operator.specs.common import Stack
from dimini_operator.specs.plan import Observed, database_ready, plan_migration, render
from dimini_operator.specs.status import derive
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from tests.operator.unit.conftest import make_stack, sample_body

PASSWORD = "p@ss%w/rd:x y#?"
T0 = "2026-12-02T10:00:00Z"


def external_stack(host: str = "10.20.30.40", **extra: Any) -> Stack:
    spec = sample_body()["spec"]
    spec["postgres"]["external"] = {
        "host": host,
        "port": 6432,
        "database": "dimini_prod",
        "sslMode": "require",
        "credentialsSecretRef": {"name": "pg-creds"},
    }
    spec.update(extra)
    return make_stack(spec)


def observed(stack: Stack, **kw: Any) -> Observed:
    base: dict[str, Any] = {"db_password": PASSWORD, "secret_key": "sk", "db_username": "app@x"}
    base.update(kw)
    return Observed(**base)


def by_key(objs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def env_of(pod_spec: dict[str, Any], container: str | None = None) -> dict[str, Any]:
    for c in pod_spec.get("initContainers", []) + pod_spec["containers"]:
        if container is None or c["name"] == container:
            return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}
    raise AssertionError(str(container))


def test_no_in_cluster_postgres_is_rendered() -> None:
    stack = external_stack(
        networkPolicies={"enabled": True},
        observability={"postgresExporter": {"enabled": True}},
    )
    plan = render(stack, observed(stack, applied_image=stack.spec.backend.image))
    made = by_key(plan.apply + plan.create_only)
    postgres_objs = [k for k in made if "postgres" in k[1] and k[0] != "ServiceAccount"]
    assert postgres_objs == []
    assert not any(k[0] in ("StatefulSet", "PersistentVolumeClaim") for k in made)
    assert ("Secret", "demo-db") not in made  # the user's credentials, never generated
    assert "postgres-exporter" not in json.dumps(plan.apply)


def test_connection_url_points_at_the_external_server_escaped() -> None:
    stack = external_stack()
    plan = render(stack, observed(stack))
    secret = by_key(plan.apply)[("Secret", "demo-connection")]
    url = make_url(base64.b64decode(secret["data"]["DATABASE_URL"]).decode())
    assert (url.username, url.password) == ("app@x", PASSWORD)
    assert (url.host, url.port, url.database) == ("10.20.30.40", 6432, "dimini_prod")
    assert url.drivername == "postgresql+asyncpg"


def test_ipv6_host_is_bracketed_in_the_url() -> None:
    stack = external_stack(host="fd00::5")
    secret = by_key(render(stack, observed(stack)).apply)[("Secret", "demo-connection")]
    url = make_url(base64.b64decode(secret["data"]["DATABASE_URL"]).decode())
    assert (url.host, url.port) == ("fd00::5", 6432)


def test_backend_and_migration_use_the_connection_and_sslmode() -> None:
    stack = external_stack()
    image = stack.spec.backend.image
    deploy = backend.deployment(stack, image, "c")
    job = migration.render(stack, image)
    for pod in (deploy["spec"]["template"]["spec"], job["spec"]["template"]["spec"]):
        env = env_of(pod)
        assert env["DATABASE_URL"] == {
            "secretKeyRef": {"name": "demo-connection", "key": "DATABASE_URL"}
        }
        assert env["PGSSLMODE"] == "require"


def test_in_cluster_stack_gets_no_sslmode() -> None:
    stack = make_stack()
    env = env_of(backend.deployment(stack, "b:1", "c")["spec"]["template"]["spec"])
    assert "PGSSLMODE" not in env


def test_migration_does_not_wait_for_a_statefulset() -> None:
    stack = external_stack()
    obs = observed(stack)
    assert database_ready(stack, obs)
    assert plan_migration(stack, obs).state == "Pending"


def test_missing_credentials_keep_the_connection_and_block_migration() -> None:
    stack = external_stack()
    problem = 'Secret "pg-creds" (spec.postgres.external.credentialsSecretRef) not found'
    obs = observed(stack, db_password="", db_username=None, secret_problems=(problem,))
    plan = render(stack, obs)
    assert ("Secret", "demo-connection") not in by_key(plan.apply)
    assert ("Secret", "demo-connection") in plan.keep
    assert plan.migration.reason == "SecretMissing"
    st = derive(stack, obs, plan.migration, old_status={}, now=T0, paused=False)
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Ready"]["status"] == "False"
    assert conds["Degraded"]["reason"] == "SecretMissing"
    assert "pg-creds" in conds["Degraded"]["message"]


def test_backend_reads_the_external_credentials_secret() -> None:
    refs = backend.referenced_secrets(external_stack())
    assert (
        "spec.postgres.external.credentialsSecretRef",
        "pg-creds",
        ("username", "password"),
    ) in refs


def test_database_ready_says_external_without_the_password() -> None:
    stack = external_stack()
    image = stack.spec.backend.image
    deploy = backend.deployment(stack, image, "c")
    deploy["metadata"]["generation"] = 1
    deploy["status"] = {
        "observedGeneration": 1,
        "replicas": 1,
        "readyReplicas": 1,
        "updatedReplicas": 1,
        "availableReplicas": 1,
    }
    fe = frontend.deployment(stack)
    fe["metadata"]["generation"] = 1
    fe["status"] = dict(deploy["status"])
    children = {
        ("Deployment", "demo-backend"): deploy,
        ("Deployment", "demo-frontend"): fe,
        ("Ingress", "demo"): {},
    }
    obs = observed(stack, children=children, applied_image=image)
    st = derive(stack, obs, plan_migration(stack, obs), old_status={}, now=T0, paused=False)
    conds = {c["type"]: c for c in st["conditions"]}
    assert st["phase"] == "Ready"
    db = conds["DatabaseReady"]
    assert (db["status"], db["reason"]) == ("True", "External")
    assert "10.20.30.40:6432" in db["message"]
    assert PASSWORD not in json.dumps(st)


def test_backups_run_against_the_external_server() -> None:
    stack = make_stack({**sample_body()["spec"], "postgres": _external_with_backup()})
    cron = by_key(backup.render(stack))[("CronJob", backup.cronjob_name(stack))]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = env_of(pod, "backup")
    assert env["PGHOST"] == "10.20.30.40"
    assert env["PGPORT"] == "6432"
    assert env["PGDATABASE"] == "dimini_prod"
    assert env["PGSSLMODE"] == "require"
    assert env["PGUSER"] == {"secretKeyRef": {"name": "pg-creds", "key": "username"}}
    assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "pg-creds", "key": "password"}}


def _external_with_backup() -> dict[str, Any]:
    return {
        "image": "postgres:15-alpine",
        "backup": {},
        "external": {
            "host": "10.20.30.40",
            "port": 6432,
            "database": "dimini_prod",
            "sslMode": "require",
            "credentialsSecretRef": {"name": "pg-creds"},
        },
    }


def _egress(policy: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = policy["spec"]["egress"]
    return rules


@pytest.mark.parametrize("component", ["backend", "migration", "credentials", "backup"])
def test_clients_may_reach_the_external_ip_on_its_port(component: str) -> None:
    stack = make_stack(
        {
            **sample_body()["spec"],
            "postgres": _external_with_backup(),
            "networkPolicies": {"enabled": True},
        }
    )
    policies = by_key(render(stack, observed(stack)).apply)
    assert ("NetworkPolicy", "demo-postgres") not in policies
    egress = _egress(policies[("NetworkPolicy", f"demo-{component}")])
    assert {
        "to": [{"ipBlock": {"cidr": "10.20.30.40/32"}}],
        "ports": [{"protocol": "TCP", "port": 6432}],
    } in egress
    assert "demo-postgres" not in json.dumps(egress) and '"postgres"' not in json.dumps(egress)


def test_a_host_name_allows_the_port_to_any_address() -> None:
    # A NetworkPolicy cannot select a DNS name (docs/operator.md, External Postgres).
    stack = external_stack(host="db.example.org", networkPolicies={"enabled": True})
    policies = by_key(render(stack, observed(stack)).apply)
    egress = _egress(policies[("NetworkPolicy", "demo-backend")])
    assert {"ports": [{"protocol": "TCP", "port": 6432}]} in egress


@pytest.mark.parametrize(
    "extra",
    [
        {"existingSecret": "my-db"},
        {"bootstrap": {"fromBackup": {}}},
        {"parameters": {"max_connections": "50"}},
        {"resources": {"limits": {"memory": "1Gi"}}},
        {"majorUpgrade": "Manual"},
    ],
)
def test_in_cluster_settings_are_refused_with_external(extra: dict[str, Any]) -> None:
    spec = sample_body()["spec"]
    spec["postgres"] = {**_external_with_backup(), **extra}
    with pytest.raises(ValidationError, match=r"spec\.postgres\.external replaces"):
        make_stack(spec)


def test_ssl_mode_defaults_to_prefer_and_port_to_5432() -> None:
    spec = sample_body()["spec"]
    spec["postgres"] = {
        "external": {"host": "db", "database": "d", "credentialsSecretRef": {"name": "c"}}
    }
    ext = make_stack(spec).spec.postgres.external
    assert ext is not None
    assert (ext.port, ext.ssl_mode) == (5432, "prefer")


# --- caSecretRef: a private CA for verify-ca / verify-full ----------------------------------


def ca_stack(ssl_mode: str = "verify-full", **ca: str) -> Stack:
    spec = sample_body()["spec"]
    spec["postgres"] = _external_with_backup()
    spec["postgres"]["external"].update(sslMode=ssl_mode, caSecretRef={"name": "pg-ca", **ca})
    return make_stack(spec)


def mounts_of(pod_spec: dict[str, Any], container: str) -> dict[str, dict[str, Any]]:
    for c in pod_spec.get("initContainers", []) + pod_spec["containers"]:
        if c["name"] == container:
            return {m["name"]: m for m in c.get("volumeMounts", [])}
    raise AssertionError(container)


def volumes_of(pod_spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec["volumes"]}


def client_pods(stack: Stack) -> dict[str, tuple[dict[str, Any], str]]:
    image = stack.spec.backend.image
    cron = by_key(backup.render(stack))[("CronJob", backup.cronjob_name(stack))]
    return {
        "backend": (backend.deployment(stack, image, "c")["spec"]["template"]["spec"], "backend"),
        "migration": (migration.render(stack, image)["spec"]["template"]["spec"], "migrate"),
        "backup": (cron["spec"]["jobTemplate"]["spec"]["template"]["spec"], "backup"),
    }


@pytest.mark.parametrize("component", ["backend", "migration", "backup"])
def test_the_ca_is_mounted_read_only_and_named_by_pgsslrootcert(component: str) -> None:
    pod, container = client_pods(ca_stack(key="root.pem"))[component]
    volume = volumes_of(pod)["postgres-ca"]
    assert volume["secret"] == {
        "secretName": "pg-ca",
        "items": [{"key": "root.pem", "path": "ca.crt"}],
    }
    mount = mounts_of(pod, container)["postgres-ca"]
    assert mount["readOnly"] is True
    env = env_of(pod, container)
    assert env["PGSSLROOTCERT"] == f"{mount['mountPath']}/ca.crt"
    assert env["PGSSLMODE"] == "verify-full"


def test_the_verify_container_gets_no_ca() -> None:
    # It restores into its own throwaway server: a root file would only break its local psql.
    pod, _ = client_pods(ca_stack())["backup"]
    assert "postgres-ca" not in mounts_of(pod, "verify")
    assert "PGSSLROOTCERT" not in env_of(pod, "verify")


def test_the_ca_key_defaults_to_ca_crt() -> None:
    ext = ca_stack().spec.postgres.external
    assert ext is not None and ext.ca_secret_ref is not None
    assert ext.ca_secret_ref.key == "ca.crt"


@pytest.mark.parametrize("component", ["backend", "migration", "backup"])
def test_no_ca_no_volume_and_no_rootcert(component: str) -> None:
    stack = make_stack({**sample_body()["spec"], "postgres": _external_with_backup()})
    pod, container = client_pods(stack)[component]
    assert "postgres-ca" not in volumes_of(pod)
    assert "PGSSLROOTCERT" not in env_of(pod, container)


def test_the_ca_secret_is_referenced_and_not_a_credential() -> None:
    # Not a credential field: its data is in the pods' checksum, so a new CA rolls them.
    refs = backend.referenced_secrets(ca_stack(key="root.pem"))
    assert ("spec.postgres.external.caSecretRef", "pg-ca", ("root.pem",)) in refs
    assert "spec.postgres.external.caSecretRef" not in backend.DB_CREDENTIAL_FIELDS


@pytest.mark.parametrize("mode", ["verify-ca", "verify-full", "require"])
def test_a_ca_is_accepted_with_a_verifying_mode(mode: str) -> None:
    assert ca_stack(mode).spec.postgres.external is not None


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_a_ca_with_an_unverified_mode_is_refused(mode: str) -> None:
    with pytest.raises(ValidationError, match=r"caSecretRef needs sslMode require"):
        ca_stack(mode)


def test_verify_full_without_a_ca_is_allowed() -> None:
    spec = sample_body()["spec"]
    spec["postgres"] = _external_with_backup()
    spec["postgres"]["external"]["sslMode"] = "verify-full"
    stack = make_stack(spec)
    assert (
        env_of(backend.deployment(stack, "b:1", "c")["spec"]["template"]["spec"])["PGSSLMODE"]
        == "verify-full"
    )


def test_a_missing_ca_secret_degrades_and_blocks_the_migration() -> None:
    stack = ca_stack()
    problem = 'Secret "pg-ca" (spec.postgres.external.caSecretRef) not found'
    obs = observed(stack, secret_problems=(problem,))
    plan = render(stack, obs)
    assert plan.migration.reason == "SecretMissing"
    st = derive(stack, obs, plan.migration, old_status={}, now=T0, paused=False)
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Degraded"]["reason"] == "SecretMissing"
    assert "pg-ca" in conds["Degraded"]["message"]


# --- a failed migration says why (e.g. the server's certificate did not verify) -------------


TLS_FAILURE = (
    "migration failed: SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
    "verify failed: unable to get local issuer certificate (_ssl.c:1006)"
)


def failed_job(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ]
        },
    }


def test_a_failed_migration_carries_its_pods_report() -> None:
    stack = ca_stack()
    name = migration.job_name(stack, stack.spec.backend.image)
    obs = observed(
        stack, children={("Job", name): failed_job(name)}, migration_reports={name: TLS_FAILURE}
    )
    mig = plan_migration(stack, obs)
    assert mig.state == "Failed"
    assert "BackoffLimitExceeded" in mig.message
    assert "certificate verify failed" in mig.message
    st = derive(stack, obs, mig, old_status={}, now=T0, paused=False)
    assert "certificate verify failed" in json.dumps(st["conditions"])


def test_the_migration_container_reports_through_its_termination_message() -> None:
    stack = ca_stack()
    pod = migration.render(stack, stack.spec.backend.image)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    status = {
        "containerStatuses": [
            {"name": "migrate", "state": {"terminated": {"exitCode": 1, "message": TLS_FAILURE}}}
        ]
    }
    assert migration.pod_report({"status": status}) == TLS_FAILURE
    assert migration.pod_report({"status": {}}) == ""
