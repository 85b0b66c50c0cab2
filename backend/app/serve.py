"""`python -m app.serve`: the production entry point.

Validates settings before anything starts (a bad setting exits with status 2 and names it), sets
up Prometheus multiprocess mode for several workers, and runs uvicorn with WEB_CONCURRENCY workers,
proxy headers and a graceful-shutdown window.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import uvicorn

from app.core.config import load_settings_or_exit

GRACEFUL_SHUTDOWN_SECONDS = 20


def main() -> None:
    settings = load_settings_or_exit()
    if settings.web_concurrency > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers inherit this before they import prometheus-client.
        metrics_dir = tempfile.mkdtemp(prefix="dimini-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "app.main:socket_app",
            host=os.environ.get("HOST", "0.0.0.0"),  # noqa: S104 (a container listens on all)
            port=int(os.environ.get("PORT", "8000")),
            workers=settings.web_concurrency,
            proxy_headers=True,
            # Only these peers may name the client (rate limits and lockout key on it).
            forwarded_allow_ips=settings.forwarded_allow_ips,
            log_config=None,  # the app installs JSON logging with secret redaction
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            timeout_keep_alive=settings.keep_alive_seconds,
        )
    finally:
        metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
        if metrics_dir.startswith(tempfile.gettempdir()):
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
