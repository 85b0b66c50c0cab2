"""The CRD YAML is well-formed, in step with crd.py, documented, and the sample is valid."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from dimini_operator import crd
from dimini_operator.specs.defaults import apply_defaults, parse_spec
from pydantic import ValidationError

from tests.operator.unit.conftest import ROOT, sample_body
from tests.operator.unit.schema_check import validate

CRD_FILE = ROOT / "manifests" / "crds" / "diministacks.dimini.io.yaml"


def _schema() -> dict[str, Any]:
    doc = yaml.safe_load(CRD_FILE.read_text())
    schema: dict[str, Any] = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_crd_file_is_generated_from_crd_py() -> None:
    assert CRD_FILE.read_text() == crd.crd_yaml(), "run: python -m dimini_operator crd > " + str(
        CRD_FILE
    )


def test_chart_copy_of_the_crd_is_generated_too() -> None:
    # A template, not crds/ (which Helm never upgrades), kept on uninstall.
    assert not (ROOT / "charts" / "dimini-operator" / "crds").exists()
    template = (ROOT / "charts" / "dimini-operator" / "templates" / "crd.yaml").read_text()
    _, _, body = template.partition("{{- if .Values.crds.install }}\n")
    doc = yaml.safe_load(body.rpartition("{{- end }}")[0])
    assert doc["metadata"].pop("annotations") == {"helm.sh/resource-policy": "keep"}
    assert doc == crd.crd(), "run: make manifests"


def test_model_refuses_what_the_schema_refuses() -> None:
    # One declared model: pydantic enforces the same constraints the CRD schema carries, so a
    # spec rendered offline (`python -m dimini_operator render`) fails as the API server would.
    spec = copy.deepcopy(sample_body()["spec"])
    spec["backend"]["replicas"] = 0
    spec["ingress"] = {"host": "Not_A_Host"}
    with pytest.raises(ValidationError) as info:
        parse_spec(spec)
    fields = {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
    assert fields == {"backend.replicas", "ingress.host"}


def test_crd_identity_and_printer_columns() -> None:
    doc = yaml.safe_load(CRD_FILE.read_text())
    assert doc["metadata"]["name"] == "diministacks.dimini.io"
    spec = doc["spec"]
    assert spec["group"] == "dimini.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "DiminiStack"
    assert spec["names"]["plural"] == "diministacks"
    assert spec["names"]["shortNames"] == ["dimini"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == ["Ready", "Phase", "Version", "URL", "Age"]


def _walk(schema: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    out = [(path, schema)]
    for key, sub in schema.get("properties", {}).items():
        out += _walk(sub, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        out += _walk(schema["items"], f"{path}[]")
    return out


def test_every_spec_field_is_documented() -> None:
    spec = _schema()["properties"]["spec"]
    undocumented = [p for p, s in _walk(spec, "spec") if not s.get("description")]
    assert undocumented == []


def test_every_cel_message_names_its_field() -> None:
    rules = [(p, r) for p, s in _walk(_schema(), "") for r in s.get("x-kubernetes-validations", [])]
    assert len(rules) >= 8
    for path, rule in rules:
        assert "spec." in rule["message"] or "metadata.name" in rule["message"], (path, rule)


def test_sample_is_valid_against_the_schema() -> None:
    body = sample_body()
    assert body["apiVersion"] == "dimini.io/v1alpha1" and body["kind"] == "DiminiStack"
    errors = validate(body["spec"], _schema()["properties"]["spec"], "spec")
    assert errors == []
    assert validate(apply_defaults(body["spec"]), _schema()["properties"]["spec"], "spec") == []


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("backend", "replicas"), -1, "spec.backend.replicas"),
        (("ingress", "host"), "Not_A_Host", "spec.ingress.host"),
        (("mode",), "staging", "spec.mode"),
        (("postgres", "storage", "size"), "lots", "spec.postgres.storage.size"),
        (("deletionPolicy",), "Keep", "spec.deletionPolicy"),
        (("config", "similarityThreshold"), 1.5, "spec.config.similarityThreshold"),
        (("config", "logLevel"), "verbose", "spec.config.logLevel"),
        (("frontend", "replicas"), 0, "spec.frontend.replicas"),
    ],
)
def test_schema_refuses_invalid_values(path: tuple[str, ...], value: Any, field: str) -> None:
    spec = copy.deepcopy(sample_body()["spec"])
    target = spec
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    errors = validate(spec, _schema()["properties"]["spec"], "spec")
    assert any(e.startswith(field) for e in errors), errors


def test_defaults_match_the_design() -> None:
    spec = apply_defaults({"backend": {"image": "b:1"}, "frontend": {"image": "f:1"}})
    assert spec["mode"] == "production"
    assert spec["paused"] is False
    assert spec["deletionPolicy"] == "Retain"
    assert spec["backend"]["replicas"] == 1 and spec["backend"]["workers"] == 2
    assert spec["postgres"]["image"] == "postgres:15-alpine"
    assert spec["postgres"]["storage"]["size"] == "1Gi"
    assert spec["ingress"] == {
        "enabled": True,
        "host": "dimini.localhost",
        "maxBodySize": "1Mi",
        "controller": "Other",
        "trustedProxies": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    }
    assert spec["backend"]["autoscaling"]["enabled"] is False
