"""`kubectl dimini`: its tables, backup verdicts, restore documents and kubectl command lines,
from status the operator's own derive functions produce (no cluster: tests/operator/integration/
test_kubectl_plugin.py runs it against the control plane)."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import pytest
import yaml
from dimini_operator import yamlout
from dimini_operator.kubectl_plugin import cli, ondemand, restore, shell, table
from dimini_operator.kubectl_plugin.cluster import as_stack
from dimini_operator.kubectl_plugin.errors import FAILED, USAGE, PluginError
from dimini_operator.specs import backend, backup, frontend, inplace, postgres
from dimini_operator.specs.common import Stack
from dimini_operator.specs.defaults import to_dict
from dimini_operator.specs.plan import plan_migration
from dimini_operator.specs.status import derive

from tests.operator.unit.conftest import ROOT, make_stack, stored
from tests.operator.unit.test_backup import MANIFEST, T1, T2, backup_stack, job, status_of
from tests.operator.unit.test_external_postgres import external_stack
from tests.operator.unit.test_status import converged

T0 = "2026-12-01T10:00:00Z"


def running_pod(template: dict[str, Any], name: str, restarts: int) -> dict[str, Any]:
    """A pod of a rendered pod template, its containers ready."""
    spec = template["spec"]
    return {
        "metadata": {**template["metadata"], "name": name},
        "spec": spec,
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": c["name"], "ready": True, "restartCount": restarts}
                for c in spec["containers"]
            ],
        },
    }


def verified_and_failed(stack: Stack) -> dict[str, Any]:
    """A converged stack's status after a verified backup and a later failed one."""
    ok = {**MANIFEST, "step": "verify", "verified": True, "verifiedAt": T1, "count": 3}
    failed = {"step": "backup", "error": "pg_dump failed: connection refused"}
    st: dict[str, Any] = {}
    for name, state, when, report in (
        ("demo-backup-1", "Complete", T1, ok),
        ("demo-backup-2", "Failed", T2, failed),
    ):
        obs = converged(stack)
        children = {**obs.children, ("Job", name): job(name, state, when)}
        obs = dataclasses.replace(obs, children=children, backup_reports={name: report})
        mig = plan_migration(stack, obs)
        st = derive(stack, obs, mig, old_status=st, now=when, paused=False)
    return st


def test_status_page_shows_phase_conditions_pods_backups_and_migration() -> None:
    stack = backup_stack()
    st = verified_and_failed(stack)
    image = stack.spec.backend.image
    pods = [
        running_pod(backend.deployment(stack, image, "c")["spec"]["template"], "demo-be-1", 2),
        running_pod(frontend.deployment(stack)["spec"]["template"], "demo-fe-1", 0),
        running_pod(postgres.statefulset(stack)["spec"]["template"], "demo-postgres-0", 0),
    ]
    page = table.stack_report(stored(stack, st), pods)
    lines = page.splitlines()
    assert "  phase:" in page and "Ready" in next(x for x in lines if x.startswith("  phase:"))
    assert f"  url:        {st['url']}" in lines
    for cond in st["conditions"]:
        row = next(x for x in lines if x.split()[:1] == [cond["type"]])
        assert row.split()[1:4] == [cond["status"], cond["reason"], "3"], row
        assert row.endswith(cond["message"])
    be = next(x for x in lines if "demo-be-1" in x).split()
    assert be == ["backend", "demo-be-1", "1/1", "Running", "2", image]
    assert next(x for x in lines if x.startswith("postgres ")).split()[1] == "demo-postgres-0"
    verified = next(x for x in lines if x.strip().startswith("last verified:"))
    assert f"{MANIFEST['name']} at {T1}, revision {MANIFEST['revision']}" in verified
    failure = next(x for x in lines if x.strip().startswith("last failure:"))
    assert "demo-backup-2" in failure and "pg_dump failed: connection refused" in failure
    assert next(x for x in lines if x.strip().startswith("count:")).split()[-1] == "3"
    mig_image = [x for x in lines if x.strip().startswith("image:")]
    assert mig_image[0].split()[-1] == image
    applied = next(c for c in st["conditions"] if c["type"] == "MigrationsApplied")
    state = next(x for x in lines if x.strip().startswith("state:"))
    assert state.split()[1:] == [applied["reason"], "(True)"]
    bk = next(x for x in lines if x.startswith("BackupVerified "))
    assert "BackupFailed" in bk and f"restore point: {MANIFEST['name']}" in bk


def test_conditions_of_an_older_generation_are_marked_stale() -> None:
    stack = make_stack()
    obs = converged(stack)
    st = derive(stack, obs, plan_migration(stack, obs), old_status={}, now=T0, paused=False)
    page = table.stack_report(stored(stack, st, generation=4), [])
    ready = next(x for x in page.splitlines() if x.startswith("Ready "))
    assert "3 (stale, spec is 4)" in ready
    assert "Pods:\n  (none)" in page
    assert "Backups:\n  (none: spec.postgres.backup is not set)" in page
    configured = backup_stack()
    obs = converged(configured)
    st = derive(
        configured, obs, plan_migration(configured, obs), old_status={}, now=T0, paused=False
    )
    page = table.stack_report(stored(configured, st), [])
    assert "Backups:\n  (none: no verified backup yet (schedule 0 3 * * *))" in page


def test_a_stack_without_status_says_so() -> None:
    page = table.stack_report(stored(make_stack(), {}), [])
    assert "no status yet (is the operator running?)" in page


def test_stack_list_has_one_line_per_stack() -> None:
    ready = backup_stack()
    st = verified_and_failed(ready)
    other = make_stack(name="other")
    out = table.stacks_table([stored(ready, st), stored(other, {})], with_namespace=True)
    header, first, second = out.splitlines()
    assert header.split()[:4] == ["NAMESPACE", "NAME", "PHASE", "READY"]
    assert first.split() == ["ns1", "demo", "Ready", "True", "0.1.0", T1, st["url"]]
    assert second.split() == ["ns1", "other", "-", "-", "-", "-", "-"]


def test_backup_verdict_follows_the_requests_job() -> None:
    stack = backup_stack()
    req = ondemand.Request("r1", backup.on_demand_job_name(stack, "r1"))
    ok = {**MANIFEST, "step": "verify", "verified": True, "verifiedAt": T1}
    st = status_of(stack, [job(req.job, "Complete", T1)], {req.job: ok}, {})
    assert ondemand.verdict(stored(stack, st), req) == (
        True,
        f"backup {MANIFEST['name']} verified at {T1}",
    )
    failed = {"step": "verify", "backup": "dimini-x", "error": "row counts differ"}
    st = status_of(stack, [job(req.job, "Failed", T2)], {req.job: failed}, {})
    result = ondemand.verdict(stored(stack, st), req)
    assert result is not None and result[0] is False and "row counts differ" in result[1]
    # Another Job's verdict is not this request's.
    other = status_of(stack, [job("demo-backup-9", "Complete", T1)], {"demo-backup-9": ok}, {})
    assert ondemand.verdict(stored(stack, other), req) is None


class FakeCluster:
    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        self.reads = 0
        self.annotations: dict[str, str] = {}

    def stack(self, name: str) -> dict[str, Any]:
        self.reads += 1
        return self.obj

    def annotate(self, name: str, annotations: dict[str, str]) -> dict[str, Any]:
        self.annotations.update(annotations)
        return self.obj


def test_wait_times_out_with_what_the_operator_did() -> None:
    stack = backup_stack()
    req = ondemand.Request("r1", backup.on_demand_job_name(stack, "r1"))
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    fake = FakeCluster(stored(stack, {}))
    with pytest.raises(PluginError) as err:
        ondemand.wait(fake, "demo", req, 5, clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]
    assert err.value.code == FAILED
    assert "timed out after 5s" in str(err.value) and "has not acted" in str(err.value)
    assert fake.reads > 1
    fake.obj["status"] = {"backup": {"requested": "r1"}}
    with pytest.raises(PluginError, match=f"started Job {req.job}"):
        ondemand.wait(fake, "demo", req, 1, clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]


def test_restore_writes_a_new_stack_bootstrapped_from_the_old_ones_claim() -> None:
    old = stored(backup_stack(), verified_and_failed(backup_stack()))
    name = restore.source_backup(old, None)
    assert name == MANIFEST["name"]
    doc = restore.new_stack(old, "demo2", name)
    assert doc["metadata"] == {"name": "demo2", "namespace": "ns1"}
    assert doc["spec"]["postgres"]["bootstrap"] == {
        "fromBackup": {"claimName": backup.pvc_name(as_stack(old)), "name": name}
    }
    # The operator accepts it, and everything else is the old stack's spec.
    new = as_stack(doc)
    source = backup.from_backup(new)
    assert source is not None and source.name == name
    assert to_dict(new.spec) | {"postgres": None} == old["spec"] | {"postgres": None}
    assert any("spec.ingress.host" in w for w in restore.warnings(doc))
    # The YAML kubectl would read back.
    assert yaml.safe_load(yamlout.dump_all([doc]) or "") == doc


def test_restore_refuses_in_place_external_and_bad_names() -> None:
    old = stored(backup_stack(), {})
    with pytest.raises(PluginError, match="use --in-place"):
        restore.new_stack(old, "demo", "dimini-20261202T030000Z")
    with pytest.raises(PluginError, match="has no verified backup"):
        restore.source_backup(old, None)
    with pytest.raises(PluginError, match="--from-backup 'latest'"):
        restore.new_stack(old, "demo2", "latest")
    with pytest.raises(PluginError, match="external Postgres"):
        restore.new_stack(stored(external_stack(), {}), "demo2", "dimini-20261202T030000Z")


def test_restore_in_place_annotates_the_stack_with_the_restore_point_or_the_named_backup() -> None:
    stack = backup_stack()
    fake = FakeCluster(stored(stack, verified_and_failed(stack)))
    req = restore.in_place(fake, "demo", None)  # type: ignore[arg-type]
    value = fake.annotations[backup.RESTORE_IN_PLACE_ANNOTATION]
    assert req.backup == MANIFEST["name"] and value == req.value
    assert inplace.requested_backup(value) == MANIFEST["name"] and "@" in value
    again = restore.in_place(fake, "demo", None)  # type: ignore[arg-type]
    assert again.value != value, "a new request each time: the same backup can be restored again"
    named = restore.in_place(fake, "demo", "dimini-20261201T030000Z")  # type: ignore[arg-type]
    assert inplace.requested_backup(named.value) == "dimini-20261201T030000Z"


def test_restore_in_place_refuses_clearly() -> None:
    def refused(obj: dict[str, Any], name: str | None, match: str) -> None:
        fake = FakeCluster(obj)
        with pytest.raises(PluginError, match=match):
            restore.in_place(fake, "demo", name)  # type: ignore[arg-type]
        assert not fake.annotations

    good = "dimini-20261202T030000Z"
    refused(stored(external_stack(), {}), good, "external Postgres")
    refused(stored(make_stack(), {}), good, "no spec.postgres.backup")
    refused(stored(backup_stack(), {}), None, "has no verified backup")
    refused(stored(backup_stack(), {}), "latest", "--from-backup 'latest'")
    running = {"restore": {"request": f"{good}@x", "backup": good, "phase": "Restoring"}}
    refused(stored(backup_stack(), running), good, "a restore in place is running")
    # A finished one does not block the next.
    done = {"restore": {**running["restore"], "phase": "Failed", "databaseIntact": True}}
    fake = FakeCluster(stored(backup_stack(), done))
    restore.in_place(fake, "demo", good)  # type: ignore[arg-type]
    assert fake.annotations


def test_status_page_shows_the_in_place_restore() -> None:
    rec = {
        "request": "dimini-20261202T030000Z@x",
        "backup": "dimini-20261202T030000Z",
        "phase": "Failed",
        "reason": "RestoreFailed",
        "message": "restoring dimini-20261202T030000Z failed: checksum mismatch",
        "safetyBackup": "dimini-20261207T180000Z",
        "databaseIntact": True,
    }
    page = table.stack_report(stored(backup_stack(), {"restore": rec}), [])
    restore_part = page.split("Restore in place:")[1]
    for text in ("Failed", "dimini-20261207T180000Z", "checksum mismatch", "unchanged"):
        assert text in restore_part, text


def test_psql_execs_into_the_postgres_container_with_the_servers_own_user() -> None:
    stack = make_stack()
    pod = shell.postgres_pod(stack)
    assert pod == f"{postgres.statefulset(stack)['metadata']['name']}-0"
    argv = shell.psql_argv(stack, pod, ["-c", "select 1"], tty=False)
    assert argv[:7] == ["exec", "-i", "-n", "ns1", pod, "-c", postgres.CONTAINER]
    assert argv[-3:] == ["psql", "-c", "select 1"]
    # The role and the database come from the container's env (the StatefulSet sets both).
    env = {
        e["name"]
        for e in postgres.statefulset(stack)["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert {"POSTGRES_USER", "POSTGRES_DB"} <= env
    assert shell.PSQL_SCRIPT in argv


def test_psql_on_an_external_server_says_how_to_connect_without_credentials() -> None:
    stack = external_stack()
    with pytest.raises(PluginError) as err:
        shell.psql_argv(stack, "unused", [], tty=True)
    ext = stack.spec.postgres.external
    assert ext is not None
    text = str(err.value)
    assert f"{ext.host}:{ext.port}" in text and f"dbname={ext.database}" in text
    assert f"secret {ext.credentials_secret_ref.name}" in text
    assert 'PGPASSWORD="$(kubectl' in text  # a command that reads it, never a value


def test_logs_select_the_stacks_pods_by_component_and_the_operators() -> None:
    stack = make_stack()
    argv = shell.logs_argv(stack, "backend", follow=True, tail=50)
    labels = backend.deployment(stack, stack.spec.backend.image, "c")["spec"]["selector"]
    wanted = ",".join(f"{k}={v}" for k, v in labels["matchLabels"].items())
    assert argv[argv.index("-l") + 1] == wanted
    assert "-f" in argv and "--tail=50" in argv
    every = shell.logs_argv(stack, None, follow=False, tail=None)
    assert "app.kubernetes.io/component" not in every[every.index("-l") + 1]
    op = shell.logs_argv(stack, "operator", follow=False, tail=None, operator_namespace="ops")
    assert op[op.index("-n") + 1] == "ops"
    chart = yaml.safe_load((ROOT / "charts" / "dimini-operator" / "Chart.yaml").read_text())
    assert (
        op[op.index("-l") + 1]
        == f"app.kubernetes.io/name={chart['name']},app.kubernetes.io/component=operator"
    )


def test_bad_environment_is_one_line_and_a_usage_exit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.main(["psql", "demo"]) == USAGE
    err = capsys.readouterr().err
    assert err == "kubectl dimini psql: kubectl is not on PATH (psql and logs run through it)\n"
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert cli.main(["status"]) == USAGE
    err = capsys.readouterr().err
    assert err.startswith("kubectl dimini status: no usable kubeconfig") and err.count("\n") == 1


def test_psql_arguments_after_the_double_dash_are_psqls(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def psql(args: Any) -> int:
        seen.append(args)
        return 0

    monkeypatch.setitem(cli.COMMANDS, "psql", psql)
    assert cli.main(["psql", "demo", "-n", "ns1", "--", "-c", "select 1", "-n"]) == 0
    (args,) = seen
    assert (args.stack, args.namespace, args.extra) == ("demo", "ns1", ["-c", "select 1", "-n"])
    with pytest.raises(SystemExit) as exit_:
        cli.main(["status", "demo", "--", "x"])
    assert exit_.value.code == USAGE


def test_restore_takes_exactly_one_of_into_and_in_place(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (["restore", "demo"], ["restore", "demo", "--in-place", "--into", "x"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == USAGE
    capsys.readouterr()
    # Checked before any kubeconfig is read: the in-place restore has no claim and no YAML.
    assert cli.main(["restore", "demo", "--in-place", "--dry-run"]) == USAGE
    assert "no --claim, --dry-run" in capsys.readouterr().err
