"""Pure render functions: spec (+ observations) in, desired manifests out."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from dimini_operator.specs import backend, frontend, migration, postgres
from dimini_operator.specs.common import HASH_ANNOTATION, Stack, image_hash
from dimini_operator.specs.defaults import to_dict
from dimini_operator.specs.plan import Observed, Plan, prunable, render
from sqlalchemy.engine import make_url

from tests.operator.pss import pod_spec_of, restricted_violations
from tests.operator.unit.conftest import make_stack, sample_body

LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)


def observed(stack: Stack, **kw: Any) -> Observed:
    base: dict[str, Any] = {"db_password": "pw", "secret_key": "sk"}
    base.update(kw)
    return Observed(**base)


def by_key(objs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def jobs(plan: Plan) -> list[dict[str, Any]]:
    return [o for o in plan.create_only if o["kind"] == "Job"]


def ready_sts(stack: Stack) -> dict[str, Any]:
    return {"kind": "StatefulSet", "status": {"readyReplicas": 1}, "metadata": {"name": "x"}}


def test_converged_stack_renders_every_child_of_the_design(stack: Stack) -> None:
    plan = render(stack, observed(stack, applied_image=stack.spec.backend.image))
    keys = set(by_key(plan.apply))
    assert keys == {
        ("Secret", "demo-connection"),
        ("ServiceAccount", "demo-postgres"),
        ("ServiceAccount", "demo-backend"),
        ("ServiceAccount", "demo-frontend"),
        ("StatefulSet", "demo-postgres"),
        ("Service", "demo-postgres"),
        ("Service", "demo-postgres-headless"),
        ("NetworkPolicy", "demo-postgres"),
        ("Deployment", "demo-backend"),
        ("Service", "demo-backend"),
        ("Deployment", "demo-frontend"),
        ("Service", "demo-frontend"),
        ("Ingress", "demo"),
    }
    # Generated credentials are created once, never applied over.
    assert set(by_key(plan.create_only)) == {("Secret", "demo-db"), ("Secret", "demo-app")}


def test_every_child_has_standard_labels_and_owner(stack: Stack) -> None:
    plan = render(stack, observed(stack, applied_image=stack.spec.backend.image))
    for obj in plan.apply + plan.create_only:
        meta = obj["metadata"]
        assert meta["namespace"] == "ns1"
        if (obj["kind"], meta["name"]) == ("Secret", "demo-db"):
            # Retain: the DB Secret outlives the stack, so nothing may tie it to an Argo CD
            # application of the stack's name (Argo < 3.0 tracks app.kubernetes.io/instance).
            assert "ownerReferences" not in meta
            assert "app.kubernetes.io/instance" not in meta["labels"]
            assert meta["labels"]["dimini.io/stack"] == "demo"
            assert "Prune=false" in meta["annotations"]["argocd.argoproj.io/sync-options"]
            continue
        for label in LABELS:
            assert meta["labels"].get(label), (obj["kind"], meta["name"], label)
        assert meta["labels"]["app.kubernetes.io/instance"] == "demo"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "dimini-operator"
        if obj in plan.apply:
            assert HASH_ANNOTATION in meta["annotations"]
        (owner,) = meta["ownerReferences"]
        assert owner["kind"] == "DiminiStack" and owner["uid"] == stack.uid
        assert owner["controller"] is True


def test_delete_policy_owns_db_secret_and_volume() -> None:
    spec = sample_body()["spec"]
    spec["deletionPolicy"] = "Delete"
    stack = make_stack(spec)
    plan = render(stack, observed(stack))
    objs = by_key(plan.apply + plan.create_only)
    assert objs[("Secret", "demo-db")]["metadata"]["ownerReferences"][0]["uid"] == stack.uid
    sts = objs[("StatefulSet", "demo-postgres")]
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    retain = by_key(render(make_stack(), observed(stack)).apply)
    policy = retain[("StatefulSet", "demo-postgres")]["spec"][
        "persistentVolumeClaimRetentionPolicy"
    ]
    assert policy["whenDeleted"] == "Retain"


def test_every_pod_passes_restricted(stack: Stack) -> None:
    plan = render(stack, observed(stack, applied_image="registry.local/b:1"))
    pods = [pod_spec_of(o) for o in plan.apply]
    pods.append(pod_spec_of(migration.render(stack, "registry.local/b:2")))
    specs = [p for p in pods if p is not None]
    assert len(specs) == 4  # postgres, backend, frontend, migration
    for pod in specs:
        assert restricted_violations(pod) == []
        assert pod["automountServiceAccountToken"] is False
    pg = postgres.statefulset(stack)["spec"]["template"]["spec"]["securityContext"]
    assert pg["runAsUser"] == 70 and pg["fsGroup"] == 70


def test_db_secret_carries_credentials_and_uri(stack: Stack) -> None:
    plan = render(stack, observed(stack, db_password="s3cret"))
    objs = by_key(plan.create_only)
    data = {k: base64.b64decode(v).decode() for k, v in objs[("Secret", "demo-db")]["data"].items()}
    assert data["password"] == "s3cret"
    assert data["username"] == "dimini" and data["database"] == "dimini"
    assert data["uri"] == "postgresql+asyncpg://dimini:s3cret@demo-postgres:5432/dimini"
    app = objs[("Secret", "demo-app")]["data"]
    assert base64.b64decode(app["SECRET_KEY"]).decode() == "sk"


def test_database_url_escapes_a_byo_password() -> None:
    # SQLAlchemy (what the backend parses DATABASE_URL with) must read back exactly the
    # credentials, whatever characters a bring-your-own password holds.
    spec = sample_body()["spec"]
    spec["postgres"]["existingSecret"] = "my-db"
    stack = make_stack(spec)
    password = "p@ss%w/rd:x y#?"
    plan = render(stack, observed(stack, db_password=password, db_username="app@corp"))
    secret = by_key(plan.apply)[("Secret", "demo-connection")]
    url = make_url(base64.b64decode(secret["data"]["DATABASE_URL"]).decode())
    assert (url.username, url.password) == ("app@corp", password)
    assert (url.host, url.port, url.database) == ("demo-postgres", 5432, "dimini")
    assert url.drivername == "postgresql+asyncpg"


def test_lost_db_secret_generates_nothing_and_keeps_the_backend(stack: Stack) -> None:
    running = backend.deployment(stack, "registry.local/b:1", "c")
    obs = observed(
        stack,
        db_password="",
        credentials_lost=True,
        applied_image="registry.local/b:1",
        children={("Deployment", "demo-backend"): running},
    )
    plan = render(stack, obs)
    made = set(by_key(plan.apply + plan.create_only))
    assert ("Secret", "demo-db") not in made
    assert ("Secret", "demo-connection") not in made
    assert ("Deployment", "demo-backend") not in made
    assert ("Deployment", "demo-backend") in plan.keep
    assert plan.migration.reason == "CredentialsLost"


def test_existing_secret_replaces_generated_one() -> None:
    spec = sample_body()["spec"]
    spec["postgres"]["existingSecret"] = "my-db"
    stack = make_stack(spec)
    plan = render(stack, observed(stack, applied_image="b:1"))
    objs = by_key(plan.apply + plan.create_only)
    assert ("Secret", "demo-db") not in objs
    env = objs[("Deployment", "demo-backend")]["spec"]["template"]["spec"]["containers"][0]["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in env if "valueFrom" in e}
    assert refs["DATABASE_URL"] == "demo-connection"
    pg = objs[("StatefulSet", "demo-postgres")]["spec"]["template"]["spec"]["containers"][0]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in pg["env"] if "valueFrom" in e} == {
        "my-db"
    }


def test_backend_env_is_one_source_of_configuration() -> None:
    spec = sample_body()["spec"]
    spec["config"].update({"gptModel": "gpt-4o-mini", "humeConfigId": "cfg"})
    spec["secretRefs"] = {"openai": {"name": "oa"}, "hume": {"name": "hu"}}
    spec["backend"]["env"] = [{"name": "FEATURE_X", "value": "1"}]
    stack = make_stack(spec)
    env = {e["name"]: e for e in backend.env(stack)}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "demo-connection",
        "key": "DATABASE_URL",
    }
    assert env["SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "demo-app",
        "key": "SECRET_KEY",
    }
    assert json.loads(env["ALLOWED_ORIGINS"]["value"]) == ["http://dimini.localhost"]
    assert env["LOG_LEVEL"]["value"] == "INFO"
    assert env["WEB_CONCURRENCY"]["value"] == "2"
    assert env["SIMILARITY_THRESHOLD"]["value"] == "0.75"
    assert env["GPT_MODEL"]["value"] == "gpt-4o-mini"
    assert env["HUME_CONFIG_ID"]["value"] == "cfg"
    assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "oa"
    assert env["HUME_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "hu"
    assert env["HUME_WEBHOOK_SIGNING_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert env["FEATURE_X"]["value"] == "1"


def test_user_env_wins_over_the_operators_value() -> None:
    spec = sample_body()["spec"]
    spec["backend"]["env"] = [
        {"name": "LOG_LEVEL", "value": "DEBUG"},
        {"name": "WEB_CONCURRENCY", "value": "5"},
    ]
    names = [e["name"] for e in backend.env(make_stack(spec))]
    assert len(names) == len(set(names)), "duplicate env names"
    env = {e["name"]: e for e in backend.env(make_stack(spec))}
    assert env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "DEBUG"}
    assert env["WEB_CONCURRENCY"]["value"] == "5"


def test_development_mode_reloads() -> None:
    spec = sample_body()["spec"]
    spec["mode"] = "development"
    stack = make_stack(spec)
    dep = backend.deployment(stack, "b:1", "c")
    command = dep["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:3] == ["python", "-m", "app.devserve"]
    assert command[command.index("--reload-dir") + 1] == "/app/app"  # where Tilt syncs the code
    prod = backend.deployment(make_stack(), "b:1", "c")
    container = prod["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "app.serve"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["WEB_CONCURRENCY"] == "2"
    assert "COOKIE_SECURE" not in env


def test_checksum_rolls_the_backend_pods(stack: Stack) -> None:
    a = backend.deployment(stack, "b:1", "one")["spec"]["template"]["metadata"]["annotations"]
    b = backend.deployment(stack, "b:1", "two")["spec"]["template"]["metadata"]["annotations"]
    assert a != b


def test_ingress_routes_backend_paths_and_frontend(stack: Stack) -> None:
    (ing,) = [o for o in render(stack, observed(stack)).apply if o["kind"] == "Ingress"]
    rule = ing["spec"]["rules"][0]
    assert rule["host"] == "dimini.localhost"
    routes = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    for path in ("/api", "/socket.io", "/docs", "/openapi.json", "/health", "/ready"):
        assert routes[path] == "demo-backend"
    assert routes["/"] == "demo-frontend"
    spec = sample_body()["spec"]
    spec["ingress"] = {"enabled": True, "host": "x.example.org", "tls": {"secretName": "tls"}}
    tls_stack = make_stack(spec)
    assert tls_stack.url == "https://x.example.org"
    spec["ingress"] = {"enabled": False}
    assert not [
        o for o in render(make_stack(spec), observed(stack)).apply if o["kind"] == "Ingress"
    ]


def test_pdb_and_hpa_follow_replicas_and_autoscaling() -> None:
    spec = sample_body()["spec"]
    assert not [
        o
        for o in render(make_stack(spec), observed(make_stack())).apply
        if o["kind"] in ("PodDisruptionBudget", "HorizontalPodAutoscaler")
    ]
    spec["frontend"]["replicas"] = 2
    spec["backend"]["autoscaling"] = {"enabled": True, "minReplicas": 2, "maxReplicas": 5}
    stack = make_stack(spec)
    objs = by_key(render(stack, observed(stack, applied_image="b:1")).apply)
    assert ("PodDisruptionBudget", "demo-frontend") in objs
    assert ("PodDisruptionBudget", "demo-backend") in objs
    hpa = objs[("HorizontalPodAutoscaler", "demo-backend")]
    assert hpa["spec"]["minReplicas"] == 2 and hpa["spec"]["maxReplicas"] == 5
    # With an HPA the Deployment leaves replicas to the autoscaler.
    assert "replicas" not in objs[("Deployment", "demo-backend")]["spec"]
    assert objs[("Deployment", "demo-frontend")]["spec"]["replicas"] == 2


def test_scheduling_applies_to_every_pod_including_migration() -> None:
    spec = sample_body()["spec"]
    spec["scheduling"] = {
        "nodeSelector": {"pool": "apps"},
        "tolerations": [{"key": "k", "operator": "Exists"}],
    }
    stack = make_stack(spec)
    pods = [pod_spec_of(o) for o in render(stack, observed(stack, applied_image="b:1")).apply]
    pods.append(pod_spec_of(migration.render(stack, "b:2")))
    for pod in [p for p in pods if p is not None]:
        assert pod["nodeSelector"] == {"pool": "apps"}
        assert pod["tolerations"][0]["key"] == "k"


# --- migration ordering -------------------------------------------------------------------


def _job(stack: Stack, image: str, cond: str | None, reason: str = "") -> dict[str, Any]:
    job = migration.render(stack, image)
    if cond:
        job["status"] = {
            "conditions": [
                {
                    "type": cond,
                    "status": "True",
                    "reason": reason,
                    "message": "boom" if cond == "Failed" else "",
                }
            ]
        }
    return job


def test_fresh_stack_migrates_beside_its_starting_postgres(stack: Stack) -> None:
    """Issue 18 (Ready in 10 s): the Job's pod starts and imports while Postgres initialises,
    and waits for it (as long as the Job may run); the backend still waits for the Job."""
    plan = render(stack, observed(stack))
    assert plan.migration.state == "Pending"
    (job,) = jobs(plan)
    image = stack.spec.backend.image
    assert job["metadata"]["name"] == f"demo-migrate-{image_hash(image)}"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == image
    assert container["command"] == ["python", "-m", "app.migrate"]
    wait = {e["name"]: e.get("value") for e in container["env"]}["MIGRATE_WAIT_SECONDS"]
    assert wait == str(job["spec"]["activeDeadlineSeconds"])
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert ("Deployment", "demo-backend") not in by_key(plan.apply)


def test_an_upgrade_waits_for_a_ready_database_before_migrating(stack: Stack) -> None:
    spec = to_dict(stack.spec)
    spec["backend"]["image"] = "registry.local/b:2"
    new_stack = make_stack(spec)
    plan = render(new_stack, observed(new_stack, applied_image="registry.local/b:1"))
    assert plan.migration.state == "WaitingForDatabase"
    assert jobs(plan) == []


def test_new_image_rolls_only_after_its_job_succeeds(stack: Stack) -> None:
    old = "registry.local/b:1"
    spec = to_dict(stack.spec)
    spec["backend"]["image"] = "registry.local/b:2"
    new_stack = make_stack(spec)
    children = {("StatefulSet", "demo-postgres"): ready_sts(stack)}

    def image_in(plan_apply: list[dict[str, Any]]) -> str:
        dep = by_key(plan_apply)[("Deployment", "demo-backend")]
        return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])

    plan = render(new_stack, observed(new_stack, children=children, applied_image=old))
    assert plan.migration.state == "Pending" and image_in(plan.apply) == old
    name = migration.job_name(new_stack, "registry.local/b:2")
    for cond, expected_state in ((None, "Running"), ("Failed", "Failed")):
        kids = {
            **children,
            ("Job", name): _job(new_stack, "registry.local/b:2", cond, "BackoffLimitExceeded"),
        }
        plan = render(new_stack, observed(new_stack, children=kids, applied_image=old))
        assert plan.migration.state == expected_state
        assert image_in(plan.apply) == old
        assert jobs(plan) == []
    assert plan.migration.reason == "BackoffLimitExceeded"
    assert "boom" in plan.migration.message
    kids = {**children, ("Job", name): _job(new_stack, "registry.local/b:2", "Complete")}
    plan = render(new_stack, observed(new_stack, children=kids, applied_image=old))
    assert plan.migration.state == "Applied"
    assert image_in(plan.apply) == "registry.local/b:2"


def test_missing_secret_blocks_backend_changes_only() -> None:
    spec = sample_body()["spec"]
    spec["secretRefs"] = {"openai": {"name": "oa"}}
    stack = make_stack(spec)
    problems = ('Secret "oa" (spec.secretRefs.openai) not found',)
    existing = backend.deployment(stack, "old:1", "c")
    obs = observed(
        stack,
        secret_problems=problems,
        applied_image="old:1",
        children={("Deployment", "demo-backend"): existing},
    )
    plan = render(stack, obs)
    assert ("Deployment", "demo-backend") not in by_key(plan.apply)
    assert ("Deployment", "demo-backend") in plan.keep
    assert ("Deployment", "demo-frontend") in by_key(plan.apply)
    assert prunable(stack, plan, obs) == []


def test_prune_removes_children_no_longer_desired() -> None:
    spec = sample_body()["spec"]
    spec["ingress"] = {"enabled": False}
    stack = make_stack(spec)
    obs = observed(
        stack,
        applied_image="b:1",
        children={
            ("Ingress", "demo"): {},
            ("PodDisruptionBudget", "demo-frontend"): {},
            ("Secret", "demo-db"): {},
            ("Job", "demo-migrate-1"): {},
        },
    )
    plan = render(stack, obs)
    assert prunable(stack, plan, obs) == [
        ("Ingress", "demo"),
        ("PodDisruptionBudget", "demo-frontend"),
    ]


def test_render_is_pure(stack: Stack) -> None:
    a = render(stack, observed(stack, applied_image="b:1"))
    b = render(stack, observed(stack, applied_image="b:1"))
    assert a.apply == b.apply


def test_secret_hash_does_not_depend_on_credentials(stack: Stack) -> None:
    a = by_key(render(stack, observed(stack, db_password="one", secret_key="k1")).apply)
    b = by_key(render(stack, observed(stack, db_password="two", secret_key="k2")).apply)
    for name in ("demo-connection",):
        ha = a[("Secret", name)]["metadata"]["annotations"][HASH_ANNOTATION]
        hb = b[("Secret", name)]["metadata"]["annotations"][HASH_ANNOTATION]
        assert ha == hb
        assert a[("Secret", name)]["data"] != b[("Secret", name)]["data"]


def test_postgres_survives_long_recovery_and_is_not_best_effort(stack: Stack) -> None:
    sts = postgres.statefulset(stack)
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    startup = container["startupProbe"]
    # liveness waits for the startup probe: up to failureThreshold x period of recovery
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 600
    assert "initialDelaySeconds" not in container["livenessProbe"]
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    shm = next(v for v in pod["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    assert "args" not in container


def test_postgres_parameters_become_sorted_args() -> None:
    spec = sample_body()["spec"]
    spec["postgres"]["parameters"] = {"shared_buffers": "256MB", "max_connections": "300"}
    (container,) = postgres.statefulset(make_stack(spec))["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["-c", "max_connections=300", "-c", "shared_buffers=256MB"]


@pytest.mark.parametrize(
    ("backend_spec", "parameters", "pool"),
    [
        ({}, None, 10),  # 2 workers x (1 + 1 surge) pods x 2 (pool + overflow) = 40 <= 90
        ({"replicas": 10, "workers": 4}, None, 1),
        ({"autoscaling": {"enabled": True, "maxReplicas": 5}}, {"max_connections": "200"}, 7),
    ],
)
def test_pools_fit_max_connections(
    backend_spec: dict[str, Any], parameters: dict[str, str] | None, pool: int
) -> None:
    spec = sample_body()["spec"]
    spec["backend"].update(backend_spec)
    if parameters:
        spec["postgres"]["parameters"] = parameters
    stack = make_stack(spec)
    env = {e["name"]: e.get("value") for e in backend.env(stack)}
    assert env["DB_POOL_SIZE"] == str(pool)
    be = stack.spec.backend
    replicas = be.autoscaling.max_replicas if be.autoscaling.enabled else be.replicas
    assert (
        2 * pool * be.workers * (replicas + 1) <= postgres.max_connections(stack) - 10 or pool == 1
    )


def test_pull_secrets_and_per_component_pod_metadata() -> None:
    spec = sample_body()["spec"]
    spec["imagePullSecrets"] = [{"name": "regcred"}]
    spread = {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "backend"}},
    }
    spec["backend"].update(
        {
            "podLabels": {"team": "care", "app.kubernetes.io/component": "hijack"},
            "podAnnotations": {"example.com/scrape": "true"},
            "priorityClassName": "dimini-high",
            "topologySpreadConstraints": [spread],
        }
    )
    stack = make_stack(spec)
    plan = render(stack, observed(stack, applied_image="registry.local/b:1"))
    objs = by_key(plan.apply)
    template = objs[("Deployment", "demo-backend")]["spec"]["template"]
    assert template["metadata"]["labels"]["team"] == "care"
    # The operator's labels win: the Deployment's selector must keep matching.
    assert template["metadata"]["labels"]["app.kubernetes.io/component"] == "backend"
    assert template["metadata"]["annotations"]["example.com/scrape"] == "true"
    assert "dimini.io/config-checksum" in template["metadata"]["annotations"]
    pod = template["spec"]
    assert pod["priorityClassName"] == "dimini-high"
    assert pod["topologySpreadConstraints"] == [spread]
    job = migration.render(stack, "registry.local/b:2")["spec"]["template"]
    assert job["metadata"]["labels"]["team"] == "care"
    for key in (("Deployment", "demo-backend"), ("Deployment", "demo-frontend")):
        pod_spec = objs[key]["spec"]["template"]["spec"]
        assert pod_spec["imagePullSecrets"] == [{"name": "regcred"}], key
    sts = objs[("StatefulSet", "demo-postgres")]["spec"]["template"]
    assert sts["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert "priorityClassName" not in sts["spec"] and "team" not in sts["metadata"]["labels"]


def test_every_server_is_noticed_within_a_second_of_starting(stack: Stack) -> None:
    """Startup probes every second (issue 18: apply -> Ready, pod kill -> /ready): a server that
    starts is seen then, not at the next readiness period; liveness waits for the startup probe
    instead of a fixed delay, and the allowance for a slow start stays minutes long."""
    pods = [
        postgres.statefulset(stack)["spec"]["template"]["spec"],
        backend.deployment(stack, "b:1", "c")["spec"]["template"]["spec"],
        frontend.deployment(stack)["spec"]["template"]["spec"],
    ]
    for pod in pods:
        (container,) = pod["containers"]
        startup = container["startupProbe"]
        assert startup["periodSeconds"] == 1, container["name"]
        assert startup["failureThreshold"] >= 120, container["name"]
        assert "initialDelaySeconds" not in container["livenessProbe"], container["name"]
