"""Voice-agent tool definitions shipped with the backend (JSON schemas for Hume EVI)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def tool_definitions() -> list[dict[str, Any]]:
    """Each tool as {name, description, parameters (JSON schema)}; the source of truth for EVI."""
    text = resources.files(__package__).joinpath("definitions.json").read_text(encoding="utf-8")
    definitions: list[dict[str, Any]] = json.loads(text)
    return definitions


def agent_prompt() -> str:
    return resources.files(__package__).joinpath("prompt.txt").read_text(encoding="utf-8")
