from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from app.schemas.common import ApiInput, ApiModel

HumeId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class HumeChatIn(ApiInput):
    """What EVI's `chat_metadata` message names: the socket's chat and its chat group."""

    chat_id: HumeId
    chat_group_id: HumeId


class HumeChatOut(ApiModel):
    chat_id: str
    chat_group_id: str
    started_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    duration_seconds: int | None
