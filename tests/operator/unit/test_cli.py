"""`python -m dimini_operator crd | render` print what the operator would use."""

from __future__ import annotations

import pytest
import yaml
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
