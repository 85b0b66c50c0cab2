"""Hume for the browser: a short-lived access token (client credentials) and the EVI address.
Async, bounded by HUME_TIMEOUT_SECONDS, retried with backoff.

The backend never answers EVI itself: tool results go back on the browser's socket (docs/hume.md).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx

from app.core.config import Settings
from app.services.errors import UpstreamUnavailableError

logger = logging.getLogger(__name__)

TOKEN_PATH = "/oauth2-cc/token"  # noqa: S105 (a URL path)
EVI_CHAT_PATH = "/v0/evi/chat"
ATTEMPTS = 3
BACKOFF_SECONDS = (0.2, 0.8)


@dataclass(frozen=True)
class HumeAccessToken:
    access_token: str
    expires_in: int


def evi_url(settings: Settings) -> str:
    """The EVI chat WebSocket under HUME_BASE_URL (https -> wss, http -> ws), so pointing
    HUME_BASE_URL at a fake Hume points the browser at it too."""
    base = str(settings.hume_base_url).rstrip("/")
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{EVI_CHAT_PATH}"


def _retryable(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


class HumeGateway:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._base_url = str(settings.hume_base_url).rstrip("/")

    @property
    def configured(self) -> bool:
        return self._settings.hume_credentials_configured

    def _credentials(self) -> tuple[str, str]:
        api_key, secret_key = self._settings.hume_api_key, self._settings.hume_secret_key
        if api_key is None or secret_key is None:
            raise UpstreamUnavailableError("Hume is not configured on this server")
        return api_key.get_secret_value(), secret_key.get_secret_value()

    async def access_token(self) -> HumeAccessToken:
        """A short-lived token for the browser, so no Hume secret ever reaches it."""
        api_key, secret_key = self._credentials()
        async with httpx.AsyncClient(timeout=self._settings.hume_timeout_seconds) as client:
            for attempt in range(ATTEMPTS):
                try:
                    response = await client.post(
                        f"{self._base_url}{TOKEN_PATH}",
                        auth=(api_key, secret_key),
                        data={"grant_type": "client_credentials"},
                    )
                except httpx.TransportError as error:
                    failure = f"{type(error).__name__}"
                else:
                    if response.status_code == 200:
                        body = response.json()
                        return HumeAccessToken(
                            str(body["access_token"]), int(body.get("expires_in", 1800))
                        )
                    if not _retryable(response):
                        logger.warning("Hume token request refused: %s", response.status_code)
                        raise UpstreamUnavailableError("Hume refused the token request")
                    failure = f"HTTP {response.status_code}"
                if attempt < ATTEMPTS - 1:
                    await asyncio.sleep(BACKOFF_SECONDS[attempt])
        logger.warning("Hume token request failed: %s", failure)
        raise UpstreamUnavailableError("Hume is unavailable; try again shortly")
