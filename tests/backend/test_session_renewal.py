"""Sliding session renewal with an absolute maximum (issue 11 #6; OWASP Session Management Cheat
Sheet: idle and absolute timeouts, ASVS 4 V3.3.1/V3.3.2). Time is moved by signing tokens with
crafted `iat`/`auth_time`, never by waiting."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from app.core.config import Settings

from tests.backend.helpers import PASSWORD, Therapist, api_client, make_settings, register_therapist

SECRET = "test-secret-" + "k" * 40


def _forged(therapist_token: str, *, issued_ago: float, auth_ago: float, lifetime: float) -> str:
    """The therapist's token re-signed as if issued `issued_ago` s, logged in `auth_ago` s ago."""
    claims = jwt.decode(therapist_token, SECRET, algorithms=["HS256"])
    now = time.time()
    claims.update(
        iat=int(now - issued_ago),
        auth_time=int(now - auth_ago),
        exp=int(now - issued_ago + lifetime),
    )
    return jwt.encode(claims, SECRET, algorithm="HS256")


async def _login(client: httpx.AsyncClient, therapist: Therapist) -> httpx.Response:
    response = await client.post(
        "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    return response


async def test_login_says_when_the_session_ends_for_good(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    therapist = await register_therapist(client)
    body = (await _login(client, therapist)).json()
    assert body["expiresIn"] == settings.access_token_expire_minutes * 60
    assert body["absoluteExpiresIn"] == settings.session_absolute_max_minutes * 60


async def test_refresh_slides_the_expiry_and_keeps_the_login_time(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    # 25 minutes into a 30-minute token, 40 minutes after login.
    old = _forged(therapist.token, issued_ago=25 * 60, auth_ago=40 * 60, lifetime=30 * 60)
    response = await client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {old}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expiresIn"] == 30 * 60
    assert body["absoluteExpiresIn"] == pytest.approx((480 - 40) * 60, abs=5)
    renewed = jwt.decode(body["accessToken"], SECRET, algorithms=["HS256"])
    assert renewed["auth_time"] == jwt.decode(old, SECRET, algorithms=["HS256"])["auth_time"]
    assert renewed["exp"] > time.time() + 29 * 60
    assert "dimini_session" in response.cookies
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['accessToken']}"}
    )
    assert me.status_code == 200


async def test_renewal_never_passes_the_absolute_maximum(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    # 470 of 480 minutes used: the renewed token lasts 10 minutes, not 30.
    near_end = _forged(therapist.token, issued_ago=60, auth_ago=470 * 60, lifetime=30 * 60)
    response = await client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {near_end}"}
    )
    assert response.status_code == 200
    assert response.json()["expiresIn"] == pytest.approx(10 * 60, abs=5)
    # Past the maximum: refused even though the token itself has not expired.
    past_end = _forged(therapist.token, issued_ago=60, auth_ago=481 * 60, lifetime=30 * 60)
    refused = await client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {past_end}"}
    )
    assert refused.status_code == 401


async def test_an_expired_or_revoked_token_cannot_be_renewed(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    expired = _forged(therapist.token, issued_ago=31 * 60, auth_ago=31 * 60, lifetime=30 * 60)
    response = await client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {expired}"}
    )
    assert response.status_code == 401
    assert (await client.post("/api/auth/logout", headers=therapist.headers)).status_code == 204
    revoked = await client.post("/api/auth/refresh", headers=therapist.headers)
    assert revoked.status_code == 401


async def test_refresh_with_the_cookie_needs_the_csrf_header(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    await _login(client, therapist)
    assert (await client.post("/api/auth/refresh")).status_code == 403
    csrf = client.cookies["dimini_csrf"]
    renewed = await client.post("/api/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert renewed.status_code == 200
    # The CSRF value survives renewal: a request built with the old header still passes.
    assert client.cookies["dimini_csrf"] == csrf
    # The renewed cookie authenticates, with the renewed CSRF value.
    assert (await client.get("/api/auth/me")).status_code == 200


def test_the_absolute_maximum_cannot_be_shorter_than_a_token(migrated_url: str) -> None:
    with pytest.raises(ValueError, match="session_absolute_max_minutes"):
        make_settings(migrated_url, access_token_expire_minutes=60, session_absolute_max_minutes=30)


async def test_a_token_from_before_renewal_existed_is_renewed_from_its_issue_time(
    migrated_url: str,
) -> None:
    settings = make_settings(migrated_url)
    async with api_client(settings) as client:
        therapist = await register_therapist(client)
        claims = jwt.decode(therapist.token, SECRET, algorithms=["HS256"])
        del claims["auth_time"]
        legacy = jwt.encode(claims, SECRET, algorithm="HS256")
        response = await client.post(
            "/api/auth/refresh", headers={"Authorization": f"Bearer {legacy}"}
        )
    assert response.status_code == 200
    assert uuid.UUID(
        jwt.decode(response.json()["accessToken"], SECRET, algorithms=["HS256"])["sub"]
    )
