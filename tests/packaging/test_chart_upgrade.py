"""`helm upgrade` upgrades the CRD (issue 14, acceptance 6): from the previous chart, whose CRD sat
in `crds/` (never upgraded by Helm), to this one, with a new field in the CRD: after the upgrade
the API server serves the field instead of pruning it."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.cluster import Sandbox
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "dimini-operator"
CRD = REPO / "manifests" / "crds" / "diministacks.dimini.io.yaml"
# The last chart version with the CRD in crds/: what an installed release was made from.
PREVIOUS_VERSION = "0.1.0"
NEW_FIELD = "upgradeProbe"


def run(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    proc = subprocess.run(
        list(args), capture_output=True, text=True, env=env, input=stdin, timeout=180, check=False
    )
    assert proc.returncode == 0, f"{' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def previous_chart(dest: Path) -> Path:
    """The previous chart's shape (0.1.0): the CRD in crds/, which Helm installs once and never
    upgrades. Built from this chart rather than read from git history, so a shallow clone works."""
    chart = dest / "previous"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "crd.yaml").unlink()
    (chart / "crds").mkdir()
    shutil.copy(CRD, chart / "crds" / CRD.name)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    meta["version"] = PREVIOUS_VERSION
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return chart


def chart_with_new_field(dest: Path) -> Path:
    """This chart with one more spec field in its CRD template: a release that adds a field."""
    chart = dest / "new"
    subprocess.run(["cp", "-r", str(CHART), str(chart)], check=True)
    template = chart / "templates" / "crd.yaml"
    _, _, rest = template.read_text().partition("{{- if .Values.crds.install }}\n")
    body, _, _ = rest.rpartition("{{- end }}")
    doc = yaml.safe_load(body)
    spec = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"][NEW_FIELD] = {"type": "string", "description": "test-only field"}
    template.write_text(
        "{{- if .Values.crds.install }}\n"
        + yaml.safe_dump(doc, sort_keys=False, width=100)
        + "{{- end }}\n"
    )
    return chart


def served_spec(env: dict[str, str], namespace: str, name: str) -> dict[str, Any]:
    obj = json.loads(run("kubectl", "-n", namespace, "get", "diministack", name, "-o", "json",
                         env=env))  # fmt: skip
    spec: dict[str, Any] = obj["spec"]
    return spec


@pytest.mark.sandbox
def test_helm_upgrade_from_the_previous_chart_serves_a_new_crd_field(
    sandbox: Sandbox, helm: str, namespace: str, tmp_path: Path
) -> None:
    env = sandbox.env()
    release = f"op-{uuid.uuid4().hex[:6]}"
    common = ["--namespace", namespace, "--set", "rbac.scope=namespace"]
    try:
        crd_exists = subprocess.run(
            ["kubectl", "get", "crd", "diministacks.dimini.io"], env=env, capture_output=True,
            check=False,
        ).returncode == 0  # fmt: skip
        # Helm 4 applies crds/ server-side, which conflicts with a CRD another manager applied
        # (the session's other tests apply it with kubectl): such a cluster installs --skip-crds.
        skip = ["--skip-crds"] if crd_exists else []
        run(helm, "install", release, str(previous_chart(tmp_path)), *common, *skip, env=env)
        stack = yaml.safe_load((REPO / "manifests" / "samples" / "diministack.yaml").read_text())
        run("kubectl", "-n", namespace, "apply", "-f", "-", env=env, stdin=yaml.safe_dump(stack))
        name = stack["metadata"]["name"]
        stack["spec"][NEW_FIELD] = "before"
        refused = subprocess.run(
            ["kubectl", "-n", namespace, "apply", "-f", "-"],
            input=yaml.safe_dump(stack), env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert refused.returncode != 0 and f'unknown field "spec.{NEW_FIELD}"' in refused.stderr

        # As on a cluster where the CRD was also applied by hand (manifests/crds/, the plain
        # install): another field manager owns the schema.
        run("kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(CRD), env=env)
        # The one-time move of the CRD from crds/ (unowned) into the release: --take-ownership,
        # and --force-conflicts to take the schema over from that other manager.
        run(helm, "upgrade", release, str(chart_with_new_field(tmp_path)), *common,
            "--take-ownership", "--force-conflicts", env=env)  # fmt: skip
        wait_for(
            "the upgraded CRD established",
            lambda: (
                NEW_FIELD
                in json.dumps(
                    json.loads(
                        run(
                            "kubectl", "get", "crd", "diministacks.dimini.io", "-o", "json", env=env
                        )
                    )["spec"]["versions"][0]["schema"]
                )
            ),
            30,
        )
        stack["spec"][NEW_FIELD] = "after"
        run("kubectl", "-n", namespace, "apply", "-f", "-", env=env, stdin=yaml.safe_dump(stack))
        assert served_spec(env, namespace, name).get(NEW_FIELD) == "after"

        # A later upgrade (now owned by the release) needs no flag and keeps the field.
        run(helm, "upgrade", release, str(tmp_path / "new"), *common, env=env)
        # Uninstall keeps the CRD (resource-policy keep), so the stacks survive it.
        run(helm, "uninstall", release, "--namespace", namespace, env=env)
        release = ""
        assert served_spec(env, namespace, name).get(NEW_FIELD) == "after"
    finally:
        if release:
            subprocess.run([helm, "uninstall", release, "--namespace", namespace], env=env,
                           capture_output=True, check=False)  # fmt: skip
        # Put back exactly the repo's CRD for the session's other tests (replace, not apply:
        # the test field is owned by Helm's field manager and apply would leave it).
        run("kubectl", "replace", "-f", str(CRD), env=env)
