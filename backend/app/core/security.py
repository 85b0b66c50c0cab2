"""Password hashing (argon2id) and access tokens (JWT, HS256).

A token carries the user id, the user's tokenVersion (bumped at logout, which kills every token) and
a CSRF value that the browser must echo in `X-CSRF-Token` when it authenticates with the cookie.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TypeVar

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

JWT_ALGORITHM = "HS256"
SESSION_COOKIE = "dimini_session"
CSRF_COOKIE = "dimini_csrf"
CSRF_HEADER = "X-CSRF-Token"

T = TypeVar("T")
_hasher = PasswordHasher(type=Type.ID)
# Verified against when the email is unknown, so both paths cost one argon2 verification (the
# result is discarded). A fixed hash of a discarded random password with _hasher's parameters
# (a test checks they match): hashing one at import cost every process start ~0.25 s of CPU.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$nE3+Tb1DHvhV9bkRzrvY0Q"
    "$VaGezBiUg1INUDRW4G2OJx+ogWbWK/wnKTAKPBKtaPc"
)


# argon2 is deliberately slow and memory-hard (64 MiB per hash): it runs off the event loop on its
# own small executor, so its memory is bounded by the pool size and not by the node's CPU count
# (the default executor's size), and it never queues behind other thread work.
_hash_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


def configure_password_hashing(concurrency: int) -> None:
    global _hash_executor
    if _hash_executor._max_workers != concurrency:
        previous, _hash_executor = (
            _hash_executor,
            ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2"),
        )
        previous.shutdown(wait=False)


async def _on_hash_executor(function: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hash_executor, function)


async def hash_password(password: str) -> str:
    return await _on_hash_executor(lambda: _hasher.hash(password))


async def verify_password(password: str, password_hash: str | None) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await _on_hash_executor(verify)


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int
    # Seconds until the session ends for good, however often it is renewed.
    absolute_expires_in: int
    csrf: str


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    token_version: int
    csrf: str
    # When the user logged in (Unix seconds): renewals keep it, the absolute maximum counts from it.
    auth_time: float
    expires_at: float


class InvalidTokenError(Exception):
    pass


def create_access_token(
    user_id: uuid.UUID,
    token_version: int,
    secret_key: str,
    expire_minutes: int,
    absolute_max_minutes: int,
    auth_time: float | None = None,
    csrf: str | None = None,
) -> AccessToken:
    """A token valid for `expire_minutes` (the idle timeout), never past `auth_time` plus
    `absolute_max_minutes` (the absolute timeout). `auth_time` is now for a fresh login."""
    now = datetime.now(UTC)
    logged_in = now.timestamp() if auth_time is None else auth_time
    ends = logged_in + absolute_max_minutes * 60
    expires = min(now.timestamp() + expire_minutes * 60, ends)
    if expires <= now.timestamp():
        raise InvalidTokenError("session reached its absolute maximum")
    csrf = csrf or secrets.token_urlsafe(24)
    claims = {
        "sub": str(user_id),
        "ver": token_version,
        "csrf": csrf,
        "iat": now,
        "auth_time": int(logged_in),
        "exp": int(expires),
        "typ": "access",
    }
    token = jwt.encode(claims, secret_key, algorithm=JWT_ALGORITHM)
    return AccessToken(
        token=token,
        expires_in=round(expires - now.timestamp()),
        absolute_expires_in=round(ends - now.timestamp()),
        csrf=csrf,
    )


def decode_access_token(token: str, secret_key: str) -> TokenClaims:
    claims, expires_at = _verified_claims(token, secret_key)
    # The signature check is cached; expiry is checked on every use.
    if datetime.now(UTC).timestamp() >= expires_at:
        raise InvalidTokenError("token expired")
    return claims


@lru_cache(maxsize=4096)
def _verified_claims(token: str, secret_key: str) -> tuple[TokenClaims, float]:
    """Signature and shape check of a token; cached because every request repeats it."""
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "ver", "exp", "csrf"]},
        )
        if claims.get("typ") != "access":
            raise InvalidTokenError("wrong token type")
        return (
            TokenClaims(
                user_id=uuid.UUID(str(claims["sub"])),
                token_version=int(claims["ver"]),
                csrf=str(claims["csrf"]),
                # Tokens issued before renewal existed count from their issue time.
                auth_time=float(claims.get("auth_time", claims.get("iat", 0))),
                expires_at=float(claims["exp"]),
            ),
            float(claims["exp"]),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidTokenError(str(error)) from None


def constant_time_equals(left: str, right: str) -> bool:
    return secrets.compare_digest(left.encode(), right.encode())
