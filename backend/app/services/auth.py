"""Registration, login with lockout, logout and token resolution."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import Prepared
from app.core.security import (
    AccessToken,
    InvalidTokenError,
    TokenClaims,
    create_access_token,
    decode_access_token,
    hash_password,
    verify_password,
)
from app.models import User
from app.models.enums import UserRole
from app.schemas.auth import RegisterRequest
from app.services import audit, rate_limit
from app.services.errors import AuthenticationError

logger = logging.getLogger(__name__)

MAX_FAILED_LOGINS = 5
LOCKOUT_SECONDS = 15 * 60
# One message for unknown email, wrong password and locked account: nothing about accounts leaks.
BAD_CREDENTIALS = "Incorrect email or password"
CREDENTIALS_REJECTED = "Could not validate credentials"


async def register(db: AsyncSession, request: RegisterRequest) -> User | None:
    """Creates the account, or returns None when the email is taken. The caller answers both
    the same way; the hash runs either way, so the two take as long."""
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
        logger.info("registration for an email that already has an account: nothing created")
        return None
    audit.record(db, "user.register", actor_id=user.id, entity_type="user", entity_id=user.id)
    await db.commit()
    logger.info("user registered", extra={"user_id": str(user.id)})
    return user


@dataclass(frozen=True)
class LoginResult:
    user_id: uuid.UUID
    token: AccessToken


async def login(
    db: AsyncSession, email: str, password: str, settings: Settings, ip: str | None
) -> LoginResult:
    """Soft lockout per (account, address) (OWASP Authentication Cheat Sheet, "Account lockout";
    ASVS 4 V2.2.1): five failures within 15 minutes lock that address out of that account until
    fewer remain within the last 15, so a stranger's failures never lock out the owner elsewhere.
    """
    found = (
        await db.execute(
            select(User.id, User.password_hash, User.token_version).where(
                func.lower(User.email) == email.strip().lower()
            )
        )
    ).one_or_none()
    source = ip or "unknown"
    bucket = rate_limit.failure_bucket(found.id, source) if found else None
    locked = bucket is not None and (
        await rate_limit.current(db, bucket, LOCKOUT_SECONDS) >= MAX_FAILED_LOGINS
    )
    # End the transaction before the slow hash: no row lock, no pool connection held meanwhile.
    await db.rollback()
    # Every path spends one verification, so unknown, locked and wrong all take as long.
    password_ok = await verify_password(password, found.password_hash if found else None)
    if found is None or bucket is None:
        raise AuthenticationError(BAD_CREDENTIALS)
    if locked:
        logger.info("login refused: locked for this address", extra={"user_id": str(found.id)})
        raise AuthenticationError(BAD_CREDENTIALS)
    if not password_ok:
        failures, _ = await rate_limit.count(db, bucket, LOCKOUT_SECONDS)
        # `>=`, not `==`: a locked address is refused above, uncounted, so this is the lock's
        # start even when the previous window's fading share stepped the count past five.
        if failures >= MAX_FAILED_LOGINS:
            audit.record(
                db, "user.locked", actor_id=found.id, entity_type="user", entity_id=found.id, ip=ip
            )
            await db.commit()
        raise AuthenticationError(BAD_CREDENTIALS)
    audit.record(db, "auth.login", actor_id=found.id, entity_type="user", entity_id=found.id, ip=ip)
    await db.commit()
    return LoginResult(user_id=found.id, token=_issue(found.id, found.token_version, settings))


def _issue(
    user_id: uuid.UUID,
    token_version: int,
    settings: Settings,
    auth_time: float | None = None,
    csrf: str | None = None,
) -> AccessToken:
    return create_access_token(
        user_id,
        token_version,
        settings.secret_key.get_secret_value(),
        settings.access_token_expire_minutes,
        settings.session_absolute_max_minutes,
        auth_time,
        csrf,
    )


def renew(user: User, claims: TokenClaims, settings: Settings) -> AccessToken:
    """Sliding renewal: a fresh idle timeout, the login time (and so the absolute end) kept. The
    CSRF value is kept too, so a request the page built before the renewal still matches."""
    try:
        return _issue(user.id, user.token_version, settings, claims.auth_time, claims.csrf)
    except InvalidTokenError:
        raise AuthenticationError("Session expired; log in again") from None


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


# Every authenticated request runs this: compiled once, read straight from the driver.
_USER_BY_ID = Prepared.of(select(User).where(User.id == bindparam("id")))
_USER_MANAGER = User.__mapper__.class_manager


async def user_for_claims(db: AsyncSession, claims: TokenClaims) -> User:
    """The token's user, unless it is gone or the token was revoked (token_version bumped).

    The User is built from the row, not loaded into `db`: callers read it (id, name, role).
    """
    row = await _USER_BY_ID.fetchrow(db, id=claims.user_id)
    if row is None or row["token_version"] != claims.token_version:
        raise AuthenticationError(CREDENTIALS_REJECTED)
    user: User = _USER_MANAGER.new_instance()
    # Set as loaded values, as the ORM does when it loads a row: User(**values) ran the
    # instrumented __init__ and an attribute event per column, ~5% of an authenticated read.
    values = dict(row.items())
    values["role"] = UserRole(values["role"])
    user.__dict__.update(values)
    return user


async def user_for_token(db: AsyncSession, token: str, settings: Settings) -> User:
    return await user_for_claims(db, read_token(token, settings))
