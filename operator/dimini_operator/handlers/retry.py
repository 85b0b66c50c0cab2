"""Error classes of API calls: transient ones are retried here, permanent ones surface.

Transient: 409 Conflict (another writer in between), 429 Too Many Requests (API priority and
fairness), 5xx, timeouts and dropped connections. They say nothing about the stack, so they
must never reach its status: retried with exponential backoff, honouring Retry-After, and if
they persist the reconcile fails as a whole and the worker retries it later (status untouched).
Permanent (400/403/404/422, ...): the request itself is wrong; the stack is Stalled with it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx2
from lightkube import ApiError

from dimini_operator.metrics import API_RETRIES

T = TypeVar("T")

TRANSIENT_CODES = frozenset({409, 429, 500, 502, 503, 504})
ATTEMPTS = 5
BASE_DELAY = 0.2
MAX_DELAY = 10.0


class TransientError(Exception):
    """A call kept failing transiently: retry the reconcile later, leave the status alone."""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        # 409 AlreadyExists answers a create: a fact, not a race to retry.
        return exc.status.code in TRANSIENT_CODES and exc.status.reason != "AlreadyExists"
    if isinstance(exc, httpx2.HTTPStatusError):
        # lightkube makes an ApiError only of a JSON Status body; a proxy or load balancer in
        # front of the API server answers 429/503 in other forms, and they are as transient.
        return exc.response.status_code in TRANSIENT_CODES - {409}
    return isinstance(exc, httpx2.TransportError)  # timeouts, refused/reset connections


def retry_after(exc: BaseException) -> float | None:
    """The server's Retry-After in seconds (429/503 from API priority and fairness), if any."""
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return min(MAX_DELAY, max(0.0, float(value))) if value is not None else None
    except ValueError:  # an HTTP date: rare from the API server; fall back to backoff
        return None


async def with_retries(
    verb: str, kind: str, call: Callable[[], Awaitable[T]], *, attempts: int = ATTEMPTS
) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt == attempts:
                raise TransientError(f"{verb} {kind}: {_describe(exc)}") from exc
            API_RETRIES.labels(verb, kind).inc()
            delay = retry_after(exc)
            if delay is None:
                delay = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.status.code} {exc.status.reason}: {exc.status.message}"
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"{type(exc).__name__} {exc.response.status_code}"
    return type(exc).__name__
