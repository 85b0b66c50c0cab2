from __future__ import annotations

from typing import Literal

from app.schemas.common import ApiModel


class HealthOut(ApiModel):
    status: Literal["healthy"] = "healthy"
    database: Literal["connected", "disconnected"]
    version: str


class ReadyOut(ApiModel):
    status: Literal["ready", "not_ready"]
    database: Literal["connected", "disconnected"]
    schema_revision: str | None
    expected_revision: str


class HumeTokenOut(ApiModel):
    access_token: str
    expires_in: int
    config_id: str | None
    # The EVI chat WebSocket the browser connects to (from HUME_BASE_URL).
    evi_url: str
