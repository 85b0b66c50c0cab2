"""Error classes at the transport: transient API errors are retried (Retry-After honoured),
permanent ones surface at once. The double replaces only the HTTP transport under lightkube and
answers in the API server's own shapes (metav1.Status bodies, Retry-After headers)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from dimini_operator.handlers import retry
from dimini_operator.handlers.kube import Kube
from dimini_operator.handlers.retry import TransientError
from lightkube import ApiError, AsyncClient
from lightkube.config.kubeconfig import KubeConfig

CONFIG = KubeConfig.from_dict(
    {
        "clusters": [{"name": "c", "cluster": {"server": "http://api.test"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
)
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "s", "namespace": "ns", "resourceVersion": "7"},
    "spec": {"ports": [{"port": 80}]},
}


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class Script:
    """Answers requests from a list of (code, body, headers); records what was asked."""

    def __init__(self, *answers: tuple[int, dict[str, Any], dict[str, str]]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        code, body, headers = self.answers.pop(0)
        return httpx2.Response(
            code,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **headers},
        )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    # Record the backoff instead of waiting it out.
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    yield slept


def kube(script: Script) -> Kube:
    return Kube(AsyncClient(CONFIG, transport=httpx2.MockTransport(script)))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_429_and_503_are_retried_honouring_retry_after(sleeps: list[float]) -> None:
    script = Script(
        (
            429,
            status(429, "TooManyRequests", "too many requests", retryAfterSeconds=3),
            {"Retry-After": "3"},
        ),
        (503, status(503, "ServiceUnavailable", "the server is currently unable"), {}),
        (200, SERVICE, {}),
    )
    got = run(kube(script).apply({**SERVICE, "metadata": {"name": "s", "namespace": "ns"}}))
    assert got["metadata"]["resourceVersion"] == "7"
    assert len(script.requests) == 3
    assert sleeps[0] == 3.0  # the server's Retry-After, not the backoff
    assert 0 < sleeps[1] <= 1.0


def test_conflict_and_timeouts_are_transient(sleeps: list[float]) -> None:
    calls = {"n": 0}

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx2.ReadTimeout("timed out", request=request)
        if calls["n"] == 2:
            body = status(409, "Conflict", "the object has been modified")
            return httpx2.Response(409, json=body)
        return httpx2.Response(200, json=SERVICE)

    k = Kube(AsyncClient(CONFIG, transport=httpx2.MockTransport(handler)))
    assert run(k.get("v1", "Service", "s", "ns"))["metadata"]["name"] == "s"
    assert calls["n"] == 3 and len(sleeps) == 2


def test_persistent_transient_errors_give_up_as_transient(sleeps: list[float]) -> None:
    busy: tuple[int, dict[str, Any], dict[str, str]] = (
        503,
        status(503, "ServiceUnavailable", "etcd leader changed"),
        {},
    )
    script = Script(*[busy] * retry.ATTEMPTS)
    with pytest.raises(TransientError, match="503"):
        run(kube(script).get("v1", "Service", "s", "ns"))
    assert len(script.requests) == retry.ATTEMPTS


@pytest.mark.parametrize(
    ("code", "reason"), [(422, "Invalid"), (403, "Forbidden"), (409, "AlreadyExists")]
)
def test_permanent_errors_surface_at_once(sleeps: list[float], code: int, reason: str) -> None:
    script = Script((code, status(code, reason, f"{reason.lower()} thing"), {}))
    with pytest.raises(ApiError) as info:
        run(kube(script).create({**SERVICE, "metadata": {"name": "s", "namespace": "ns"}}))
    assert info.value.status.code == code
    assert len(script.requests) == 1 and sleeps == []


@pytest.mark.parametrize("typed", [False, True])
def test_create_sends_the_manifest_with_generic_or_typed_models(
    monkeypatch: pytest.MonkeyPatch, typed: bool
) -> None:
    # lightkube allows one class per kind in a process; when another import registered its typed
    # model first, Kube uses that class and must still send the whole manifest.
    from dimini_operator.handlers import kube as kube_mod
    from lightkube.resources.core_v1 import Service

    if typed:
        monkeypatch.setitem(kube_mod._GENERIC, ("v1", "Service"), Service)
    script = Script((201, SERVICE, {}))
    got = run(kube(script).create({**SERVICE, "metadata": {"name": "s", "namespace": "ns"}}))
    assert got["metadata"]["resourceVersion"] == "7"
    sent = json.loads(script.requests[0].content)
    assert sent["metadata"] == {"name": "s", "namespace": "ns"}
    assert sent["spec"]["ports"][0]["port"] == 80
    assert script.requests[0].url.path == "/api/v1/namespaces/ns/services"


@pytest.mark.parametrize("code", [429, 503])
def test_a_non_status_429_or_503_is_transient_too(code: int) -> None:
    # What a proxy or load balancer in front of the API server answers (found by the fault
    # proxy of tests/operator/integration/test_faults.py): lightkube raises no ApiError for it.
    request = httpx2.Request("GET", "http://api/x")
    response = httpx2.Response(code, headers={"Retry-After": "1"}, request=request, text="busy")
    exc = httpx2.HTTPStatusError("busy", request=request, response=response)
    assert retry.is_transient(exc)
    assert retry.retry_after(exc) == 1.0
    not_found = httpx2.Response(404, request=request)
    assert not retry.is_transient(httpx2.HTTPStatusError("x", request=request, response=not_found))
