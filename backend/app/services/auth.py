"""Registration, login with lockout, logout, token renewal and token resolution."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.security import (
    AccessToken,
    InvalidTokenError,
    SessionLimitReachedError,
    TokenClaims,
    create_access_token,
    decode_access_token,
    hash_password,
    renew_access_token,
    verify_password,
)
from app.models import User
from app.models.enums import UserRole
from app.schemas.auth import RegisterRequest
from app.services import audit
from app.services.errors import AuthenticationError, ConflictError

logger = logging.getLogger(__name__)

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
# One message for unknown email, wrong password and locked account: nothing about accounts leaks.
BAD_CREDENTIALS = "Incorrect email or password"
CREDENTIALS_REJECTED = "Could not validate credentials"
SESSION_LIMIT_REACHED = "Session reached its maximum length; sign in again"


async def register(db: AsyncSession, request: RegisterRequest) -> User:
    user = User(
        email=request.email,
        name=request.name,
        password_hash=await hash_password(request.password),
        role=UserRole.therapist,  # never taken from the request
        token_version=0,
        failed_login_attempts=0,
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise ConflictError("Email already registered") from None
    audit.record(db, "user.register", actor_id=user.id, entity_type="user", entity_id=user.id)
    await db.commit()
    logger.info("user registered", extra={"user_id": str(user.id)})
    return user


@dataclass(frozen=True)
class LoginResult:
    user: User
    token: AccessToken


async def login(
    db: AsyncSession, email: str, password: str, settings: Settings, ip: str | None
) -> LoginResult:
    user = (
        await db.execute(
            select(User).where(func.lower(User.email) == email.strip().lower()).with_for_update()
        )
    ).scalar_one_or_none()
    password_ok = await verify_password(password, user.password_hash if user else None)
    if user is None:
        await db.rollback()
        raise AuthenticationError(BAD_CREDENTIALS)
    now = datetime.now(UTC)
    if user.locked_until is not None and user.locked_until > now:
        user_id = user.id
        await db.rollback()
        logger.info("login refused: account locked", extra={"user_id": str(user_id)})
        raise AuthenticationError(BAD_CREDENTIALS)
    if not password_ok:
        user.failed_login_attempts += 1
        if user.failed_login_attempts >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_login_attempts = 0
            audit.record(
                db, "user.locked", actor_id=user.id, entity_type="user", entity_id=user.id, ip=ip
            )
        await db.commit()
        raise AuthenticationError(BAD_CREDENTIALS)
    user.failed_login_attempts = 0
    user.locked_until = None
    audit.record(db, "auth.login", actor_id=user.id, entity_type="user", entity_id=user.id, ip=ip)
    await db.commit()
    token = create_access_token(
        user.id,
        user.token_version,
        settings.secret_key.get_secret_value(),
        expire_minutes=settings.access_token_expire_minutes,
        absolute_max_minutes=settings.session_absolute_max_minutes,
    )
    return LoginResult(user=user, token=token)


def renew(claims: TokenClaims, settings: Settings, now: datetime | None = None) -> AccessToken:
    """Sliding renewal of a verified, unrevoked token (the caller checked tokenVersion)."""
    try:
        return renew_access_token(
            claims,
            settings.secret_key.get_secret_value(),
            expire_minutes=settings.access_token_expire_minutes,
            absolute_max_minutes=settings.session_absolute_max_minutes,
            now=now,
        )
    except SessionLimitReachedError:
        raise AuthenticationError(SESSION_LIMIT_REACHED) from None


async def logout(db: AsyncSession, user: User, ip: str | None) -> None:
    # Bumping the version invalidates every token issued so far, on every device.
    await db.execute(
        update(User).where(User.id == user.id).values(token_version=User.token_version + 1)
    )
    audit.record(db, "auth.logout", actor_id=user.id, entity_type="user", entity_id=user.id, ip=ip)
    await db.commit()


def read_token(token: str, settings: Settings) -> TokenClaims:
    try:
        return decode_access_token(token, settings.secret_key.get_secret_value())
    except InvalidTokenError:
        raise AuthenticationError(CREDENTIALS_REJECTED) from None


async def user_for_claims(db: AsyncSession, claims: TokenClaims) -> User:
    user = await db.get(User, claims.user_id)
    if user is None or user.token_version != claims.token_version:
        raise AuthenticationError(CREDENTIALS_REJECTED)
    return user


async def user_for_token(db: AsyncSession, token: str, settings: Settings) -> User:
    return await user_for_claims(db, read_token(token, settings))
