from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from app.schemas.common import ApiInput, ApiModel


class ToolCallIn(ApiInput):
    tool_call_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    # EVI sends parameters as a JSON-encoded string; objects are accepted too.
    parameters: dict[str, Any] | str = Field(default_factory=dict)


class ToolResultOut(ApiModel):
    tool_call_id: str
    name: str
    content: str
    is_error: bool
