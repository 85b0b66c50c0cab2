"""Stopping a server process a test started."""

from __future__ import annotations

import signal
import subprocess


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str], grace: float = 30) -> None:
    """SIGTERM (a graceful shutdown, the lifespan's included), then SIGKILL after `grace`
    seconds: a server that hangs on shutdown must not hang the test session with it."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
