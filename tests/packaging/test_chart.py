"""The Helm chart and the plain manifests generated from it: lint, drift, and admission by the
sandbox's API server (server-side dry-run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sandbox.cluster import Sandbox

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
    result = run(
        "kubectl",
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd/diministacks.dimini.io",
        env=sandbox.env(),
    )
    assert result.returncode == 0, result.stderr


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

    @pytest.mark.parametrize("values", [[], ["--set", "rbac.scope=namespace"]])
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
