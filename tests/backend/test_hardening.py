"""Issue 12: what one hostile request could do to a backend (each test failed on the old code).

Request bodies are bounded before they are read, replies never echo what was submitted, blank or
development-only settings are refused, a stalled pub/sub connection cannot hang a request, and
query strings (patient search terms) stay out of the access log.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from app.application import build_socket_app, create_app
from app.core.config import SettingsError, load_settings
from app.realtime.pg_manager import PostgresPubSubManager
from app.services.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_for
from sqlalchemy.engine import make_url

from tests.backend.fakes import voice_backend
from tests.backend.helpers import (
    PASSWORD,
    api_client,
    backend_env,
    make_settings,
    register_therapist,
    running_backend,
    wait_for,
)
from tests.support.postgres import PostgresServer
from tests.support.tcpproxy import freezable_proxy

SIGNING_KEY = "webhook-signing-key-for-tests"
MiB = 1024 * 1024


async def _asgi_post(app: Any, path: str, chunks: AsyncIterator[bytes], headers: list[Any]) -> Any:
    """Drives the ASGI app directly so the test sees how many body bytes it pulled."""
    sent: list[dict[str, Any]] = []
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    return start["status"], pulled


async def _endless(chunk_size: int = 64 * 1024, total: int = 200 * MiB) -> AsyncIterator[bytes]:
    chunk = b"x" * chunk_size
    for _ in range(total // chunk_size):
        yield chunk


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/webhooks/hume"])
async def test_a_body_without_a_length_is_cut_off_at_the_limit(
    migrated_url: str, path: str
) -> None:
    settings = make_settings(migrated_url, hume_webhook_signing_key=SIGNING_KEY)
    app, sio = create_app(settings)
    socket_app = build_socket_app(app, sio)
    async with app.router.lifespan_context(app):
        status, pulled = await _asgi_post(socket_app, path, _endless(), [])
    assert status == 413
    # It stopped reading at the limit instead of buffering 200 MiB.
    assert pulled <= settings.max_request_body_bytes + 64 * 1024


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register", "/api/webhooks/hume"])
async def test_a_declared_oversized_body_is_refused_unread(migrated_url: str, path: str) -> None:
    settings = make_settings(migrated_url, hume_webhook_signing_key=SIGNING_KEY)
    app, sio = create_app(settings)
    async with app.router.lifespan_context(app):
        status, pulled = await _asgi_post(
            build_socket_app(app, sio), path, _endless(), [(b"content-length", b"209715200")]
        )
    assert (status, pulled) == (413, 0)


async def test_validation_errors_do_not_echo_the_input(client: httpx.AsyncClient) -> None:
    password = "pw-XY9"  # too short on purpose
    response = await client.post(
        "/api/auth/register",
        json={"email": "echo@example.org", "name": "Echo", "password": password},
    )
    assert response.status_code == 422
    assert password not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "password"]


async def test_a_deeply_nested_signed_body_is_a_400(migrated_url: str) -> None:
    settings = make_settings(migrated_url, hume_webhook_signing_key=SIGNING_KEY)
    body = b"[" * 200_000 + b"]" * 200_000
    stamp = str(int(time.time()))
    async with api_client(settings) as client:
        response = await client.post(
            "/api/webhooks/hume",
            content=body,
            headers={
                SIGNATURE_HEADER: signature_for(SIGNING_KEY, body, stamp),
                TIMESTAMP_HEADER: stamp,
                "content-type": "application/json",
            },
        )
    assert response.status_code == 400


async def test_a_non_ascii_signature_is_a_401(migrated_url: str) -> None:
    settings = make_settings(migrated_url, hume_webhook_signing_key=SIGNING_KEY)
    body = json.dumps({"event_name": "chat_started", "chat_id": "c"}).encode()
    async with api_client(settings) as client:
        response = await client.post(
            "/api/webhooks/hume",
            content=body,
            headers=[
                (SIGNATURE_HEADER.encode(), "é".encode("latin-1") * 64),
                (TIMESTAMP_HEADER.encode(), str(int(time.time())).encode()),
            ],
        )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "setting", ["HUME_WEBHOOK_SIGNING_KEY", "HUME_API_KEY", "HUME_SECRET_KEY", "OPENAI_API_KEY"]
)
def test_a_blank_secret_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, migrated_url: str, setting: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv(setting, "  ")
    with pytest.raises(SettingsError, match=setting):
        load_settings()


def test_skipping_webhook_verification_is_refused_in_production(
    monkeypatch: pytest.MonkeyPatch, migrated_url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("HUME_WEBHOOK_INSECURE_SKIP_VERIFY", "true")
    with pytest.raises(SettingsError, match="HUME_WEBHOOK_INSECURE_SKIP_VERIFY"):
        load_settings()
    monkeypatch.setenv("ENVIRONMENT", "development")
    assert load_settings().hume_webhook_insecure_skip_verify


async def test_api_docs_are_off_in_production(migrated_url: str) -> None:
    async with api_client(make_settings(migrated_url)) as production:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await production.get(path)).status_code == 404, path
    async with api_client(make_settings(migrated_url, environment="development")) as development:
        assert (await development.get("/openapi.json")).status_code == 200


async def test_api_responses_carry_security_headers(migrated_url: str) -> None:
    async with api_client(make_settings(migrated_url, cookie_secure=True)) as client:
        response = await client.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["strict-transport-security"].startswith("max-age=")
    async with api_client(make_settings(migrated_url)) as plain_http:
        # HSTS only where the deployment says it is served over https (Secure cookies).
        assert "strict-transport-security" not in (await plain_http.get("/health")).headers
    # HSTS_ENABLED (set by the operator when the Ingress terminates TLS) decides by itself.
    async with api_client(make_settings(migrated_url, hsts_enabled=True)) as tls:
        assert (await tls.get("/health")).headers["strict-transport-security"].startswith("max-age")
    async with api_client(
        make_settings(migrated_url, cookie_secure=True, hsts_enabled=False)
    ) as no_hsts:
        assert "strict-transport-security" not in (await no_hsts.get("/health")).headers


async def test_search_terms_stay_out_of_the_access_log(migrated_url: str, tmp_path: Path) -> None:
    log = tmp_path / "backend.log"
    async with running_backend(backend_env(migrated_url), log) as backend:
        async with httpx.AsyncClient(base_url=backend.url) as client:
            await client.get("/api/patients", params={"search": "Jolene Quixote"})
            await client.get("/health", params={"marker": "end"})

        async def logged() -> bool:
            return "GET /health" in backend.output()

        await wait_for(logged)
        output = backend.output()
    assert "/api/patients" in output  # the request is logged, its terms are not
    assert "Jolene" not in output and "Quixote" not in output


async def test_a_stalled_publisher_connection_does_not_hold_other_publishes(
    migrated_url: str,
) -> None:
    url = make_url(migrated_url)
    assert url.host is not None and url.port is not None
    async with freezable_proxy(url.host, url.port) as proxy:
        dsn = url.set(drivername="postgresql", host="127.0.0.1", port=proxy.port)
        emitter = PostgresPubSubManager(
            dsn.render_as_string(hide_password=False), write_only=True, publish_timeout=10.0
        )
        try:
            await emitter.emit("warm", {}, room="r")  # opens the publishing connection
            assert proxy.freeze_existing() >= 1
            stalled = asyncio.create_task(emitter.emit("stalled", {}, room="r"))
            # The guard only stops a hang from stalling the suite; the assertions are on order.
            await asyncio.wait_for(emitter.emit("next", {}, room="r"), 30)
            assert not stalled.done(), "the second publish waited for the stalled one"
            # The stalled one ends too (its attempt times out, the retry uses a fresh connection).
            await asyncio.wait_for(asyncio.gather(stalled, return_exceptions=True), 60)
        finally:
            await asyncio.wait_for(emitter.close(), 30)


async def test_failures_from_one_address_cannot_lock_out_another(
    migrated_url: str, postgres: PostgresServer
) -> None:
    settings = make_settings(migrated_url)
    async with api_client(settings, client_ip="203.0.113.60") as owner:
        therapist = await register_therapist(owner)
    async with api_client(settings, client_ip="198.51.100.6") as attacker:
        for _ in range(6):
            wrong = await attacker.post(
                "/api/auth/login", json={"email": therapist.email, "password": "wrong-password"}
            )
            assert wrong.status_code == 401
        # The attacker's own address is locked out of the account, even with the right password.
        locked = await attacker.post(
            "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
        )
        assert locked.status_code == 401
    async with api_client(settings, client_ip="203.0.113.60") as owner:
        mine = await owner.post(
            "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
        )
    assert mine.status_code == 200
    # The lock ends with its window.
    postgres.psql(
        "UPDATE login_attempt_windows SET window_start = window_start - interval '1 hour'",
        migrated_url.rsplit("/", 1)[1],
    )
    async with api_client(settings, client_ip="198.51.100.6") as attacker:
        later = await attacker.post(
            "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
        )
    assert later.status_code == 200


async def test_registration_is_rate_limited_per_address(migrated_url: str) -> None:
    settings = make_settings(migrated_url, register_rate_limit=3)
    async with api_client(settings, client_ip="192.0.2.77") as client:
        statuses = [
            (
                await client.post(
                    "/api/auth/register",
                    json={"email": f"junk{n}@example.org", "name": "Junk", "password": PASSWORD},
                )
            ).status_code
            for n in range(4)
        ]
    assert statuses == [202, 202, 202, 429]


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}],
)
@pytest.mark.parametrize("form", [False, True])
async def test_a_cross_site_login_sets_no_cookie(
    client: httpx.AsyncClient, headers: dict[str, str], form: bool
) -> None:
    therapist = await register_therapist(client)
    if form:  # the classic login-CSRF shape: an auto-submitted form on another site
        response = await client.post(
            "/api/auth/token",
            data={"username": therapist.email, "password": PASSWORD},
            headers=headers,
        )
    else:
        response = await client.post(
            "/api/auth/login",
            json={"email": therapist.email, "password": PASSWORD},
            headers=headers,
        )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_same_origin_and_non_browser_logins_work(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    for headers in (
        {"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar / a bookmark
        {},  # curl, the e2e client, other API clients
    ):
        response = await client.post(
            "/api/auth/login",
            json={"email": therapist.email, "password": PASSWORD},
            headers=headers,
        )
        assert response.status_code == 200, headers


class _CountingHasher:
    """Wraps the real argon2 hasher and records how many hashes ran at once."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.lock = threading.Lock()
        self.running = self.peak = 0

    def hash(self, password: str) -> str:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return str(self.real.hash(password))
        finally:
            with self.lock:
                self.running -= 1

    def verify(self, password_hash: str, password: str) -> bool:
        return bool(self.real.verify(password_hash, password))


async def test_password_hashing_runs_on_its_own_bounded_executor(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core import security

    counting = _CountingHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", counting)
    settings = make_settings(migrated_url, password_hash_concurrency=2, register_rate_limit=100)
    async with api_client(settings) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/auth/register",
                    json={"email": f"c{n}@example.org", "name": "C", "password": PASSWORD},
                )
                for n in range(12)
            )
        )
    assert [r.status_code for r in responses] == [202] * 12
    assert counting.peak == 2  # used in parallel, never beyond the budget


async def test_hume_tokens_are_limited_per_account(migrated_url: str) -> None:
    async with voice_backend(migrated_url, hume_token_rate_limit=2) as voice:
        statuses = [
            (await voice.client.get("/api/hume/token", headers=voice.therapist.headers)).status_code
            for _ in range(3)
        ]
        other = await register_therapist(voice.client, "Other")
        theirs = await voice.client.get("/api/hume/token", headers=other.headers)
    assert statuses == [200, 200, 429]
    assert theirs.status_code == 200  # the budget is per account


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("save_session_note", {"content": "x" * 20_000, "category": "observation"}),
        ("no_such_tool", {"anything": "y" * 100}),
    ],
)
async def test_oversized_or_unknown_tool_calls_store_no_parameters(
    migrated_url: str, postgres: PostgresServer, name: str, parameters: dict[str, Any]
) -> None:
    async with voice_backend(migrated_url) as voice:
        call_id = f"call-{name}"
        response = await voice.client.post(
            f"/api/sessions/{voice.session_id}/tool-calls",
            json={"toolCallId": call_id, "name": name, "parameters": json.dumps(parameters)},
            headers=voice.therapist.headers,
        )
        assert response.status_code == 200
        assert response.json()["isError"] is True
        stored = postgres.psql(
            f"SELECT parameters::text FROM tool_calls WHERE tool_call_id = '{call_id}'",  # noqa: S608
            voice.database,
        )
    assert stored == "{}"


async def test_a_transcript_stops_growing_at_its_limit(migrated_url: str) -> None:
    async with voice_backend(migrated_url, max_transcript_chars=100) as voice:
        url = f"/api/sessions/{voice.session_id}/transcript"
        first = await voice.client.post(
            url, json={"text": "a" * 60}, headers=voice.therapist.headers
        )
        second = await voice.client.post(
            url, json={"text": "b" * 60}, headers=voice.therapist.headers
        )
    assert first.status_code == 202
    assert second.status_code == 413
    assert "limit" in second.json()["detail"]
