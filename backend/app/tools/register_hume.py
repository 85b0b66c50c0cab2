"""`python -m app.tools.register_hume`: register the tools and the agent prompt in a Hume config.

Creates one Hume tool per shipped definition (`definitions.json`), then an EVI config that uses
them with the agent prompt (`prompt.txt`) and, with --webhook-url, the three webhook events.
Prints the config id: put it in HUME_CONFIG_ID. Uses HUME_API_KEY and HUME_BASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from hume import AsyncHumeClient
from hume.empathic_voice import PostedUserDefinedToolSpec, PostedWebhookSpec
from hume.empathic_voice.configs import PostedConfigPrompt

from app import __version__
from app.core.config import Settings, load_settings_or_exit
from app.tools import agent_prompt, tool_definitions

EVI_VERSION = "3"
WEBHOOK_EVENTS = ["chat_started", "chat_ended", "tool_call"]
FALLBACK_CONTENT = "That tool is unavailable right now; carry on without it."


async def register(settings: Settings, config_name: str, webhook_url: str | None) -> str:
    if settings.hume_api_key is None:
        raise SystemExit("HUME_API_KEY is required to register tools")
    client = AsyncHumeClient(
        api_key=settings.hume_api_key.get_secret_value(),
        base_url=str(settings.hume_base_url).rstrip("/"),
        timeout=settings.hume_timeout_seconds,
    )
    tools: list[PostedUserDefinedToolSpec | None] = []
    for definition in tool_definitions():
        created = await client.empathic_voice.tools.create_tool(
            name=definition["name"],
            description=definition["description"],
            parameters=json.dumps(definition["parameters"]),
            fallback_content=FALLBACK_CONTENT,
            version_description=f"Dimini backend {__version__}",
        )
        if created is None:
            raise SystemExit(f"Hume did not return the created tool {definition['name']}")
        tools.append(PostedUserDefinedToolSpec(id=created.id, version=created.version))
    webhooks = [PostedWebhookSpec(url=webhook_url, events=WEBHOOK_EVENTS)] if webhook_url else None
    config = await client.empathic_voice.configs.create_config(
        evi_version=EVI_VERSION,
        name=config_name,
        prompt=PostedConfigPrompt(text=agent_prompt()),
        tools=tools,
        webhooks=webhooks,
    )
    if not config.id:
        raise SystemExit("Hume did not return a config id")
    return str(config.id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config-name", default="Dimini voice agent")
    parser.add_argument("--webhook-url", help="public https://…/api/webhooks/hume URL")
    args = parser.parse_args()
    settings = load_settings_or_exit()
    print(asyncio.run(register(settings, args.config_name, args.webhook_url)))


if __name__ == "__main__":
    main()
