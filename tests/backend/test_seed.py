"""`python -m app.seed` creates the demo data once, and the demo therapist can use it."""

from __future__ import annotations

import subprocess
import sys

from app.core.config import Settings

from tests.backend.helpers import BACKEND_DIR, api_client, backend_env


def _seed(database_url: str) -> None:
    env = backend_env(database_url, DEMO_PASSWORD="demo-password-for-tests")
    subprocess.run(
        [sys.executable, "-m", "app.seed"],
        env=env,
        cwd=BACKEND_DIR,
        check=True,
        capture_output=True,
        timeout=120,
    )


async def test_seed_is_idempotent_and_usable(migrated_url: str, settings: Settings) -> None:
    _seed(migrated_url)
    _seed(migrated_url)  # the second run finds the demo therapist and changes nothing
    async with api_client(settings) as client:
        login = await client.post(
            "/api/auth/login",
            json={"email": "demo@dimini.local", "password": "demo-password-for-tests"},
        )
        assert login.status_code == 200
        headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        patients = (await client.get("/api/patients", headers=headers)).json()
        assert patients["total"] == 3
        sessions = (await client.get("/api/sessions", headers=headers)).json()
        assert sessions["total"] == 1
        session_id = sessions["items"][0]["id"]
        graph = (await client.get(f"/api/sessions/{session_id}/graph", headers=headers)).json()
        assert len(graph["nodes"]) == 5
        assert len(graph["links"]) == 4
        summary = await client.get(f"/api/sessions/{session_id}/summary", headers=headers)
        assert summary.json()["summary"]["keyTopics"] == ["work stress", "sleep"]
