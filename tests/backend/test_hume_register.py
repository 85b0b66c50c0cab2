"""`python -m app.tools.register_hume` against a fake Hume that speaks the SDK's own types.

The fake answers with the SDK's Return* models and refuses any request body the SDK's request
types would not produce (unknown keys included), so these tests prove the registration talks the
SDK's shapes, sets a supplemental language model, and can be re-run (a new tunnel URL) safely.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from app.core.config import Settings
from app.tools import agent_prompt, tool_definitions
from app.tools import register_hume as registration
from app.tools.register_hume import DEFAULT_MODEL_PROVIDER, DEFAULT_MODEL_RESOURCE, register
from hume import AsyncHumeClient

from tests.backend.fakes import (
    HUME_KEY,
    HUME_SECRET,
    HumeState,
    Upstream,
    hume_app,
    serve,
    serve_in_thread,
)
from tests.backend.helpers import BACKEND_DIR, backend_env, make_settings

WEBHOOK = "https://dimini.example/api/webhooks/hume"
TOOL_NAMES = ["save_session_note", "mark_progress", "flag_concern", "generate_session_summary"]


class FakeHume:
    def __init__(self, upstream: Upstream, state: HumeState, settings: Settings) -> None:
        self.upstream, self.state, self.settings = upstream, state, settings

    def calls(self, operation: str) -> list[Any]:
        return self.upstream.calls.get(operation, [])


@pytest.fixture
async def hume(migrated_url: str) -> AsyncIterator[FakeHume]:
    upstream, state = Upstream(), HumeState()
    async with serve(hume_app(upstream, HUME_KEY, HUME_SECRET, state), upstream):
        settings = make_settings(migrated_url, hume_api_key=HUME_KEY, hume_base_url=upstream.url)
        yield FakeHume(upstream, state, settings)
    # Every request the registration made was one the SDK's request types accept.
    assert upstream.calls.get("rejected", []) == []
    assert upstream.calls.get("unexpected", []) == []


def test_the_default_language_model_is_one_the_sdk_knows() -> None:
    import typing

    from hume.empathic_voice import LanguageModelType, ModelProviderEnum

    providers = typing.get_args(typing.get_args(ModelProviderEnum)[0])
    resources = typing.get_args(typing.get_args(LanguageModelType)[0])
    assert DEFAULT_MODEL_PROVIDER in providers
    assert DEFAULT_MODEL_RESOURCE in resources


async def test_a_first_run_creates_the_tools_and_a_config_with_a_language_model(
    hume: FakeHume,
) -> None:
    result = await register(hume.settings, "Dimini test", WEBHOOK)

    assert [t["name"] for t in hume.calls("create_tool")] == TOOL_NAMES
    assert [d["name"] for d in tool_definitions()] == TOOL_NAMES
    schema = json.loads(hume.calls("create_tool")[0]["parameters"])
    assert schema["properties"]["category"]["enum"] == [
        "insight",
        "observation",
        "concern",
        "progress",
    ]
    [config] = hume.state.latest_configs()
    assert result.config_id == config.id
    assert result.config_version == 0
    assert config.name == "Dimini test"
    assert config.language_model is not None
    assert config.language_model.model_provider == DEFAULT_MODEL_PROVIDER
    assert config.language_model.model_resource == DEFAULT_MODEL_RESOURCE
    assert config.prompt is not None and config.prompt.text == agent_prompt()
    assert [(t.name, t.version) for t in config.tools or [] if t] == [(n, 0) for n in TOOL_NAMES]
    assert [(w.url, w.events) for w in config.webhooks or [] if w] == [
        (WEBHOOK, ["chat_started", "chat_ended", "tool_call"])
    ]


async def test_re_running_updates_versions_instead_of_failing_on_existing_names(
    hume: FakeHume, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await register(hume.settings, "Dimini test", WEBHOOK)

    # Same names, nothing changed: nothing new is created, the same config id comes back.
    same = await register(hume.settings, "Dimini test", WEBHOOK)
    assert (same.config_id, same.config_version) == (first.config_id, 0)
    assert len(hume.calls("create_tool")) == 4
    assert hume.calls("create_tool_version") == []
    assert hume.calls("create_config_version") == []
    assert len(hume.calls("create_config")) == 1

    # A new tunnel URL and another model: a new config version, the tools as they were.
    moved = await register(
        hume.settings,
        "Dimini test",
        "https://new-tunnel.example/api/webhooks/hume",
        model_provider="OPEN_AI",
        model_resource="gpt-4.1",
    )
    assert (moved.config_id, moved.config_version) == (first.config_id, 1)
    assert hume.calls("create_tool_version") == []
    config = hume.state.configs[first.config_id][-1]
    assert config.language_model is not None
    assert (config.language_model.model_provider, config.language_model.model_resource) == (
        "OPEN_AI",
        "gpt-4.1",
    )
    assert [w.url for w in config.webhooks or [] if w] == [
        "https://new-tunnel.example/api/webhooks/hume"
    ]

    # A changed tool definition: a new version of that tool, and a config version that uses it.
    changed = [dict(d) for d in tool_definitions()]
    changed[1]["description"] = "Record therapeutic progress, with the patient's words as evidence."
    monkeypatch.setattr(registration, "tool_definitions", lambda: changed)
    updated = await register(hume.settings, "Dimini test", WEBHOOK)
    assert updated.config_version == 2
    assert [v["description"] for v in hume.calls("create_tool_version")] == [
        changed[1]["description"]
    ]
    config = hume.state.configs[first.config_id][-1]
    assert [(t.name, t.version) for t in config.tools or [] if t] == [
        ("save_session_note", 0),
        ("mark_progress", 1),
        ("flag_concern", 0),
        ("generate_session_summary", 0),
    ]
    assert len(hume.state.configs) == 1
    assert len(hume.state.tools) == 4


async def test_existing_tools_are_found_across_pages(hume: FakeHume) -> None:
    # Other tools in the account (created through the SDK itself) push ours past the first page.
    client = AsyncHumeClient(api_key=HUME_KEY, base_url=hume.upstream.url)
    for index in range(25):
        await client.empathic_voice.tools.create_tool(name=f"other-{index:02}", parameters="{}")
    await register(hume.settings, "Dimini test", WEBHOOK)
    again = await register(hume.settings, "Dimini test", WEBHOOK)
    assert again.config_version == 0
    assert len(hume.calls("create_tool")) == 25 + 4
    assert hume.calls("create_tool_version") == []


def test_the_command_prints_the_config_id_and_takes_the_model_from_its_flags(
    migrated_url: str,
) -> None:
    upstream, state = Upstream(), HumeState()
    with serve_in_thread(hume_app(upstream, HUME_KEY, HUME_SECRET, state), upstream):
        env = backend_env(migrated_url, HUME_API_KEY=HUME_KEY, HUME_BASE_URL=upstream.url)

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "app.tools.register_hume", *args],
                env=env,
                cwd=BACKEND_DIR,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        model = ["--model-provider", "GOOGLE", "--model-resource", "gemini-2.5-flash"]
        done = run("--webhook-url", WEBHOOK, *model)
        assert done.returncode == 0, done.stderr
        [config] = state.latest_configs()
        assert done.stdout.strip() == config.id
        assert config.language_model is not None
        assert config.language_model.model_provider == "GOOGLE"
        assert config.language_model.model_resource == "gemini-2.5-flash"
        again = run("--webhook-url", WEBHOOK, *model)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == config.id
        refused = run("--model-provider", "NOT_A_PROVIDER")
        assert refused.returncode == 2
        assert "NOT_A_PROVIDER" in refused.stderr
        assert HUME_KEY not in done.stdout + done.stderr + again.stderr
    assert upstream.calls.get("rejected", []) == []


def test_without_an_api_key_the_command_says_so(migrated_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.tools.register_hume"],
        env=backend_env(migrated_url),
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "HUME_API_KEY" in done.stderr
