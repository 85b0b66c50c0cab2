"""Password hashing (argon2id) and access tokens (JWT, HS256).

A token carries the user id, the user's tokenVersion (bumped at logout, which kills every token), a
CSRF value that the browser must echo in `X-CSRF-Token` when it authenticates with the cookie, and
`auth_time` (the login). Renewal slides `exp` but never past `auth_time` + the absolute maximum.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

JWT_ALGORITHM = "HS256"
SESSION_COOKIE = "dimini_session"
CSRF_COOKIE = "dimini_csrf"
CSRF_HEADER = "X-CSRF-Token"

_hasher = PasswordHasher(type=Type.ID)
# Verified against when the email is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int
    # Seconds until the absolute session maximum: no renewal reaches past it.
    absolute_expires_in: int
    csrf: str


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    token_version: int
    csrf: str
    # When the user authenticated (epoch seconds); renewals carry it over unchanged.
    auth_time: int
    expires_at: int


class InvalidTokenError(Exception):
    pass


class SessionLimitReachedError(InvalidTokenError):
    """The session is past its absolute maximum: only a new login continues it."""


def create_access_token(
    user_id: uuid.UUID,
    token_version: int,
    secret_key: str,
    *,
    expire_minutes: int,
    absolute_max_minutes: int,
    now: datetime | None = None,
    auth_time: int | None = None,
    csrf: str | None = None,
) -> AccessToken:
    """A token valid for `expire_minutes`, never past `auth_time + absolute_max_minutes`.

    `now` is injectable so tests can walk a clock; JWT times are whole seconds, so all of the
    arithmetic is done in integer seconds and `expires_in` is exactly `exp - iat`.
    """
    issued = int((now or datetime.now(UTC)).timestamp())
    authenticated = issued if auth_time is None else auth_time
    absolute_end = authenticated + absolute_max_minutes * 60
    if issued >= absolute_end:
        raise SessionLimitReachedError("session reached its absolute maximum")
    expires_at = min(issued + expire_minutes * 60, absolute_end)
    csrf = csrf or secrets.token_urlsafe(24)
    claims = {
        "sub": str(user_id),
        "ver": token_version,
        "csrf": csrf,
        "iat": issued,
        "auth_time": authenticated,
        "exp": expires_at,
        "typ": "access",
    }
    token = jwt.encode(claims, secret_key, algorithm=JWT_ALGORITHM)
    return AccessToken(
        token=token,
        expires_in=expires_at - issued,
        absolute_expires_in=absolute_end - issued,
        csrf=csrf,
    )


def renew_access_token(
    claims: TokenClaims,
    secret_key: str,
    *,
    expire_minutes: int,
    absolute_max_minutes: int,
    now: datetime | None = None,
) -> AccessToken:
    """Sliding renewal: same user, version, auth_time and CSRF value; a later expiry (capped)."""
    # The CSRF value stays: requests already in flight with the old header remain valid.
    return create_access_token(
        claims.user_id,
        claims.token_version,
        secret_key,
        expire_minutes=expire_minutes,
        absolute_max_minutes=absolute_max_minutes,
        now=now,
        auth_time=claims.auth_time,
        csrf=claims.csrf,
    )


def decode_access_token(token: str, secret_key: str, now: datetime | None = None) -> TokenClaims:
    claims = _verified_claims(token, secret_key)
    # The signature check is cached; expiry is checked on every use, without leeway.
    if (now or datetime.now(UTC)).timestamp() >= claims.expires_at:
        raise InvalidTokenError("token expired")
    return claims


@lru_cache(maxsize=4096)
def _verified_claims(token: str, secret_key: str) -> TokenClaims:
    """Signature and shape check of a token; cached because every request repeats it."""
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[JWT_ALGORITHM],
            # Times are ours to check (above, per use): the result outlives the moment of decoding,
            # and an `iat` a little ahead (another pod's clock) must not reject a token.
            options={
                "require": ["sub", "ver", "exp", "iat", "csrf"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
        if claims.get("typ") != "access":
            raise InvalidTokenError("wrong token type")
        # Tokens issued before auth_time existed were all fresh logins: iat is their auth time.
        auth_time = claims.get("auth_time", claims["iat"])
        return TokenClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            token_version=int(claims["ver"]),
            csrf=str(claims["csrf"]),
            auth_time=int(auth_time),
            expires_at=int(claims["exp"]),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidTokenError(str(error)) from None


def constant_time_equals(left: str, right: str) -> bool:
    return secrets.compare_digest(left.encode(), right.encode())
