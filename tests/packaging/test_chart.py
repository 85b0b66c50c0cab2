"""The Helm chart and the plain manifests generated from it: lint, drift, and admission by the
sandbox's API server (server-side dry-run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.cluster import Sandbox
from tests.support.crds import wait_established

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "dimini-operator"
sys.path.insert(0, str(REPO / "hack"))

import manifests as generated  # noqa: E402


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, env=env, input=stdin, timeout=120
    )


@pytest.mark.parametrize(
    "values", [[], ["--set", "rbac.scope=namespace", "--set", "watchNamespaces={team-a,team-b}"]]
)
def test_helm_lint_is_clean(helm: str, values: list[str]) -> None:
    result = run(helm, "lint", "--strict", str(CHART), *values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_values_schema_refuses_bad_values(helm: str) -> None:
    result = run(helm, "template", "x", str(CHART), "--set", "rbac.scope=everywhere")
    assert result.returncode != 0
    assert "rbac" in result.stderr and "scope" in result.stderr


def test_generated_manifests_match_their_sources(helm: str) -> None:
    assert generated.drifted(generated.render(helm)) == [], "run `make manifests`"


def test_drift_check_fails_when_a_generated_file_differs(helm: str, tmp_path: Path) -> None:
    expected = generated.render(helm)
    copy = {tmp_path / p.name: text for p, text in expected.items()}
    for path, text in copy.items():
        path.write_text(text)
    assert generated.drifted(copy) == []
    victim = tmp_path / "dimini-operator.yaml"
    victim.write_text(victim.read_text().replace("verbs:", "verbs: # hand edit\n   ", 1))
    assert generated.drifted(copy) == [victim]


@pytest.fixture(scope="module")
def crd_installed(sandbox: Sandbox) -> None:
    result = run(
        "kubectl",
        "apply",
        "--server-side",
        "-f",
        str(REPO / "manifests" / "crds"),
        env=sandbox.env(),
    )
    assert result.returncode == 0, result.stderr
    wait_established(sandbox.env(), "diministacks.dimini.io")


@pytest.mark.sandbox
@pytest.mark.usefixtures("crd_installed")
class TestAdmission:
    """What users apply is accepted by a real API server (server-side dry-run)."""

    def dry_run(self, sandbox: Sandbox, text: str, namespace: str | None) -> None:
        where = ["--namespace", namespace] if namespace else []
        result = run(
            "kubectl",
            "apply",
            "--server-side",
            "--dry-run=server",
            *where,
            "-f",
            "-",
            env=sandbox.env(),
            stdin=text,
        )
        assert result.returncode == 0, result.stderr
        applied = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
        documents = [d for d in yaml.safe_load_all(text) if d]
        assert len(applied) == len(documents), result.stdout

    @pytest.mark.parametrize("values", [[], ["--set", "rbac.scope=cluster"]])
    def test_helm_template_is_admitted(
        self, sandbox: Sandbox, helm: str, namespace: str, values: list[str]
    ) -> None:
        rendered = run(
            helm,
            "template",
            "dimini-operator",
            str(CHART),
            "--namespace",
            namespace,
            "--skip-crds",
            *values,
        )
        assert rendered.returncode == 0, rendered.stderr
        # The `helm test` pod runs as the operator's ServiceAccount, which Helm has created by
        # then; a dry run creates nothing, so it must exist for the pod's admission.
        sa = run("kubectl", "create", "serviceaccount", "dimini-operator", "-n", namespace,
                 env=sandbox.env())  # fmt: skip
        assert sa.returncode == 0, sa.stderr
        self.dry_run(sandbox, rendered.stdout, namespace)

    @pytest.mark.parametrize(
        "path", sorted(p.relative_to(REPO) for p in (REPO / "manifests").rglob("*.yaml")), ids=str
    )
    def test_every_manifest_is_admitted(self, sandbox: Sandbox, namespace: str, path: Path) -> None:
        text = (REPO / path).read_text()
        docs = [d for d in yaml.safe_load_all(text) if d]
        # A file that names its namespaces goes there (they must exist for a dry run);
        # otherwise its objects land in the test's namespace.
        own = {d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")}
        own |= {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
        for ns in own:
            run("kubectl", "create", "namespace", ns, env=sandbox.env())
        try:
            self.dry_run(sandbox, text, None if own else namespace)
        finally:
            for ns in own:
                run("kubectl", "delete", "namespace", ns, "--wait=false", env=sandbox.env())


def test_one_replica_has_no_disruption_budget(helm: str) -> None:
    rendered = run(helm, "template", "x", str(CHART), "--set", "replicas=1")
    assert rendered.returncode == 0, rendered.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered.stdout) if d]
    assert "Deployment" in kinds and "PodDisruptionBudget" not in kinds


def test_default_install_watches_and_is_granted_only_its_own_namespace(helm: str) -> None:
    """Least privilege by default: without values the operator watches the release's namespace,
    with a RoleBinding there; only reading its own CRD and StorageClasses (cluster-scoped) is
    granted cluster-wide."""
    rendered = run(helm, "template", "x", str(CHART), "--namespace", "team-a")
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    cluster_bindings = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert [b["roleRef"]["name"] for b in cluster_bindings] == ["x-dimini-operator-crd"]
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert [(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in bindings] == [
        ("team-a", "x-dimini-operator")
    ]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args


def test_cluster_scope_is_one_value_away(helm: str) -> None:
    rendered = run(helm, "template", "x", str(CHART), "--set", "rbac.scope=cluster")
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    assert not [d for d in docs if d["kind"] == "RoleBinding"]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [a for a in args if a.startswith("--namespace")]


DIGEST = "sha256:" + "ab" * 32


def _docs(helm: str, *values: str) -> list[dict[str, Any]]:
    rendered = run(helm, "template", "x", str(CHART), "--namespace", "ops", *values)
    assert rendered.returncode == 0, rendered.stderr
    return [d for d in yaml.safe_load_all(rendered.stdout) if d]


def _operator_image(docs: list[dict[str, Any]]) -> str:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return str(container["image"])


def _test_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (pod,) = [d for d in docs if d["kind"] == "Pod"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    return pod


def test_a_digest_pins_the_operator_image(helm: str) -> None:
    repo = "registry.example.com/dimini-operator"
    plain = _docs(helm, "--set", f"image.repository={repo}")
    assert _operator_image(plain) == f"{repo}:0.1.0"
    pinned = _docs(helm, "--set", f"image.repository={repo}", "--set", f"image.digest={DIGEST}")
    assert _operator_image(pinned) == f"{repo}@{DIGEST}"
    refused = run(helm, "template", "x", str(CHART), "--set", "image.digest=latest")
    assert refused.returncode != 0 and "digest" in refused.stderr


def test_helm_test_runs_the_selfcheck_in_the_operator_image(helm: str) -> None:
    docs = _docs(helm, "--set", f"image.digest={DIGEST}")
    pod = _test_pod(docs)
    (container,) = pod["spec"]["containers"]
    assert container["image"] == _operator_image(docs)
    assert container["command"] == ["python", "-m", "dimini_operator.selfcheck"]
    assert container["args"] == [
        "--liveness-url=http://x-dimini-operator-metrics:8081/healthz",
        "--namespace=ops",
    ]
    # With the operator's ServiceAccount: its permissions are what is checked.
    (sa,) = [d for d in docs if d["kind"] == "ServiceAccount"]
    assert pod["spec"]["serviceAccountName"] == sa["metadata"]["name"]
    assert "busybox" not in run(helm, "template", "x", str(CHART)).stdout


def test_the_test_image_is_configurable_and_checks_the_watched_namespaces(helm: str) -> None:
    docs = _docs(
        helm,
        "--set", "tests.image.repository=mirror.example/dimini-operator",
        "--set-string", "tests.image.tag=9",
        "--set", "rbac.scope=namespace",
        "--set", "watchNamespaces={team-a,team-b}",
        "--set", "metrics.service.enabled=false",
    )  # fmt: skip
    (container,) = _test_pod(docs)["spec"]["containers"]
    assert container["image"] == "mirror.example/dimini-operator:9"
    # No Service, no liveness URL to ask.
    assert container["args"] == ["--namespace=team-a", "--namespace=team-b"]


def test_artifact_hub_annotations_describe_the_operator_its_crd_and_example() -> None:
    from dimini_operator import crd

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    annotations = chart["annotations"]
    assert annotations["artifacthub.io/operator"] == "true"
    assert annotations["artifacthub.io/operatorCapabilities"] in (
        "Basic Install", "Seamless Upgrades", "Full Lifecycle", "Deep Insights", "Auto Pilot",
    )  # fmt: skip
    assert annotations["artifacthub.io/license"]
    (described,) = yaml.safe_load(annotations["artifacthub.io/crds"])
    assert (described["kind"], described["version"], described["name"]) == (
        crd.KIND,
        crd.VERSION,
        crd.CRD_NAME,
    )
    sample = yaml.safe_load((REPO / "manifests" / "samples" / "diministack.yaml").read_text())
    assert yaml.safe_load(annotations["artifacthub.io/crdsExamples"]) == [sample]
    images = yaml.safe_load(annotations["artifacthub.io/images"])
    assert [i["image"] for i in images] == ["ghcr.io/dimini/dimini-operator:0.1.0"]
