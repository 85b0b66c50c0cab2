"""Waiting for a condition: the one poll loop the tests use (never a bare sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.2) -> T:
    """Poll `check` until it returns something truthy and return it; fail after `timeout` s.

    An exception counts as "not yet" (a transient API or connection error): a condition that
    must hold on every poll is recorded by the check and asserted after the wait.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
        except Exception as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what} (last: {last!r})")
        time.sleep(interval)


def holds_for(what: str, check: Callable[[], bool], seconds: float, interval: float = 0.25) -> None:
    """Assert that `check` stays true during an observation window of `seconds`. The pause
    between polls is the point here: there is no condition to wait for, only time to pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), f"stopped holding: {what}"
        time.sleep(interval)
