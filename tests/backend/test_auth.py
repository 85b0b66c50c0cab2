"""Auth routes: register, login/token, me, logout, lockout, rate limit, cookie + CSRF."""

from __future__ import annotations

import httpx
import pytest
from app.api import deps
from app.api.routes import auth as auth_routes
from app.api.routes import hume, patients, records, sessions, system, webhooks
from app.core.config import Settings
from app.core.db import create_engine, create_session_factory
from app.core.security import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from app.models import User
from app.models.enums import UserRole
from app.services import auth
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import inspect

from tests.backend.helpers import PASSWORD, api_client, make_settings, register_therapist
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
    assert response.status_code == 202
    assert set(response.json()) == {"detail"}
    login = await client.post(
        "/api/auth/login", json={"email": "new.user@example.org", "password": PASSWORD}
    )
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {login.json()['accessToken']}"}
    )
    assert me.json()["email"] == "new.user@example.org"
    assert me.json()["role"] == "therapist"
    assert set(me.json()) == {"id", "email", "name", "role", "createdAt"}


async def test_register_does_not_reveal_that_an_email_is_taken(
    client: httpx.AsyncClient,
) -> None:
    """OWASP Authentication Cheat Sheet: the same answer for a new and a taken email."""
    therapist = await register_therapist(client)
    fresh = await client.post(
        "/api/auth/register",
        json={"email": "brand.new@example.org", "name": "Twin", "password": "a different one 42"},
    )
    taken = await client.post(
        "/api/auth/register",
        json={"email": therapist.email.upper(), "name": "Twin", "password": "a different one 42"},
    )
    assert (taken.status_code, taken.json()) == (fresh.status_code, fresh.json())
    # Nothing about the existing account changed: its own password still works, the new not.
    kept = await client.post(
        "/api/auth/login", json={"email": therapist.email, "password": PASSWORD}
    )
    assert kept.status_code == 200
    other = {"email": therapist.email, "password": "a different one 42"}
    assert (await client.post("/api/auth/login", json=other)).status_code == 401


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password123", "commonly used"),
        ("Qwertyuiop", "commonly used"),
        ("iloveyou!", "commonly used"),
        ("Lovelace1984", "your name"),
        ("ada.lovelace-rocks", "your email"),
        ("my dimini account", "product"),
    ],
)
async def test_register_refuses_guessable_passwords_without_echoing_them(
    client: httpx.AsyncClient, password: str, reason: str
) -> None:
    """ASVS 5.0 V6.2.4 (not a top common password) and V6.2.11 (no context words)."""
    response = await client.post(
        "/api/auth/register",
        json={"email": "ada.lovelace@example.org", "name": "Ada Lovelace", "password": password},
    )
    assert response.status_code == 422
    [issue] = response.json()["detail"]
    assert issue["loc"] == ["body", "password"]
    assert reason in issue["msg"]
    assert password not in response.text


async def test_register_accepts_a_long_uncommon_passphrase_with_no_composition_rule(
    client: httpx.AsyncClient,
) -> None:
    body = {"email": "ada.l@example.org", "name": "Ada Lovelace", "password": "all lowercase words"}
    assert (await client.post("/api/auth/register", json=body)).status_code == 202


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


async def test_five_failures_lock_the_address_out_for_the_window(
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
    # Once the failures are more than 15 minutes old (two windows back: the previous window
    # still counts, fading) the right password works again.
    postgres.psql(
        "UPDATE login_attempt_windows SET window_start = window_start - interval '30 minutes' "
        "WHERE ip LIKE 'fail:%'",
        migrated_url.rsplit("/", 1)[1],
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
    import jwt

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


async def test_the_user_of_a_token_is_the_stored_user_outside_any_session(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """user_for_claims builds the User from the driver's row, not through the ORM's loading."""
    therapist = await register_therapist(client)
    engine = create_engine(settings)
    try:
        factory = create_session_factory(engine)
        async with factory() as db:
            claims = auth.read_token(therapist.token, settings)
            user = await auth.user_for_claims(db, claims)
            assert inspect(user).transient and user not in db
            stored = await db.get(User, claims.user_id)
            assert stored is not None and stored is not user
            for column in User.__table__.columns:
                assert getattr(user, column.key) == getattr(stored, column.key), column.key
            assert type(user.role) is UserRole
    finally:
        await engine.dispose()


def test_no_route_authenticates_twice() -> None:
    """`authenticated` and `current_user` each run the whole check (one node each, not one over
    the other): a route depending on both would read the token's user twice."""

    def calls(dependant: Dependant) -> set[object]:
        found: set[object] = {dependant.call}
        for sub in dependant.dependencies:
            found |= calls(sub)
        return found

    modules = (auth_routes, hume, patients, records, sessions, system, webhooks)
    routes = [
        route for module in modules for route in module.router.routes if isinstance(route, APIRoute)
    ]
    assert any(deps.current_user in calls(route.dependant) for route in routes)
    assert any(deps.authenticated in calls(route.dependant) for route in routes)
    for route in routes:
        assert {deps.authenticated, deps.current_user} - calls(route.dependant), route.path
