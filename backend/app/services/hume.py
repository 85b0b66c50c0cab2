"""Hume calls: the browser's access token (client credentials) and tool results sent back to EVI
through the control plane. Async, bounded by HUME_TIMEOUT_SECONDS, retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx
from hume import AsyncHumeClient
from hume.core.api_error import ApiError
from hume.empathic_voice import ToolErrorMessage, ToolResponseMessage

from app.core.config import Settings
from app.services.errors import UpstreamUnavailableError

logger = logging.getLogger(__name__)

TOKEN_PATH = "/oauth2-cc/token"  # noqa: S105 (a URL path)
ATTEMPTS = 3
BACKOFF_SECONDS = (0.2, 0.8)


@dataclass(frozen=True)
class HumeAccessToken:
    access_token: str
    expires_in: int


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

    async def send_tool_result(
        self, chat_id: str, tool_call_id: str, content: str, is_error: bool
    ) -> None:
        """Answers EVI's tool call through the control plane (POST /v0/evi/chat/{id}/send)."""
        api_key, _ = self._credentials()
        client = AsyncHumeClient(
            api_key=api_key, base_url=self._base_url, timeout=self._settings.hume_timeout_seconds
        )
        message: ToolResponseMessage | ToolErrorMessage = (
            ToolErrorMessage(tool_call_id=tool_call_id, error=content, content=content)
            if is_error
            else ToolResponseMessage(tool_call_id=tool_call_id, content=content)
        )
        try:
            # The SDK retries 429/5xx and timeouts with exponential backoff.
            await client.empathic_voice.control_plane.send(
                chat_id,
                request=message,
                request_options={"max_retries": ATTEMPTS - 1},
            )
        except (ApiError, httpx.HTTPError) as error:
            logger.warning("could not send the tool result to EVI: %s", type(error).__name__)
            raise UpstreamUnavailableError("Hume control plane unavailable") from None
