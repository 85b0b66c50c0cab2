"""Property-based run over the OpenAPI: no 5xx and every response conforms to the schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.backend.fakes import Upstream, hume_app, serve_in_thread
from tests.backend.helpers import PASSWORD, BackendProcess, backend_env, start_backend


@pytest.fixture(scope="module")
def fuzz_backend(
    migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BackendProcess]:
    log = tmp_path_factory.mktemp("schemathesis") / "backend.log"
    upstream = Upstream()
    # A local fake Hume, so /api/hume/token answers 200 instead of "not configured" (503).
    with serve_in_thread(hume_app(upstream, "fuzz-hume-key", "fuzz-hume-secret"), upstream):
        env = backend_env(
            migrated_url,
            HUME_API_KEY="fuzz-hume-key",
            HUME_SECRET_KEY="fuzz-hume-secret",
            HUME_BASE_URL=upstream.url,
            ENVIRONMENT="development",  # serves /openapi.json
        )
        process = start_backend(env, log)
        yield process
        process.stop()


@pytest.fixture(scope="module")
def fuzz_headers(fuzz_backend: BackendProcess) -> dict[str, str]:
    """A therapist with a patient and an active session, so authenticated routes get exercised."""
    with httpx.Client(base_url=fuzz_backend.url) as client:
        email = "fuzz@example.org"
        client.post(
            "/api/auth/register", json={"email": email, "name": "Fuzz", "password": PASSWORD}
        )
        token = client.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "accessToken"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        patient = client.post("/api/patients", json={"name": "Fuzzed"}, headers=headers).json()
        client.post("/api/sessions/start", json={"patientId": patient["id"]}, headers=headers)
    return headers


@pytest.fixture(scope="module")
def api_schema(fuzz_backend: BackendProcess) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_backend.url}/openapi.json")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 6
# Logout would revoke the shared token and turn the rest of the run into 401s.
NOT_FUZZED = {("POST", "/api/auth/logout")}


def _exercise(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid-input", "invalid-input"]
)
def test_api_conforms_to_its_openapi(
    api_schema: Any,
    fuzz_backend: BackendProcess,
    fuzz_headers: dict[str, str],
    mode: GenerationMode,
) -> None:
    failures: list[str] = []
    exercised = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in NOT_FUZZED:
            continue
        exercised += 1
        try:
            _exercise(operation, mode, fuzz_backend.url, fuzz_headers)
        except Unsatisfiable:
            continue  # no parameters to make invalid (e.g. GET /health in negative mode)
        except Exception as failure:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    assert exercised >= 20
    assert not failures, "\n\n".join(failures)
