"""`python -m dimini_operator crd | render` print what the operator would use."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml
from app.core.config import Settings
from dimini_operator.__main__ import main
from dimini_operator.crd import crd_yaml

from tests.operator.unit.conftest import SAMPLE


def test_crd_subcommand_prints_the_crd(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crd"]) == 0
    assert capsys.readouterr().out == crd_yaml()


def test_render_subcommand_prints_every_child(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(SAMPLE), "--namespace", "demo", "--with-job"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == sorted(
        [
            "Secret",
            "ServiceAccount",
            "StatefulSet",
            "Service",
            "NetworkPolicy",
            "Deployment",
            "Ingress",
            "Job",
        ]
    )
    assert all(d["metadata"]["namespace"] == "demo" for d in docs)


def _referenced_secrets(pod_spec: dict[str, Any]) -> set[str]:
    names = {v["secret"]["secretName"] for v in pod_spec.get("volumes", []) if "secret" in v}
    for c in pod_spec.get("initContainers", []) + pod_spec["containers"]:
        for e in c.get("env", []):
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                names.add(ref["name"])
        names |= {s["secretRef"]["name"] for s in c.get("envFrom", []) if "secretRef" in s}
    return names


def test_render_prints_every_secret_its_pods_need(capsys: pytest.CaptureFixture[str]) -> None:
    """`kubectl apply` of the render alone starts pods (bench/e2e/ready.py's floor does):
    the created-once Secrets (`-db`, `-app`) are in it, with placeholder values."""
    assert main(["render", str(SAMPLE), "--namespace", "demo", "--with-job"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    needed: set[str] = set()
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            needed |= _referenced_secrets(d["spec"]["template"]["spec"])
    user_given = {"dimini-hume", "dimini-openai"}  # spec.secretRefs: the user's own
    assert needed - user_given <= secrets
    (app,) = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "dimini-app"]
    # The backend's own rule for SECRET_KEY, so the pods start rather than crash-loop.
    key = base64.b64decode(app["data"]["SECRET_KEY"]).decode()
    assert Settings.model_fields["secret_key"].metadata[0].min_length <= len(key)
