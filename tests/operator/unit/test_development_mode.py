"""mode: development renders pods Tilt can live-update (hot reload, writable code directory)."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs.plan import Observed, render

from tests.operator.unit.conftest import make_stack, sample_body


def _backend_container(mode: str) -> dict[str, Any]:
    spec = sample_body()["spec"]
    spec["mode"] = mode
    plan = render(
        make_stack(spec),
        Observed(db_password="pw", secret_key="sk", applied_image=spec["backend"]["image"]),
    )
    deployment = next(
        o
        for o in plan.apply
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "demo-backend"
    )
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_development_backend_reloads_and_accepts_synced_code() -> None:
    container = _backend_container("development")
    assert container["command"][:3] == ["python", "-m", "app.devserve"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is False


def test_production_backend_root_filesystem_stays_read_only() -> None:
    container = _backend_container("production")
    assert container["command"] == ["python", "-m", "app.serve"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
