"""The frontend image's standalone Next server answers HTTP as the image's `node` user (1000)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from tests.images import runc
from tests.support.ports import free_port
from tests.support.waiting import wait_for


def _get(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback http
            return response.status, response.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_standalone_server_serves_pages(frontend_image: str, tmp_path: Path) -> None:
    port = free_port()
    with runc.run(
        frontend_image,
        tmp_path,
        user=(1000, 1000),
        env={"PORT": str(port), "HOSTNAME": "127.0.0.1"},
    ) as server:
        url = f"http://127.0.0.1:{port}/about"

        def answers() -> bool:
            if server.process.poll() is not None:
                raise AssertionError(f"the server exited:\n{server.output()}")
            return _get(url) is not None

        wait_for(f"the frontend on {url}", answers, 60)
        answer = _get(url)
        assert answer is not None
        status, body = answer
        assert status == 200
        assert "<html" in body.lower()
        assert server.stop() in (0, 143), server.output()  # exits on SIGTERM
