"""The frontend's API contract, derived from the backend; generate it, or check it has not drifted.

    python hack/api_types.py generate   # rewrite both JSON documents and their TypeScript
    python hack/api_types.py check      # exit 1, naming each file, when a JSON document differs

Sources of truth: the REST API is `create_app(settings).openapi()` (FastAPI, from the routes and
pydantic schemas; /openapi.json itself is only served in development); the Socket.IO events are
`app.schemas.events.SERVER_EVENTS` and `CLIENT_EVENTS`. Generated, in frontend/src/lib/generated/:
  openapi.json          the REST OpenAPI document
  socket-events.json    an OpenAPI document whose schemas are every event's payload, plus
                        `ServerToClientEvents` and `ClientToServerEvents` (name -> payload)
  openapi.ts, socket-events.ts   openapi-typescript's types of each (frontend/scripts/api-types.mjs;
                        its own check runs in the frontend's unit tests)
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "frontend" / "src" / "lib" / "generated"
OPENAPI_FILE = GENERATED / "openapi.json"
EVENTS_FILE = GENERATED / "socket-events.json"


def rest_openapi() -> dict[str, Any]:
    from app.application import create_app
    from app.core.config import Settings

    # Placeholder settings: building the app opens no connection, and none of these values
    # appears in the document.
    settings = Settings(
        database_url="postgresql+asyncpg://openapi@localhost/openapi",
        secret_key="openapi-" + "x" * 32,
    )
    app, _ = create_app(settings)
    return app.openapi()


def _event_map(models: Sequence[type[Any]], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {
            model.name: {"$ref": f"#/components/schemas/{model.__name__}"} for model in models
        },
        "required": [model.name for model in models],
        "additionalProperties": False,
    }


def socket_events_openapi() -> dict[str, Any]:
    from app.schemas.events import CLIENT_EVENTS, SERVER_EVENTS
    from pydantic.json_schema import models_json_schema

    _, definitions = models_json_schema(
        [(model, "serialization") for model in SERVER_EVENTS]
        + [(model, "validation") for model in CLIENT_EVENTS],
        ref_template="#/components/schemas/{model}",
        by_alias=True,
    )
    schemas: dict[str, Any] = definitions.get("$defs", {})
    schemas["ServerToClientEvents"] = _event_map(
        SERVER_EVENTS, "Every event the server emits, by name, with its payload."
    )
    schemas["ClientToServerEvents"] = _event_map(
        CLIENT_EVENTS, "Every event the browser emits, by name, with its payload."
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dimini Socket.IO events", "version": "1"},
        "paths": {},
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render() -> dict[Path, str]:
    """Every generated JSON document's path and the content it should have."""
    return {OPENAPI_FILE: _dump(rest_openapi()), EVENTS_FILE: _dump(socket_events_openapi())}


def drifted() -> list[Path]:
    return [
        path
        for path, content in render().items()
        if not path.exists() or path.read_text() != content
    ]


def main(argv: list[str]) -> int:
    if argv[1:] == ["generate"]:
        GENERATED.mkdir(parents=True, exist_ok=True)
        for path, content in render().items():
            path.write_text(content)
        # The TypeScript follows from the JSON with the pinned openapi-typescript.
        subprocess.run(
            ["node", "scripts/api-types.mjs", "generate"], cwd=REPO / "frontend", check=True
        )
        return 0
    if argv[1:] == ["check"]:
        stale = drifted()
        for path in stale:
            print(
                f"{path} is out of date: run `python hack/api_types.py generate`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
