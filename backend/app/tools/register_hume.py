"""`python -m app.tools.register_hume`: register the tools and the agent prompt in a Hume config.

Idempotent by name: the first run creates one Hume tool per shipped definition
(`definitions.json`) and an EVI config that uses them with the agent prompt (`prompt.txt`), a
supplemental language model (tool use needs one) and, with --webhook-url, the three webhook
events. A re-run (a new tunnel URL, another model, changed definitions) adds new tool versions and
a new config version where something changed, and nothing where nothing did.
Prints the config id: put it in HUME_CONFIG_ID. Uses HUME_API_KEY and HUME_BASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import typing
from dataclasses import dataclass
from typing import Any

from hume import AsyncHumeClient
from hume.core.api_error import ApiError
from hume.empathic_voice import (
    LanguageModelType,
    ModelProviderEnum,
    PostedConfigPromptSpec,
    PostedLanguageModel,
    PostedUserDefinedToolSpec,
    PostedWebhookSpec,
    ReturnConfig,
    ReturnUserDefinedTool,
)
from hume.empathic_voice.configs import PostedConfigLanguageModel, PostedConfigPrompt

from app import __version__
from app.core.config import Settings, load_settings_or_exit
from app.tools import agent_prompt, tool_definitions

EVI_VERSION = "3"
WEBHOOK_EVENTS = ["chat_started", "chat_ended", "tool_call"]
FALLBACK_CONTENT = "That tool is unavailable right now; carry on without it."
# Hume's own tool-use examples (hume-api-examples: evi-python-webhooks, evi-next-js-function-
# calling) configure this model; tool use needs a supplemental LLM (docs/hume.md).
DEFAULT_MODEL_PROVIDER = "ANTHROPIC"
DEFAULT_MODEL_RESOURCE = "claude-sonnet-4-5-20250929"
PAGE_SIZE = 100


def _literals(union: Any) -> tuple[str, ...]:
    """The named values of one of the SDK's open enums (`Union[Literal[...], Any]`)."""
    return tuple(str(value) for value in typing.get_args(typing.get_args(union)[0]))


MODEL_PROVIDERS = _literals(ModelProviderEnum)
KNOWN_MODEL_RESOURCES = _literals(LanguageModelType)


@dataclass(frozen=True)
class Registration:
    config_id: str
    config_version: int
    created_tools: tuple[str, ...]
    updated_tools: tuple[str, ...]
    config_changed: bool


def _client(settings: Settings) -> AsyncHumeClient:
    if settings.hume_api_key is None:
        raise SystemExit("HUME_API_KEY is required to register tools")
    return AsyncHumeClient(
        api_key=settings.hume_api_key.get_secret_value(),
        base_url=str(settings.hume_base_url).rstrip("/"),
        timeout=settings.hume_timeout_seconds,
    )


async def _existing_tools(
    client: AsyncHumeClient, names: set[str]
) -> dict[str, ReturnUserDefinedTool]:
    """The latest version of each of our tools already in the account, by exact name."""
    found: dict[str, ReturnUserDefinedTool] = {}
    pager = await client.empathic_voice.tools.list_tools(
        page_size=PAGE_SIZE, restrict_to_most_recent=True
    )
    async for tool in pager:
        if tool is not None and tool.name in names:
            current = found.get(tool.name)
            if current is None or tool.version > current.version:
                found[tool.name] = tool
    return found


async def _existing_config(client: AsyncHumeClient, name: str) -> ReturnConfig | None:
    pager = await client.empathic_voice.configs.list_configs(
        page_size=PAGE_SIZE, restrict_to_most_recent=True, name=name
    )
    latest: ReturnConfig | None = None
    async for config in pager:
        newer = latest is None or (config.version or 0) > (latest.version or 0)
        if config.name == name and newer:
            latest = config
    return latest


def _tool_matches(tool: ReturnUserDefinedTool, definition: dict[str, Any]) -> bool:
    return (
        json.loads(tool.parameters) == definition["parameters"]
        and tool.description == definition["description"]
        and tool.fallback_content == FALLBACK_CONTENT
    )


def _config_matches(
    config: ReturnConfig,
    tools: list[PostedUserDefinedToolSpec],
    webhooks: list[PostedWebhookSpec],
    model_provider: str,
    model_resource: str,
    prompt: str,
) -> bool:
    model = config.language_model
    return (
        config.evi_version == EVI_VERSION
        and model is not None
        and (model.model_provider, model.model_resource) == (model_provider, model_resource)
        and config.prompt is not None
        and config.prompt.text == prompt
        and [(t.id, t.version) for t in config.tools or [] if t is not None]
        == [(t.id, t.version) for t in tools]
        and sorted((w.url, sorted(w.events)) for w in config.webhooks or [] if w is not None)
        == sorted((w.url, sorted(w.events)) for w in webhooks)
    )


async def register(
    settings: Settings,
    config_name: str,
    webhook_url: str | None,
    *,
    model_provider: str = DEFAULT_MODEL_PROVIDER,
    model_resource: str = DEFAULT_MODEL_RESOURCE,
) -> Registration:
    client = _client(settings)
    definitions = tool_definitions()
    version_description = f"Dimini backend {__version__}"
    existing = await _existing_tools(client, {d["name"] for d in definitions})
    specs: list[PostedUserDefinedToolSpec] = []
    created: list[str] = []
    updated: list[str] = []
    for definition in definitions:
        name = definition["name"]
        current = existing.get(name)
        if current is not None and _tool_matches(current, definition):
            specs.append(PostedUserDefinedToolSpec(id=current.id, version=current.version))
            continue
        parameters = json.dumps(definition["parameters"])
        if current is None:
            tool = await client.empathic_voice.tools.create_tool(
                name=name,
                description=definition["description"],
                parameters=parameters,
                fallback_content=FALLBACK_CONTENT,
                version_description=version_description,
            )
            created.append(name)
        else:
            tool = await client.empathic_voice.tools.create_tool_version(
                current.id,
                description=definition["description"],
                parameters=parameters,
                fallback_content=FALLBACK_CONTENT,
                version_description=version_description,
            )
            updated.append(name)
        if tool is None:
            raise SystemExit(f"Hume did not return the tool {name}")
        specs.append(PostedUserDefinedToolSpec(id=tool.id, version=tool.version))

    prompt = agent_prompt()
    config = await _existing_config(client, config_name)
    if webhook_url:
        webhooks = [PostedWebhookSpec(url=webhook_url, events=WEBHOOK_EVENTS)]
    else:
        # Without --webhook-url a re-run keeps the webhooks the config already has.
        webhooks = [
            PostedWebhookSpec(url=hook.url, events=list(hook.events))
            for hook in (config.webhooks if config is not None else None) or []
            if hook is not None
        ]
    if config is None:
        config = await client.empathic_voice.configs.create_config(
            evi_version=EVI_VERSION,
            name=config_name,
            prompt=PostedConfigPrompt(text=prompt),
            language_model=PostedConfigLanguageModel(
                model_provider=model_provider, model_resource=model_resource
            ),
            tools=list(specs),
            webhooks=list(webhooks),
            version_description=version_description,
        )
        changed = True
    elif _config_matches(config, specs, webhooks, model_provider, model_resource, prompt):
        changed = False
    else:
        if not config.id:
            raise SystemExit("Hume listed the config without an id")
        config = await client.empathic_voice.configs.create_config_version(
            config.id,
            evi_version=EVI_VERSION,
            prompt=PostedConfigPromptSpec(text=prompt),
            language_model=PostedLanguageModel(
                model_provider=model_provider, model_resource=model_resource
            ),
            tools=list(specs),
            webhooks=list(webhooks),
            version_description=version_description,
        )
        changed = True
    if not config.id:
        raise SystemExit("Hume did not return a config id")
    return Registration(
        config_id=str(config.id),
        config_version=int(config.version or 0),
        created_tools=tuple(created),
        updated_tools=tuple(updated),
        config_changed=changed,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config-name", default="Dimini voice agent")
    parser.add_argument(
        "--webhook-url",
        help="public https://…/api/webhooks/hume URL (omitted: keep the config's webhooks)",
    )
    parser.add_argument(
        "--model-provider",
        default=DEFAULT_MODEL_PROVIDER,
        choices=MODEL_PROVIDERS,
        help=f"supplemental LLM provider (default {DEFAULT_MODEL_PROVIDER})",
    )
    parser.add_argument(
        "--model-resource",
        default=DEFAULT_MODEL_RESOURCE,
        help=f"supplemental LLM model (default {DEFAULT_MODEL_RESOURCE}); the SDK knows "
        + ", ".join(KNOWN_MODEL_RESOURCES[:6])
        + ", …",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = load_settings_or_exit()
    try:
        result = asyncio.run(
            register(
                settings,
                args.config_name,
                args.webhook_url,
                model_provider=args.model_provider,
                model_resource=args.model_resource,
            )
        )
    except ApiError as error:
        # The status only: Hume's error body can echo the request.
        raise SystemExit(f"Hume refused the registration (HTTP {error.status_code})") from None
    summary = (
        f"tools created: {', '.join(result.created_tools) or 'none'}; "
        f"new tool versions: {', '.join(result.updated_tools) or 'none'}; "
        f"config version {result.config_version}"
        + (" (new)" if result.config_changed else " (unchanged)")
    )
    print(summary, file=sys.stderr)
    print(result.config_id)


if __name__ == "__main__":
    main()
