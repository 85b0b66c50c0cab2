"""Progress lines on stderr with timings: cold builds take minutes, so say what is happening."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def say(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


@contextmanager
def step(what: str) -> Iterator[None]:
    """Print `what ...` now and `what: done in N s` (or failed) when the block ends."""
    say(f"{what} ...")
    start = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"{what}: FAILED after {time.monotonic() - start:.1f} s")
        raise
    say(f"{what}: done in {time.monotonic() - start:.1f} s")
