"""The OpenAI client and the LLM-written session summary.

The real `openai` client does the retrying: timeouts, connection errors, 408/409/429 and 5xx are
retried with exponential backoff (max_retries), each attempt bounded by OPENAI_TIMEOUT_SECONDS.

`openai` is imported only when a key is configured: it is the largest import of the app (~0.6 s)
and every reload of the development loop would pay it.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from pydantic import ValidationError

from app.core.config import Settings
from app.schemas.sessions import SessionSummary
from app.services.graph.extract import LlmOutputError

if TYPE_CHECKING:
    from openai import AsyncOpenAI

OPENAI_MAX_RETRIES = 3

SUMMARY_PROMPT = """You write a concise clinical summary of a therapy session for the therapist.
Return JSON with the keys keyTopics, emotionalThemes, insights, recommendations, progressNotes;
each is a list of short strings. Base it only on the material given."""


def openai_client(settings: Settings) -> AsyncOpenAI | None:
    if settings.openai_api_key is None:
        return None
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=str(settings.openai_base_url) if settings.openai_base_url else None,
        timeout=settings.openai_timeout_seconds,
        max_retries=OPENAI_MAX_RETRIES,
    )


def llm_errors() -> tuple[type[Exception], ...]:
    """What an LLM call may raise. Without a client, openai was never imported nor can raise."""
    openai = sys.modules.get("openai")
    return (LlmOutputError, openai.OpenAIError) if openai else (LlmOutputError,)


async def llm_summary(
    client: AsyncOpenAI, model: str, transcript: str, facts: SessionSummary
) -> SessionSummary:
    material = {
        "transcript": transcript[-20_000:],  # the most recent part when very long
        "graphAndRecords": facts.model_dump(by_alias=True),
    }
    completion = await client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": SUMMARY_PROMPT},
            {"role": "user", "content": json.dumps(material)},
        ],
        response_format={"type": "json_object"},
    )
    try:
        return SessionSummary.model_validate_json(completion.choices[0].message.content or "{}")
    except ValidationError as error:
        raise LlmOutputError(f"unexpected summary output: {error.error_count()} errors") from None
