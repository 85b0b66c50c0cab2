"""Print the e2e figures: real pods, images cached.

    python bench/e2e/measure.py

Runs the e2e scenario (tests/e2e, `pytest -m e2e`) with its figures written to a temporary file,
then prints them: apply -> Ready with real pods, backend + Postgres pod kill -> /ready 200 again,
the rolling upgrade (migration Job done, every pod on the new image) and the requests to /health
during it, failed ones included (target 0). Build the images first (`make images`) so their cold
build is not in the figures; the scenario reuses them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

LABELS = {
    "apply_to_ready_seconds": "apply -> Ready (real pods, images cached)",
    "pod_kill_to_ready_seconds": "backend + postgres pods killed -> /ready 200",
    "upgrade_migration_seconds": "upgrade: image changed -> migration Job done",
    "upgrade_total_seconds": "upgrade: image changed -> every pod on the new image",
    "upgrade_health_requests": "upgrade: GET /health requests during the roll",
    "upgrade_failed_requests": "upgrade: failed requests (target 0)",
}


def main() -> int:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    with tempfile.TemporaryDirectory(prefix="dimini-e2e-bench-") as tmp:
        figures_file = Path(tmp) / "figures.json"
        env = {**os.environ, "DIMINI_E2E_FIGURES": str(figures_file)}
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-m", "e2e", "tests/e2e"], cwd=REPO, env=env
        )
        figures = json.loads(figures_file.read_text()) if figures_file.exists() else {}
    for key, label in LABELS.items():
        value = figures.get(key, "not measured")
        print(f"{label:55s} {value}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
