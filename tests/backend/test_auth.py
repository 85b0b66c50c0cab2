"""Auth routes: register, login/token, me, logout, refresh, lockout, rate limit, cookie + CSRF."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from app.core.config import Settings, describe_validation_error
from app.core.security import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    AccessToken,
    InvalidTokenError,
    SessionLimitReachedError,
    create_access_token,
    decode_access_token,
    renew_access_token,
)
from pydantic import ValidationError

from tests.backend.helpers import (
    PASSWORD,
    Therapist,
    api_client,
    make_settings,
    register_therapist,
)
from tests.support.postgres import PostgresServer


async def test_register_creates_a_therapist_even_when_another_role_is_asked_for(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/auth/register",
        json={
            "email": "New.User@Example.org",
            "name": "New",
            "password": PASSWORD,
            "role": "admin",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new.user@example.org"
    assert body["role"] == "therapist"
    assert set(body) == {"id", "email", "name", "role", "createdAt"}


async def test_register_rejects_a_taken_email_case_insensitively(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    response = await client.post(
        "/api/auth/register",
        json={"email": therapist.email.upper(), "name": "Twin", "password": PASSWORD},
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"email": "short@example.org", "name": "S", "password": "1234567"},
        {"email": "not-an-email", "name": "S", "password": PASSWORD},
        {"email": "blank@example.org", "name": "  ", "password": PASSWORD},
        {"email": "missing@example.org", "password": PASSWORD},
    ],
)
async def test_register_validates_input(client: httpx.AsyncClient, body: dict[str, str]) -> None:
    assert (await client.post("/api/auth/register", json=body)).status_code == 422


async def test_login_returns_a_bearer_token_and_sets_httponly_cookies(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    response = await client.post(
        "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["tokenType"] == "bearer"
    assert body["expiresIn"] == 30 * 60
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    csrf_cookie = next(c for c in cookies if c.startswith(f"{CSRF_COOKIE}="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=lax" in session_cookie
    assert "HttpOnly" not in csrf_cookie
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['accessToken']}"}
    )
    assert me.status_code == 200
    assert me.json()["email"] == therapist.email


async def test_token_endpoint_accepts_the_oauth2_password_form(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    response = await client.post(
        "/api/auth/token", data={"username": therapist.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["accessToken"]
    wrong = await client.post(
        "/api/auth/token", data={"username": therapist.email, "password": "wrong-password"}
    )
    assert wrong.status_code == 401
    assert (await client.post("/api/auth/token", data={})).status_code == 422


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    wrong = await client.post(
        "/api/auth/login", json={"email": therapist.email, "password": "wrong-password"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"email": "nobody@example.org", "password": "wrong-password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect email or password"}


async def test_five_failures_lock_the_account_for_fifteen_minutes(
    client: httpx.AsyncClient, postgres: PostgresServer, migrated_url: str
) -> None:
    therapist = await register_therapist(client)
    for _ in range(5):
        response = await client.post(
            "/api/auth/login", json={"email": therapist.email, "password": "wrong-password"}
        )
        assert response.status_code == 401
    locked = await client.post(
        "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
    )
    assert locked.status_code == 401
    assert locked.json() == {"detail": "Incorrect email or password"}

    database = migrated_url.rsplit("/", 1)[1]
    minutes = postgres.psql(
        "SELECT round(extract(epoch FROM locked_until - now()) / 60) FROM users "  # noqa: S608
        f"WHERE email = '{therapist.email}'",
        database,
    )
    assert minutes in {"14", "15"}
    # Once the lock has expired the right password works again.
    postgres.psql(
        f"UPDATE users SET locked_until = now() - interval '1 second' "  # noqa: S608
        f"WHERE email = '{therapist.email}'",
        database,
    )
    unlocked = await client.post(
        "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
    )
    assert unlocked.status_code == 200


async def test_login_is_rate_limited_per_ip(migrated_url: str) -> None:
    limited = make_settings(migrated_url, login_rate_limit=3, login_rate_window_seconds=3600)
    async with api_client(limited, client_ip="203.0.113.7") as client:
        statuses = [
            (
                await client.post(
                    "/api/auth/login", json={"email": "x@example.org", "password": "whatever1"}
                )
            )
            for _ in range(4)
        ]
    assert [r.status_code for r in statuses] == [401, 401, 401, 429]
    assert int(statuses[-1].headers["retry-after"]) > 0
    async with api_client(limited, client_ip="203.0.113.8") as other_ip:
        response = await other_ip.post(
            "/api/auth/login", json={"email": "x@example.org", "password": "whatever1"}
        )
    assert response.status_code == 401


async def test_me_requires_a_valid_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/auth/me")).status_code == 401
    bad = await client.get("/api/auth/me", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"
    basic = await client.get("/api/auth/me", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401


async def test_a_token_signed_with_another_key_is_rejected(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    forged = jwt.encode(
        {"sub": "x", "ver": 0, "csrf": "c", "exp": 9999999999, "typ": "access"},
        "another-key-that-is-long-enough-000000",
        algorithm="HS256",
    )
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_logout_revokes_every_token_of_the_user(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    second = await client.post(
        "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
    )
    other_token = second.json()["accessToken"]
    client.cookies.clear()
    response = await client.post("/api/auth/logout", headers=therapist.headers)
    assert response.status_code == 204
    assert (await client.get("/api/auth/me", headers=therapist.headers)).status_code == 401
    other = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {other_token}"})
    assert other.status_code == 401
    assert (await client.post("/api/auth/logout", headers=therapist.headers)).status_code == 401


async def test_cookie_authentication_needs_the_csrf_header_for_unsafe_requests(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    login = await client.post(
        "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
    )
    assert login.status_code == 200
    csrf = client.cookies[CSRF_COOKIE]
    # Safe requests ride on the cookie alone.
    assert (await client.get("/api/auth/me")).status_code == 200
    body = {"name": "Cookie Patient"}
    assert (await client.post("/api/patients", json=body)).status_code == 403
    wrong = await client.post("/api/patients", json=body, headers={CSRF_HEADER: "forged"})
    assert wrong.status_code == 403
    right = await client.post("/api/patients", json=body, headers={CSRF_HEADER: csrf})
    assert right.status_code == 201
    logout = await client.post("/api/auth/logout", headers={CSRF_HEADER: csrf})
    assert logout.status_code == 204
    client.cookies.clear()
    assert (await client.get("/api/auth/me")).status_code == 401


# -- sliding renewal with an absolute maximum (issue 11, finding 6) ------------------------------
# OWASP Session Management Cheat Sheet: an idle timeout (the 30-minute token, renewed while the
# therapist is active) and an absolute timeout (SESSION_ABSOLUTE_MAX_MINUTES after the login).

SECRET = "unit-test-secret-" + "s" * 32
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
USER_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _issue(now: datetime, expire_minutes: int = 30, absolute_max_minutes: int = 480) -> AccessToken:
    return create_access_token(
        USER_ID,
        3,
        SECRET,
        expire_minutes=expire_minutes,
        absolute_max_minutes=absolute_max_minutes,
        now=now,
    )


def _renew(token: AccessToken, now: datetime) -> AccessToken:
    claims = decode_access_token(token.token, SECRET, now=now)
    return renew_access_token(claims, SECRET, expire_minutes=30, absolute_max_minutes=480, now=now)


def test_a_token_carries_auth_time_and_expires_exactly_at_exp() -> None:
    token = _issue(T0)
    assert (token.expires_in, token.absolute_expires_in) == (30 * 60, 480 * 60)
    raw = jwt.decode(token.token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert raw["auth_time"] == raw["iat"] == int(T0.timestamp())
    claims = decode_access_token(token.token, SECRET, now=T0 + timedelta(minutes=30, seconds=-1))
    assert claims.auth_time == int(T0.timestamp())
    with pytest.raises(InvalidTokenError):
        decode_access_token(token.token, SECRET, now=T0 + timedelta(minutes=30))


def test_renewal_slides_the_expiry_and_keeps_auth_time_user_version_and_csrf() -> None:
    first = _issue(T0)
    renewed = _renew(first, T0 + timedelta(minutes=25))
    assert renewed.expires_in == 30 * 60
    assert renewed.absolute_expires_in == (480 - 25) * 60
    assert renewed.csrf == first.csrf  # a page's in-flight requests keep a valid X-CSRF-Token
    claims = decode_access_token(renewed.token, SECRET, now=T0 + timedelta(minutes=54))
    assert (claims.user_id, claims.token_version) == (USER_ID, 3)
    assert claims.auth_time == int(T0.timestamp())
    assert claims.expires_at == int((T0 + timedelta(minutes=55)).timestamp())


def test_a_fifty_minute_session_stays_authenticated_when_renewed_while_active() -> None:
    token = _issue(T0)
    for minute in (10, 20, 30 - 1, 40, 50):
        token = _renew(token, T0 + timedelta(minutes=minute))
    decode_access_token(token.token, SECRET, now=T0 + timedelta(minutes=60))


def test_renewal_never_extends_past_the_absolute_maximum() -> None:
    token = _issue(T0)
    minute = 0
    while minute + 25 < 480:
        minute += 25
        token = _renew(token, T0 + timedelta(minutes=minute))
    # Renewed at 7 h 55 min: the token ends at 8 h, not 8 h 25 min.
    assert minute == 475
    assert token.expires_in == token.absolute_expires_in == 5 * 60
    end = T0 + timedelta(minutes=480)
    decode_access_token(token.token, SECRET, now=end - timedelta(seconds=1))
    with pytest.raises(InvalidTokenError):
        decode_access_token(token.token, SECRET, now=end)
    claims = decode_access_token(token.token, SECRET, now=end - timedelta(seconds=1))
    with pytest.raises(SessionLimitReachedError):
        renew_access_token(claims, SECRET, expire_minutes=30, absolute_max_minutes=480, now=end)


def test_a_first_token_is_capped_by_a_short_absolute_maximum() -> None:
    token = _issue(T0, expire_minutes=30, absolute_max_minutes=30)
    assert token.expires_in == token.absolute_expires_in == 30 * 60


def test_the_absolute_maximum_cannot_be_shorter_than_a_token() -> None:
    with pytest.raises(ValidationError) as raised:
        make_settings(
            "postgresql+asyncpg://u@localhost/db",
            access_token_expire_minutes=60,
            session_absolute_max_minutes=59,
        )
    report = describe_validation_error(raised.value)
    assert "SESSION_ABSOLUTE_MAX_MINUTES" in report
    assert "ACCESS_TOKEN_EXPIRE_MINUTES" in report
    default = make_settings("postgresql+asyncpg://u@localhost/db")
    assert default.session_absolute_max_minutes == 480


def _claims_of(token: str, settings: Settings) -> dict[str, Any]:
    key = settings.secret_key.get_secret_value()
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["HS256"])
    return claims


def _crafted(settings: Settings, user_id: str, **claims: Any) -> str:
    """A token signed with the app's key whose times the test chooses (relative to now)."""
    now = int(time.time())
    body = {
        "sub": user_id,
        "ver": 0,
        "csrf": "crafted-csrf",
        "typ": "access",
        "iat": now,
        "auth_time": now,
        "exp": now + 30 * 60,
    }
    body.update({key: now + value for key, value in claims.items()})
    return jwt.encode(body, settings.secret_key.get_secret_value(), algorithm="HS256")


async def _user_id(client: httpx.AsyncClient, therapist: Therapist) -> str:
    me = await client.get("/api/auth/me", headers=therapist.headers)
    user_id: str = me.json()["id"]
    return user_id


async def test_login_responses_carry_the_absolute_expiry_and_tokens_carry_auth_time(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    therapist = await register_therapist(client)
    for response in (
        await client.post("/api/auth/login", json={"email": therapist.email, "password": PASSWORD}),
        await client.post(
            "/api/auth/token", data={"username": therapist.email, "password": PASSWORD}
        ),
    ):
        body = response.json()
        assert body["absoluteExpiresIn"] == 480 * 60
        claims = _claims_of(body["accessToken"], settings)
        assert claims["auth_time"] == claims["iat"]
        assert claims["exp"] == claims["iat"] + body["expiresIn"]


async def test_refresh_with_the_cookie_needs_csrf_and_sets_fresh_cookies(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    therapist = await register_therapist(client)
    login = await client.post(
        "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
    )
    first = _claims_of(login.json()["accessToken"], settings)
    csrf = client.cookies[CSRF_COOKIE]
    assert (await client.post("/api/auth/refresh")).status_code == 403
    forged = await client.post("/api/auth/refresh", headers={CSRF_HEADER: "forged"})
    assert forged.status_code == 403

    response = await client.post("/api/auth/refresh", headers={CSRF_HEADER: csrf})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"accessToken", "tokenType", "expiresIn", "absoluteExpiresIn"}
    renewed = _claims_of(body["accessToken"], settings)
    assert renewed["auth_time"] == first["auth_time"]
    assert renewed["exp"] == renewed["iat"] + 30 * 60 == renewed["iat"] + body["expiresIn"]
    assert body["absoluteExpiresIn"] == renewed["auth_time"] + 480 * 60 - renewed["iat"]
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in session_cookie
    assert f"Max-Age={body['expiresIn']}" in session_cookie
    assert client.cookies[SESSION_COOKIE] == body["accessToken"]
    assert client.cookies[CSRF_COOKIE] == csrf
    # The renewed cookie authenticates safe and unsafe requests.
    assert (await client.get("/api/auth/me")).json()["email"] == therapist.email
    created = await client.post(
        "/api/patients", json={"name": "After Refresh"}, headers={CSRF_HEADER: csrf}
    )
    assert created.status_code == 201


async def test_refresh_with_a_bearer_token(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    response = await client.post("/api/auth/refresh", headers=therapist.headers)
    assert response.status_code == 200
    renewed = {"Authorization": f"Bearer {response.json()['accessToken']}"}
    assert (await client.get("/api/auth/me", headers=renewed)).status_code == 200


async def test_refresh_stops_at_the_absolute_maximum(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    therapist = await register_therapist(client)
    user_id = await _user_id(client, therapist)
    ten_minutes_left = _crafted(settings, user_id, auth_time=-(480 - 10) * 60, iat=-60)
    response = await client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {ten_minutes_left}"}
    )
    assert response.status_code == 200
    body = response.json()
    renewed = _claims_of(body["accessToken"], settings)
    assert renewed["exp"] == renewed["auth_time"] + 480 * 60
    assert body["expiresIn"] == body["absoluteExpiresIn"] == renewed["exp"] - renewed["iat"]
    assert body["expiresIn"] <= 10 * 60

    past_maximum = _crafted(settings, user_id, auth_time=-(480 * 60 + 1), iat=-60)
    refused = await client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {past_maximum}"}
    )
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "sign in again" in refused.json()["detail"].lower()


async def test_refresh_refuses_expired_and_revoked_tokens(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    therapist = await register_therapist(client)
    user_id = await _user_id(client, therapist)
    expired = _crafted(settings, user_id, iat=-31 * 60, auth_time=-31 * 60, exp=-1)
    response = await client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {expired}"}
    )
    assert response.status_code == 401

    assert (await client.post("/api/auth/logout", headers=therapist.headers)).status_code == 204
    revoked = await client.post("/api/auth/refresh", headers=therapist.headers)
    assert revoked.status_code == 401
    unauthenticated = await client.post("/api/auth/refresh")
    assert unauthenticated.status_code == 401
