"""Local stand-ins for OpenAI and Hume, served by uvicorn on a free port in the test's loop.

Each keeps the requests it received and can be told to fail or stall the next calls, so the real
`openai` and `hume` clients (and their retries) are exercised without network access.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import json
import threading
import time
import typing
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from hume.empathic_voice import (
    ReturnConfig,
    ReturnLanguageModel,
    ReturnPagedConfigs,
    ReturnPagedUserDefinedTools,
    ReturnPrompt,
    ReturnUserDefinedTool,
    ReturnWebhookSpec,
    ToolCallMessage,
    WebhookEventChatEnded,
    WebhookEventChatStarted,
    WebhookEventToolCall,
)
from hume.empathic_voice.configs.client import AsyncConfigsClient
from hume.empathic_voice.tools.client import AsyncToolsClient
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.backend.helpers import (
    Therapist,
    api_client,
    create_patient,
    make_settings,
    register_therapist,
    start_session,
    wait_for,
)
from tests.support.ports import free_port


@dataclass
class Upstream:
    """Scripted behaviour per route: a queue of 'fail:<status>' / 'stall:<seconds>' steps."""

    calls: dict[str, list[Any]] = field(default_factory=dict)
    script: dict[str, list[str]] = field(default_factory=dict)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.gate.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, route: str, body: Any) -> None:
        self.calls.setdefault(route, []).append(body)

    async def scripted_failure(self, route: str) -> Response | None:
        await self.gate.wait()  # tests close the gate to hold every upstream call
        steps = self.script.get(route)
        if not steps:
            return None
        step = steps.pop(0)
        kind, _, value = step.partition(":")
        if kind == "stall":
            await asyncio.sleep(float(value))
            return JSONResponse({"error": "stalled"}, status_code=504)
        return JSONResponse({"error": {"message": "scripted failure"}}, status_code=int(value))


# -- OpenAI ------------------------------------------------------------------------------------

# Deterministic "semantic" embeddings: texts about the same theme share a direction.
THEMES = {
    "work": 0,
    "deadline": 0,
    "boss": 0,
    "stress": 0,
    "sleep": 1,
    "tired": 1,
    "exhaust": 1,
    "insomnia": 1,
}


def theme_vector(text: str) -> list[float]:
    vector = [0.0, 0.0, 0.1]
    for word, axis in THEMES.items():
        if word in text.lower():
            vector[axis] += 1.0
    return vector


def openai_app(upstream: Upstream) -> Starlette:
    async def chat(request: Request) -> Response:
        body = await request.json()
        upstream.record("chat", body)
        failure = await upstream.scripted_failure("chat")
        if failure is not None:
            return failure
        system = body["messages"][0]["content"]
        content: dict[str, Any]
        if "knowledge graph" in system:
            content = {
                "entities": [
                    {"type": "topic", "label": "Work deadlines", "context": "deadlines at work"},
                    {"type": "emotion", "label": "stress", "context": "stressed at work"},
                    {"type": "topic", "label": "sleep", "context": "cannot sleep"},
                ]
            }
        else:
            content = {
                "keyTopics": ["work deadlines"],
                "emotionalThemes": ["stress"],
                "insights": ["LLM insight"],
                "recommendations": ["LLM advice"],
                "progressNotes": [],
            }
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": json.dumps(content)},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    async def embeddings(request: Request) -> Response:
        body = await request.json()
        upstream.record("embeddings", body)
        failure = await upstream.scripted_failure("embeddings")
        if failure is not None:
            return failure
        return JSONResponse(
            {
                "object": "list",
                "model": body["model"],
                "data": [
                    {"object": "embedding", "index": index, "embedding": theme_vector(text)}
                    for index, text in enumerate(body["input"])
                ],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
        ]
    )


# -- Hume ----------------------------------------------------------------------------------------
# Everything Hume sends or answers here is built from the `hume` SDK's own pydantic models (the
# pinned version), and every request body the fake receives is checked against the SDK's request
# types with unknown keys refused: the fake can only agree with what Hume's SDK agrees with.


def hume_json(model: BaseModel) -> dict[str, Any]:
    """A Hume SDK model as Hume puts it on the wire (JSON, field aliases)."""
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def chat_started(
    chat_id: str,
    chat_group_id: str,
    *,
    start_ms: int,
    custom_session_id: str | None = None,
    start_type: str = "new_chat_group",
) -> WebhookEventChatStarted:
    return WebhookEventChatStarted(
        event_name="chat_started",
        chat_id=chat_id,
        chat_group_id=chat_group_id,
        config_id="cfg-1",
        chat_start_type=start_type,
        start_time=start_ms,
        custom_session_id=custom_session_id,
    )


def chat_ended(
    chat_id: str,
    chat_group_id: str,
    *,
    end_ms: int,
    duration_seconds: int,
    end_reason: str = "USER_ENDED",
    custom_session_id: str | None = None,
) -> WebhookEventChatEnded:
    return WebhookEventChatEnded(
        event_name="chat_ended",
        chat_id=chat_id,
        chat_group_id=chat_group_id,
        config_id="cfg-1",
        end_time=end_ms,
        duration_seconds=duration_seconds,
        end_reason=end_reason,
        custom_session_id=custom_session_id,
    )


def tool_call_message(
    tool_call_id: str,
    name: str = "save_session_note",
    parameters: dict[str, Any] | None = None,
    *,
    custom_session_id: str | None = None,
) -> ToolCallMessage:
    return ToolCallMessage(
        tool_call_id=tool_call_id,
        name=name,
        # Hume sends the arguments as a JSON string.
        parameters=json.dumps(
            parameters or {"content": "Sleep affects mood", "category": "insight"}
        ),
        response_required=True,
        tool_type="function",
        custom_session_id=custom_session_id,
    )


def tool_call(
    chat_id: str,
    chat_group_id: str,
    message: ToolCallMessage,
    *,
    at_ms: int,
    custom_session_id: str | None = None,
) -> WebhookEventToolCall:
    return WebhookEventToolCall(
        event_name="tool_call",
        chat_id=chat_id,
        chat_group_id=chat_group_id,
        config_id="cfg-1",
        timestamp=at_ms,
        tool_call_message=message,
        custom_session_id=custom_session_id,
    )


def signed_body(body: bytes, key: str, *, at: float | None = None) -> tuple[bytes, dict[str, str]]:
    """Hume's webhook signature: hex HMAC-SHA256 over `raw body + "." + timestamp`."""
    timestamp = str(int(time.time() if at is None else at))
    digest = hmac.new(key.encode(), body + b"." + timestamp.encode(), hashlib.sha256).hexdigest()
    return body, {
        "X-Hume-AI-Webhook-Signature": digest,
        "X-Hume-AI-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def signed_event(
    event: BaseModel, key: str, *, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    return signed_body(json.dumps(hume_json(event)).encode(), key, at=at)


# The SDK methods whose request bodies the fake accepts: their parameters are the body's keys and
# their annotations the types each value must validate against.
SDK_REQUESTS: dict[str, Callable[..., Any]] = {
    "create_tool": AsyncToolsClient.create_tool,
    "create_tool_version": AsyncToolsClient.create_tool_version,
    "create_config": AsyncConfigsClient.create_config,
    "create_config_version": AsyncConfigsClient.create_config_version,
}
NOT_IN_BODY = {"self", "id", "request_options", "return"}


def _unknown_keys(value: Any, where: str) -> list[str]:
    """Keys the SDK models let through (`extra="allow"`) but do not define."""
    if isinstance(value, BaseModel):
        found = [f"{where}.{key}" for key in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += _unknown_keys(getattr(value, name), f"{where}.{name}")
        return found
    if isinstance(value, list | tuple):
        return [
            item for index, v in enumerate(value) for item in _unknown_keys(v, f"{where}[{index}]")
        ]
    return []


def sdk_request_errors(operation: str, body: Any) -> list[str]:
    """Why `body` is not a request the SDK's `operation` could have sent (empty when it is)."""
    method = SDK_REQUESTS[operation]
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    hints = typing.get_type_hints(method)
    parameters = inspect.signature(method).parameters
    errors = [f"unknown key {key!r}" for key in body if key not in hints or key in NOT_IN_BODY]
    errors += [
        f"missing {name!r}"
        for name, parameter in parameters.items()
        if name not in NOT_IN_BODY
        and parameter.default is inspect.Parameter.empty
        and name not in body
    ]
    for key, value in body.items():
        if key in NOT_IN_BODY or key not in hints:
            continue
        try:
            parsed = TypeAdapter(hints[key]).validate_python(value)
        except ValidationError as error:
            errors.append(f"{key}: {error.error_count()} validation errors")
            continue
        errors += [f"unknown key {path!r}" for path in _unknown_keys(parsed, key)]
    return errors


@dataclass
class HumeState:
    """What the fake Hume account holds: tools and configs, every version of each."""

    tools: dict[str, list[ReturnUserDefinedTool]] = field(default_factory=dict)
    configs: dict[str, list[ReturnConfig]] = field(default_factory=dict)
    clock: int = 1_700_000_000_000

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def latest_tools(self) -> list[ReturnUserDefinedTool]:
        return [versions[-1] for versions in self.tools.values()]

    def latest_configs(self) -> list[ReturnConfig]:
        return [versions[-1] for versions in self.configs.values()]


def _page(items: list[Any], request: Request) -> tuple[list[Any], int, int, int]:
    number = int(request.query_params.get("page_number", "0"))
    size = int(request.query_params.get("page_size", "10"))
    total_pages = max(1, -(-len(items) // size))
    return items[number * size : (number + 1) * size], number, size, total_pages


def hume_app(
    upstream: Upstream, api_key: str, secret_key: str, state: HumeState | None = None
) -> Starlette:
    expected_auth = "Basic " + base64.b64encode(f"{api_key}:{secret_key}".encode()).decode()
    account = state if state is not None else HumeState()

    async def token(request: Request) -> Response:
        form = await request.form()
        upstream.record(
            "token",
            {
                "auth_ok": request.headers.get("authorization") == expected_auth,
                "grant_type": form.get("grant_type"),
            },
        )
        failure = await upstream.scripted_failure("token")
        if failure is not None:
            return failure
        if request.headers.get("authorization") != expected_auth:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse(
            {"access_token": "hume-browser-token", "expires_in": 1800, "token_type": "Bearer"}
        )

    async def checked(request: Request, operation: str) -> tuple[Any, Response | None]:
        if request.headers.get("x-hume-api-key") != api_key:
            return None, JSONResponse({"error": "invalid api key"}, status_code=401)
        body = await request.json()
        upstream.record(operation, body)
        errors = sdk_request_errors(operation, body)
        if errors:
            upstream.record("rejected", {"operation": operation, "errors": errors})
            return None, JSONResponse({"error": "; ".join(errors)}, status_code=400)
        return body, None

    def tool_version(tool_id: str, body: dict[str, Any], name: str) -> ReturnUserDefinedTool:
        versions = account.tools.setdefault(tool_id, [])
        now = account.tick()
        tool = ReturnUserDefinedTool(
            id=tool_id,
            name=name,
            version=len(versions),
            version_type="FIXED",
            tool_type="FUNCTION",
            parameters=body["parameters"],
            description=body.get("description"),
            fallback_content=body.get("fallback_content"),
            version_description=body.get("version_description"),
            created_on=versions[0].created_on if versions else now,
            modified_on=now,
        )
        versions.append(tool)
        return tool

    async def tools(request: Request) -> Response:
        if request.method == "GET":
            upstream.record("list_tools", dict(request.query_params))
            if request.headers.get("x-hume-api-key") != api_key:
                return JSONResponse({"error": "invalid api key"}, status_code=401)
            name = request.query_params.get("name")
            matching = [t for t in account.latest_tools() if name is None or name in t.name]
            items, number, size, total = _page(matching, request)
            paged = ReturnPagedUserDefinedTools(
                page_number=number, page_size=size, total_pages=total, tools_page=items
            )
            return JSONResponse(hume_json(paged))
        body, refused = await checked(request, "create_tool")
        if refused is not None:
            return refused
        if any(t.name == body["name"] for t in account.latest_tools()):
            # What Hume answers for a duplicate tool name.
            return JSONResponse({"error": "tool name already exists"}, status_code=409)
        tool = tool_version(f"tool-{len(account.tools) + 1}", body, body["name"])
        return JSONResponse(hume_json(tool), status_code=201)

    async def tool_versions(request: Request) -> Response:
        tool_id = request.path_params["tool_id"]
        body, refused = await checked(request, "create_tool_version")
        if refused is not None:
            return refused
        if tool_id not in account.tools:
            return JSONResponse({"error": "no such tool"}, status_code=404)
        tool = tool_version(tool_id, body, account.tools[tool_id][-1].name)
        return JSONResponse(hume_json(tool), status_code=201)

    def config_version(config_id: str, body: dict[str, Any], name: str) -> ReturnConfig:
        versions = account.configs.setdefault(config_id, [])
        now = account.tick()
        tools_by_id = {tool_id: v for tool_id, v in account.tools.items()}
        used = [
            tools_by_id[spec["id"]][spec["version"] if spec.get("version") is not None else -1]
            for spec in body.get("tools") or []
        ]
        prompt = body.get("prompt")
        config = ReturnConfig(
            id=config_id,
            name=name,
            version=len(versions),
            evi_version=body["evi_version"],
            created_on=versions[0].created_on if versions else now,
            modified_on=now,
            version_description=body.get("version_description"),
            language_model=ReturnLanguageModel(**body["language_model"])
            if body.get("language_model")
            else None,
            prompt=ReturnPrompt(
                id=f"prompt-{config_id}",
                name=f"{name} prompt",
                text=prompt["text"],
                version=len(versions),
                version_type="FIXED",
                created_on=now,
                modified_on=now,
            )
            if prompt
            else None,
            tools=used,
            webhooks=[ReturnWebhookSpec(**hook) for hook in body.get("webhooks") or []],
        )
        versions.append(config)
        return config

    async def configs(request: Request) -> Response:
        if request.method == "GET":
            upstream.record("list_configs", dict(request.query_params))
            if request.headers.get("x-hume-api-key") != api_key:
                return JSONResponse({"error": "invalid api key"}, status_code=401)
            name = request.query_params.get("name")
            matching = [
                c for c in account.latest_configs() if name is None or name in (c.name or "")
            ]
            items, number, size, total = _page(matching, request)
            paged = ReturnPagedConfigs(
                page_number=number, page_size=size, total_pages=total, configs_page=items
            )
            return JSONResponse(hume_json(paged))
        body, refused = await checked(request, "create_config")
        if refused is not None:
            return refused
        if any(c.name == body["name"] for c in account.latest_configs()):
            return JSONResponse({"error": "config name already exists"}, status_code=409)
        config = config_version(f"config-{len(account.configs) + 1}", body, body["name"])
        return JSONResponse(hume_json(config), status_code=201)

    async def config_versions(request: Request) -> Response:
        config_id = request.path_params["config_id"]
        body, refused = await checked(request, "create_config_version")
        if refused is not None:
            return refused
        if config_id not in account.configs:
            return JSONResponse({"error": "no such config"}, status_code=404)
        name = account.configs[config_id][-1].name or ""
        return JSONResponse(hume_json(config_version(config_id, body, name)), status_code=201)

    async def unexpected(request: Request) -> Response:
        # Any other Hume call (e.g. the control plane's /v0/evi/chat/{id}/send) is recorded, so a
        # test can assert that the backend never made it.
        upstream.record("unexpected", {"method": request.method, "path": request.url.path})
        return JSONResponse({"error": "not served by this fake"}, status_code=404)

    return Starlette(
        routes=[
            Route("/oauth2-cc/token", token, methods=["POST"]),
            Route("/v0/evi/tools", tools, methods=["GET", "POST"]),
            Route("/v0/evi/tools/{tool_id}", tool_versions, methods=["POST"]),
            Route("/v0/evi/configs", configs, methods=["GET", "POST"]),
            Route("/v0/evi/configs/{config_id}", config_versions, methods=["POST"]),
            Route("/{path:path}", unexpected, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    )


@asynccontextmanager
async def serve(app: Starlette, upstream: Upstream) -> AsyncIterator[Upstream]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=upstream.port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()  # surfaces a failed start
        return bool(server.started)

    await wait_for(started, within=10, interval=0.01)
    try:
        yield upstream
    finally:
        upstream.gate.set()
        server.should_exit = True
        await task


@contextmanager
def serve_in_thread(app: Starlette, upstream: Upstream) -> Iterator[Upstream]:
    """The same fake for synchronous (module-scoped) fixtures: its own loop in a thread."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=upstream.port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # a sync fixture: poll the flag with a deadline
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake upstream did not start")
        time.sleep(0.01)
    try:
        yield upstream
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# -- a backend wired to the fake Hume ------------------------------------------------------------

HUME_SIGNING_KEY = "webhook-signing-key-for-tests"
HUME_KEY = "hume-api-key-for-tests"
HUME_SECRET = "hume-secret-for-tests"


@dataclass
class Voice:
    """The app in-process, pointed at a fake Hume, with one therapist and an active session."""

    client: httpx.AsyncClient
    hume: Upstream
    therapist: Therapist
    session_id: str
    database: str


@asynccontextmanager
async def voice_backend(migrated_url: str) -> AsyncIterator[Voice]:
    upstream = Upstream()
    async with serve(hume_app(upstream, HUME_KEY, HUME_SECRET), upstream):
        settings = make_settings(
            migrated_url,
            hume_webhook_signing_key=HUME_SIGNING_KEY,
            hume_api_key=HUME_KEY,
            hume_secret_key=HUME_SECRET,
            hume_base_url=upstream.url,
            hume_config_id="cfg-1",
        )
        async with api_client(settings) as client:
            therapist = await register_therapist(client)
            patient = await create_patient(client, therapist)
            session = await start_session(client, therapist, patient["id"])
            yield Voice(client, upstream, therapist, session["id"], migrated_url.rsplit("/", 1)[1])
