"""Every bench starts from a fresh clone with the commands bench/README.md gives: its install step
succeeds and `--help` works. Nothing is measured here (speed lives in bench/, never in tests)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Every bench script (a file that runs as a program); `--help` must print usage and start
# nothing (bench/e2e/measure.py once ran the whole e2e suite on --help).
PYTHON_BENCHES = sorted(
    str(p.relative_to(REPO))
    for p in (REPO / "bench").glob("*/*.py")
    if 'if __name__ == "__main__":' in p.read_text()
)


@pytest.mark.parametrize("bench", PYTHON_BENCHES)
def test_python_bench_prints_its_help(bench: str) -> None:
    result = subprocess.run(
        [sys.executable, bench, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_frontend_bench_lock_matches_its_package_json(tmp_path: Path) -> None:
    """`npm ci` on a fresh clone: package.json and the lock must agree (a dependency declared as
    `latest` upstream once broke this when a new version was published; overrides pin it)."""
    npm = shutil.which("npm")
    # make test needs npm for the frontend anyway: a missing npm is a broken setup, not a skip.
    assert npm is not None, "npm is not installed: install Node.js 20+ with npm (see README)"
    for name in ("package.json", "package-lock.json"):
        shutil.copy(REPO / "bench" / "frontend" / name, tmp_path / name)
    result = subprocess.run(
        [npm, "ci", "--dry-run", "--no-audit", "--no-fund"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_webhook_bench_sends_what_hume_sends() -> None:
    """The bench's tool call is built from the Hume SDK's own model, as Hume puts it on the wire
    (a hand-built dict could drift from the SDK unnoticed)."""
    from hume.empathic_voice import WebhookEventToolCall

    from bench.backend.run_bench import webhook_body
    from tests.backend.fakes import hume_json

    body = json.loads(webhook_body(7, "session-1"))
    event = WebhookEventToolCall.model_validate(body)
    assert hume_json(event) == body
    assert event.tool_call_message.custom_session_id == "session-1"
