from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.api.deps import AUTHENTICATED_RESPONSES, CurrentUser, DbDep, SettingsDep
from app.schemas.system import HumeTokenOut
from app.services import rate_limit
from app.services.hume import HumeGateway, evi_url

router = APIRouter(prefix="/api/hume", tags=["hume"], responses=AUTHENTICATED_RESPONSES)


async def get_hume(request: Request) -> HumeGateway:
    gateway: HumeGateway = request.app.state.hume
    return gateway


TOKEN_RESPONSES: dict[int | str, dict[str, object]] = {
    429: {"description": "Too many tokens for this account this hour"},
    503: {"description": "Hume not configured or unavailable"},
}


# Two routes, not one api_route with two methods: that gives both operations one operationId,
# an invalid OpenAPI document (the frontend's generated types need a valid one).
@router.get("/token", response_model=HumeTokenOut, responses=TOKEN_RESPONSES)
@router.post("/token", response_model=HumeTokenOut, responses=TOKEN_RESPONSES)
async def hume_token(
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    hume: Annotated[HumeGateway, Depends(get_hume)],
) -> HumeTokenOut:
    """A short-lived Hume access token for the browser's EVI connection (no secret leaves), and
    the EVI chat WebSocket to open with it."""
    await rate_limit.count_hume_token(db, user.id, settings)
    token = await hume.access_token()
    return HumeTokenOut(
        access_token=token.access_token,
        expires_in=token.expires_in,
        config_id=settings.hume_config_id,
        evi_url=evi_url(settings),
    )
