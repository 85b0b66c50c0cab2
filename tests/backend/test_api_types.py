"""The frontend's generated contract (frontend/src/lib/generated/*.json) matches the backend:
the REST OpenAPI and the Socket.IO events. The TypeScript's own drift check is a frontend unit
test (src/lib/generated/apiTypes.test.ts)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack"))

import api_types  # noqa: E402


def test_the_committed_contract_matches_the_backend() -> None:
    stale = api_types.drifted()
    assert not stale, (
        f"{[str(p.relative_to(REPO)) for p in stale]} out of date: "
        "run `python hack/api_types.py generate` and commit the result"
    )


def test_a_changed_openapi_without_regenerating_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "generated"
    shutil.copytree(api_types.GENERATED, copy)
    monkeypatch.setattr(api_types, "OPENAPI_FILE", copy / "openapi.json")
    monkeypatch.setattr(api_types, "EVENTS_FILE", copy / "socket-events.json")
    assert api_types.drifted() == []
    # The committed document as it was before a route was added: the check must name it.
    document = json.loads((copy / "openapi.json").read_text())
    del document["paths"]["/api/search"]
    (copy / "openapi.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    assert api_types.drifted() == [copy / "openapi.json"]
    assert api_types.main(["api_types.py", "check"]) == 1


def test_every_event_the_backend_emits_is_declared() -> None:
    from app.schemas.events import SERVER_EVENTS

    events = json.loads(api_types.EVENTS_FILE.read_text())["components"]["schemas"]
    names = sorted(events["ServerToClientEvents"]["properties"])
    assert names == sorted(model.name for model in SERVER_EVENTS)
    assert len(set(names)) == len(names)
    # Nothing in app/ emits by a bare name: `Broadcaster.emit_to_session` takes a model (mypy
    # checks it), and the Socket.IO server's own emits use the models' names.
    bare = [
        str(path.relative_to(REPO))
        for path in (REPO / "backend" / "app").rglob("*.py")
        if re.search(r"\.emit\(\s*['\"]", path.read_text())
    ]
    assert bare == []


def test_every_operation_with_a_body_documents_the_body_limit() -> None:
    # The body limit (MAX_REQUEST_BODY_BYTES) answers 413 in front of every route; schemathesis
    # found it undocumented with a 1 MB clinical note.
    paths = api_types.rest_openapi()["paths"]
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "requestBody" in operation and "413" not in operation["responses"]
    ]
    assert undocumented == []
