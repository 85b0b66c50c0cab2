"""FastAPI dependencies: settings, database session, current user (Bearer or cookie + CSRF)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.security import CSRF_HEADER, SESSION_COOKIE, TokenClaims, constant_time_equals
from app.models import User
from app.realtime.broadcast import SocketBroadcaster
from app.schemas.common import MAX_PAGE_SIZE
from app.services import auth
from app.services.errors import AuthenticationError, CsrfError
from app.services.graph.pipeline import GraphPipeline

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Every dependency is `async def`: FastAPI runs plain `def` dependencies in a thread pool, and
# those thread hops dominated request cost under load.

bearer_scheme = HTTPBearer(auto_error=False, description="JWT from /api/auth/login")
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description=f"Browser session; unsafe requests also need the {CSRF_HEADER} header",
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_settings(request: Request) -> Settings:
    return _settings(request)


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    # GET and HEAD handlers only read: their statements need no transaction (no BEGIN/ROLLBACK).
    read_only = request.method in SAFE_METHODS
    factory = (
        request.app.state.read_session_factory if read_only else request.app.state.session_factory
    )
    async with factory() as session:
        yield session


async def get_broadcaster(request: Request) -> SocketBroadcaster:
    broadcaster: SocketBroadcaster = request.app.state.broadcaster
    return broadcaster


async def get_pipeline(request: Request) -> GraphPipeline:
    pipeline: GraphPipeline = request.app.state.pipeline
    return pipeline


async def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[AsyncSession, Depends(get_db)]
BroadcasterDep = Annotated[SocketBroadcaster, Depends(get_broadcaster)]
PipelineDep = Annotated[GraphPipeline, Depends(get_pipeline)]
ClientIpDep = Annotated[str | None, Depends(client_ip)]


@dataclass(frozen=True)
class Authenticated:
    user: User
    claims: TokenClaims


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
SessionCookie = Annotated[str | None, Security(cookie_scheme)]


async def _authenticate(
    request: Request,
    db: AsyncSession,
    bearer: HTTPAuthorizationCredentials | None,
    cookie: str | None,
) -> Authenticated:
    settings = _settings(request)
    if request.headers.get("authorization"):
        if bearer is None or not bearer.credentials:
            raise AuthenticationError(auth.CREDENTIALS_REJECTED)
        claims = auth.read_token(bearer.credentials, settings)
        return Authenticated(await auth.user_for_claims(db, claims), claims)
    if not cookie:
        raise AuthenticationError("Not authenticated")
    claims = auth.read_token(cookie, settings)
    # A cookie rides along on cross-site requests; the CSRF value bound into the token does not.
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not constant_time_equals(sent, claims.csrf):
            raise CsrfError("CSRF token missing or invalid")
    return Authenticated(await auth.user_for_claims(db, claims), claims)


# Two dependencies over one check, each resolved directly: FastAPI's per-request cost grows with
# every node of a route's dependency graph (a `current_user` over `authenticated`, or settings as
# a dependency of its own, were two more on every authenticated request).
async def authenticated(
    request: Request, db: DbDep, bearer: BearerCredentials, cookie: SessionCookie
) -> Authenticated:
    return await _authenticate(request, db, bearer, cookie)


async def current_user(
    request: Request, db: DbDep, bearer: BearerCredentials, cookie: SessionCookie
) -> User:
    return (await _authenticate(request, db, bearer, cookie)).user


AuthenticatedDep = Annotated[Authenticated, Depends(authenticated)]
CurrentUser = Annotated[User, Depends(current_user)]

# Fetch Metadata values a browser sends for a navigation or request started by this origin itself.
SAME_ORIGIN_SITES = frozenset({"same-origin", "none"})


async def same_origin_browser(request: Request, settings: SettingsDep) -> None:
    """Refuses cross-site browser requests to routes that set the session cookie (login CSRF).

    OWASP CSRF Prevention Cheat Sheet: verify Origin against the allowed origins, else Fetch
    Metadata; a request with neither header is not from a browser's cross-site form or script.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        if origin.rstrip("/") not in settings.allowed_origins:
            raise CsrfError("Cross-site request refused")
        return
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in SAME_ORIGIN_SITES:
        raise CsrfError("Cross-site request refused")


SameOriginBrowser = Depends(same_origin_browser)


@dataclass(frozen=True)
class Pagination:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


async def pagination(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> Pagination:
    return Pagination(page=page, page_size=page_size)


PaginationDep = Annotated[Pagination, Depends(pagination)]

# Documented on every authenticated router, so the OpenAPI lists what clients can really get.
AUTHENTICATED_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated, or the token was revoked"},
    403: {"description": "Cookie authentication without a valid X-CSRF-Token header"},
    503: {"description": "Database unavailable"},
}
