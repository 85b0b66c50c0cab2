from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import (
    AUTHENTICATED_RESPONSES,
    AuthenticatedDep,
    BroadcasterDep,
    ClientIpDep,
    CurrentUser,
    DbDep,
    SameOriginBrowser,
    SettingsDep,
)
from app.core.config import Settings
from app.core.metrics import LOGIN_ATTEMPTS
from app.core.security import CSRF_COOKIE, SESSION_COOKIE, AccessToken
from app.schemas.auth import (
    REGISTRATION_RECEIVED,
    LoginRequest,
    MessageOut,
    RegisterRequest,
    TokenResponse,
    UserOut,
)
from app.services import auth, rate_limit
from app.services.errors import AuthenticationError, RateLimitedError

router = APIRouter(
    prefix="/api/auth", tags=["auth"], responses={503: {"description": "Database unavailable"}}
)

AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Incorrect email or password (also while the account is locked)"},
    403: {"description": "A cross-site browser request (login CSRF); no cookie is set"},
    429: {"description": "Too many login attempts from this address"},
}


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageOut,
    responses={429: {"description": "Too many registrations from this address"}},
)
async def register(
    body: RegisterRequest, db: DbDep, settings: SettingsDep, ip: ClientIpDep
) -> MessageOut:
    """Creates a therapist account. The answer is the same when the email already has one, so
    registration does not tell anyone which emails are in use; sign in to find out."""
    await rate_limit.count_registration(db, ip or "unknown", settings)
    await auth.register(db, body)
    return REGISTRATION_RECEIVED


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


@router.post(
    "/login", response_model=TokenResponse, responses=AUTH_ERRORS, dependencies=[SameOriginBrowser]
)
async def login(
    body: LoginRequest, response: Response, db: DbDep, settings: SettingsDep, ip: ClientIpDep
) -> TokenResponse:
    return await _login(body.email, body.password, response, db, settings, ip)


@router.post(
    "/token", response_model=TokenResponse, responses=AUTH_ERRORS, dependencies=[SameOriginBrowser]
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    response: Response,
    db: DbDep,
    settings: SettingsDep,
    ip: ClientIpDep,
) -> TokenResponse:
    """OAuth2 password flow: `username` is the email."""
    return await _login(form.username, form.password, response, db, settings, ip)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses={
        **AUTHENTICATED_RESPONSES,
        401: {"description": "Expired, revoked, or past the session's absolute maximum"},
    },
    dependencies=[SameOriginBrowser],
)
async def refresh(
    session: AuthenticatedDep, response: Response, settings: SettingsDep
) -> TokenResponse:
    """Sliding renewal while the user is active: a new token (and cookies) with a fresh idle
    timeout, never past the absolute maximum counted from the login."""
    token = auth.renew(session.user, session.claims, settings)
    _set_session_cookies(response, token, settings)
    return _token_response(token)


@router.get("/me", response_model=UserOut, responses=AUTHENTICATED_RESPONSES)
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=AUTHENTICATED_RESPONSES)
async def logout(
    user: CurrentUser, db: DbDep, ip: ClientIpDep, broadcaster: BroadcasterDep
) -> Response:
    await auth.logout(db, user, ip)
    # Revoking the token stops new joins; this also cuts the sockets already open, everywhere.
    await broadcaster.disconnect_user(user.id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
