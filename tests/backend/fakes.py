"""Local stand-ins for OpenAI and Hume, served by uvicorn on a free port in the test's loop.

Each keeps the requests it received and can be told to fail or stall the next calls, so the real
`openai` and `hume` clients (and their retries) are exercised without network access.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.backend.helpers import wait_for
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


def hume_app(upstream: Upstream, api_key: str, secret_key: str) -> Starlette:
    expected_auth = "Basic " + base64.b64encode(f"{api_key}:{secret_key}".encode()).decode()

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

    async def send(request: Request) -> Response:
        upstream.record(
            "send",
            {
                "chat_id": request.path_params["chat_id"],
                "api_key": request.headers.get("x-hume-api-key"),
                "body": await request.json(),
            },
        )
        failure = await upstream.scripted_failure("send")
        if failure is not None:
            return failure
        return Response(status_code=200)

    async def create_tool(request: Request) -> Response:
        body = await request.json()
        upstream.record("tools", body)
        return JSONResponse(
            {
                "tool_type": "FUNCTION",
                "id": f"tool-{body['name']}",
                "version": 0,
                "version_type": "FIXED",
                "name": body["name"],
                "created_on": 0,
                "modified_on": 0,
                "parameters": body["parameters"],
            }
        )

    async def create_config(request: Request) -> Response:
        upstream.record("configs", await request.json())
        return JSONResponse({"id": "config-123", "version": 0, "name": "Dimini voice agent"})

    return Starlette(
        routes=[
            Route("/oauth2-cc/token", token, methods=["POST"]),
            Route("/v0/evi/chat/{chat_id}/send", send, methods=["POST"]),
            Route("/v0/evi/tools", create_tool, methods=["POST"]),
            Route("/v0/evi/configs", create_config, methods=["POST"]),
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
