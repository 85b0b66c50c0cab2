from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, Security, status
from fastapi.security import HTTPAuthorizationCredentials, OAuth2PasswordRequestForm

from app.api.deps import (
    AUTHENTICATED_RESPONSES,
    ClientIpDep,
    CurrentUser,
    DbDep,
    SettingsDep,
    bearer_scheme,
    cookie_scheme,
)
from app.core.config import Settings
from app.core.metrics import LOGIN_ATTEMPTS
from app.core.security import CSRF_COOKIE, SESSION_COOKIE, AccessToken
from app.schemas.auth import LoginRequest, RegisterRequest, TokenResponse, UserOut
from app.services import auth, rate_limit
from app.services.errors import AuthenticationError, RateLimitedError

router = APIRouter(
    prefix="/api/auth", tags=["auth"], responses={503: {"description": "Database unavailable"}}
)

AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Incorrect email or password (also while the account is locked)"},
    429: {"description": "Too many login attempts from this address"},
}


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={409: {"description": "Email already registered"}},
)
async def register(body: RegisterRequest, db: DbDep) -> UserOut:
    return UserOut.model_validate(await auth.register(db, body))


def _set_session_cookies(response: Response, token: AccessToken, settings: Settings) -> None:
    common = {
        "max_age": token.expires_in,
        "secure": settings.cookie_secure,
        "samesite": "lax",
        "path": "/",
    }
    response.set_cookie(SESSION_COOKIE, token.token, httponly=True, **common)  # type: ignore[arg-type]
    # Readable by the page's script, which echoes it in X-CSRF-Token (double submit).
    response.set_cookie(CSRF_COOKIE, token.csrf, httponly=False, **common)  # type: ignore[arg-type]


async def _login(
    email: str, password: str, response: Response, db: DbDep, settings: Settings, ip: str | None
) -> TokenResponse:
    try:
        await rate_limit.count_login_attempt(db, ip or "unknown", settings)
        result = await auth.login(db, email, password, settings, ip)
    except RateLimitedError:
        LOGIN_ATTEMPTS.labels("rate_limited").inc()
        raise
    except AuthenticationError:
        LOGIN_ATTEMPTS.labels("failed").inc()
        raise
    LOGIN_ATTEMPTS.labels("succeeded").inc()
    _set_session_cookies(response, result.token, settings)
    return _token_response(result.token)


def _token_response(token: AccessToken) -> TokenResponse:
    return TokenResponse(
        access_token=token.token,
        expires_in=token.expires_in,
        absolute_expires_in=token.absolute_expires_in,
    )


@router.post("/login", response_model=TokenResponse, responses=AUTH_ERRORS)
async def login(
    body: LoginRequest, response: Response, db: DbDep, settings: SettingsDep, ip: ClientIpDep
) -> TokenResponse:
    return await _login(body.email, body.password, response, db, settings, ip)


@router.post("/token", response_model=TokenResponse, responses=AUTH_ERRORS)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    ip: ClientIpDep,
) -> TokenResponse:
    """OAuth2 password flow: `username` is the email."""
    return await _login(form.username, form.password, response, db, settings, ip)


@router.get("/me", response_model=UserOut, responses=AUTHENTICATED_RESPONSES)
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses={
        **AUTHENTICATED_RESPONSES,
        401: {
            "description": "Not authenticated, the token expired or was revoked, or the session "
            "reached SESSION_ABSOLUTE_MAX_MINUTES (sign in again)"
        },
    },
)
async def refresh(
    user: CurrentUser,
    request: Request,
    response: Response,
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    cookie: Annotated[str | None, Security(cookie_scheme)],
) -> TokenResponse:
    """Sliding renewal: a new token (and cookies) valid for ACCESS_TOKEN_EXPIRE_MINUTES more,
    never past the login + SESSION_ABSOLUTE_MAX_MINUTES."""
    # `user` already passed the checks (signature, expiry, tokenVersion, CSRF for the cookie);
    # the same token, picked the same way, supplies auth_time and the CSRF value to carry over.
    token = bearer.credentials if request.headers.get("authorization") and bearer else cookie
    if not token:
        raise AuthenticationError(auth.CREDENTIALS_REJECTED)
    renewed = auth.renew(auth.read_token(token, settings), settings)
    _set_session_cookies(response, renewed, settings)
    return _token_response(renewed)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=AUTHENTICATED_RESPONSES)
async def logout(user: CurrentUser, db: DbDep, ip: ClientIpDep) -> Response:
    await auth.logout(db, user, ip)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
