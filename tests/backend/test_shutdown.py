"""SIGTERM drains the backend: lifespan shutdown runs and the process exits cleanly."""

from __future__ import annotations

from pathlib import Path

from tests.backend.helpers import backend_env, start_backend


def test_sigterm_shuts_down_gracefully(migrated_url: str, tmp_path: Path) -> None:
    backend = start_backend(backend_env(migrated_url), tmp_path / "backend.log")
    # uvicorn re-raises the signal after its graceful shutdown, so the status reports SIGTERM.
    assert backend.stop() in (0, -15)
    output = backend.output()
    assert "backend shutting down" in output
    assert "backend stopped" in output
