from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.api.deps import AUTHENTICATED_RESPONSES, CurrentUser, SettingsDep
from app.schemas.system import HumeTokenOut
from app.services.hume import HumeGateway, evi_url

router = APIRouter(prefix="/api/hume", tags=["hume"], responses=AUTHENTICATED_RESPONSES)


async def get_hume(request: Request) -> HumeGateway:
    gateway: HumeGateway = request.app.state.hume
    return gateway


@router.api_route(
    "/token",
    methods=["GET", "POST"],
    response_model=HumeTokenOut,
    responses={503: {"description": "Hume not configured or unavailable"}},
)
async def hume_token(
    user: CurrentUser, settings: SettingsDep, hume: Annotated[HumeGateway, Depends(get_hume)]
) -> HumeTokenOut:
    """A short-lived Hume access token for the browser's EVI connection (no secret leaves), and
    the EVI chat WebSocket to open with it."""
    token = await hume.access_token()
    return HumeTokenOut(
        access_token=token.access_token,
        expires_in=token.expires_in,
        config_id=settings.hume_config_id,
        evi_url=evi_url(settings),
    )
