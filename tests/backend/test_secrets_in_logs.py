"""No secret (password, token, key) appears in the logs at any level."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import httpx
from app.core.logging import REDACTED, build_handler, redactor
from app.core.security import CSRF_COOKIE, CSRF_HEADER

from tests.backend.helpers import (
    SocketRecorder,
    Therapist,
    backend_env,
    create_patient,
    running_backend,
    start_session,
)
from tests.support.postgres import PostgresServer

PASSWORD = "Sup3r-Secret-Passphrase!"
WRONG_PASSWORD = "Wr0ng-Passphrase-Guess!"
SECRET_KEY = "secret-key-for-log-test-" + "q" * 24
DB_PASSWORD = "DbPassw0rd-Never-Logged"
OPENAI_KEY = "sk-test-openai-key-never-logged-123456"
HUME_KEY = "hume-api-key-never-logged-123456"
HUME_SECRET = "hume-secret-key-never-logged-123456"
SIGNING_KEY = "hume-signing-key-never-logged-123456"


async def test_auth_flows_at_debug_leave_no_secret_in_the_output(
    postgres: PostgresServer, migrated_url: str, tmp_path: Path
) -> None:
    url_with_password = migrated_url.replace("postgres@", f"postgres:{DB_PASSWORD}@")
    env = backend_env(
        url_with_password,
        SECRET_KEY=SECRET_KEY,
        LOG_LEVEL="DEBUG",
        OPENAI_API_KEY=OPENAI_KEY,
        OPENAI_BASE_URL="http://127.0.0.1:9",
        HUME_API_KEY=HUME_KEY,
        HUME_SECRET_KEY=HUME_SECRET,
        HUME_WEBHOOK_SIGNING_KEY=SIGNING_KEY,
    )
    secrets_seen: list[str] = [
        PASSWORD,
        WRONG_PASSWORD,
        SECRET_KEY,
        DB_PASSWORD,
        OPENAI_KEY,
        HUME_KEY,
        HUME_SECRET,
        SIGNING_KEY,
    ]
    async with (
        running_backend(env, tmp_path / "backend.log") as backend,
        httpx.AsyncClient(base_url=backend.url) as client,
    ):
        email = "logged.user@example.org"
        registered = await client.post(
            "/api/auth/register", json={"email": email, "name": "Log", "password": PASSWORD}
        )
        assert registered.status_code == 202
        wrong = await client.post(
            "/api/auth/login", json={"email": email, "password": WRONG_PASSWORD}
        )
        assert wrong.status_code == 401
        form = await client.post("/api/auth/token", data={"username": email, "password": PASSWORD})
        assert form.status_code == 200
        login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200
        token = login.json()["accessToken"]
        csrf = client.cookies[CSRF_COOKIE]
        secrets_seen += [token, form.json()["accessToken"], csrf]

        assert (await client.get("/api/auth/me")).status_code == 200  # cookie
        therapist = Therapist(email=email, token=token)
        client.cookies.clear()
        patient = await create_patient(client, therapist)
        session = await start_session(client, therapist, patient["id"])
        tool = await client.post(
            f"/api/sessions/{session['id']}/tool-calls",
            json={
                "toolCallId": "log-test-1",
                "name": "save_session_note",
                "parameters": {"content": "c", "category": "insight"},
            },
            headers=therapist.headers,
        )
        assert tool.status_code == 200
        recorder = SocketRecorder()
        await recorder.connect(backend.url, token)
        await recorder.client.call("join_session", {"sessionId": session["id"]})
        await recorder.disconnect()
        cookie_logout = await client.post(
            "/api/auth/logout", headers={**therapist.headers, CSRF_HEADER: csrf}
        )
        assert cookie_logout.status_code == 204
    output = backend.output()
    lines = [line for line in output.splitlines() if line.startswith("{")]
    levels = {json.loads(line)["level"] for line in lines}
    assert "DEBUG" in levels  # the test really looked at debug output
    assert any("/api/auth/login" in line for line in lines)  # and at the access log
    for secret in secrets_seen:
        assert secret not in output, f"a secret leaked into the logs: {secret[:6]}..."


def test_redaction_covers_values_and_shapes() -> None:
    redactor.register(["registered-secret-value"])
    stream = io.StringIO()
    handler = build_handler()
    handler.setStream(stream)  # type: ignore[attr-defined]
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("value %s", "registered-secret-value")
        logger.debug("header Authorization: Bearer abc.def-ghi")
        logger.debug("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
        logger.debug("url postgresql://user:hunter2@db/dimini")
        logger.debug("body %s", {"password": "hunter3", "name": "ok"})
        logger.debug("form password=hunter4&username=a")
        try:
            raise ValueError("token=hunter5")
        except ValueError:
            logger.exception("with traceback")
        logger.info("extra", extra={"api_key": "hunter6"})
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    for leaked in (
        "registered-secret-value",
        "abc.def-ghi",
        "c2lnbmF0dXJl",
        "hunter2",
        "hunter3",
        "hunter4",
        "hunter5",
    ):
        assert leaked not in text, leaked
    assert REDACTED in text
    assert "ok" in text  # ordinary values survive
