"""A fault-injecting HTTP proxy in front of the sandbox's API server (issue 14, acceptance 5).

Clients speak plain HTTP to 127.0.0.1:<port>, unauthenticated (a test-only loopback listener);
the proxy forwards over TLS with the kubeconfig's client certificate, streaming responses (so
watches work), and answers a fraction of the non-watch requests itself with 429 + Retry-After
or 503, as an overloaded API server or an aggregated API does. `kubeconfig()` writes a
kubeconfig pointing at it.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from tests.support.ports import free_port

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}


class FaultProxy:
    def __init__(self, kubeconfig: Path, fraction: float, seed: int = 14) -> None:
        cfg = yaml.safe_load(kubeconfig.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        self.upstream = cluster["server"].rstrip("/")
        self.ssl = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.ssl.load_cert_chain(user["client-certificate"], user["client-key"])
        self.fraction = fraction
        self.random = random.Random(seed)  # reproducible fault pattern
        self.port = free_port()
        self.injected: Counter[int] = Counter()
        self.forwarded = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "faulty", "cluster": {"server": f"http://127.0.0.1:{self.port}"}}
                    ],
                    "users": [{"name": "anyone", "user": {}}],
                    "contexts": [
                        {"name": "faulty", "context": {"cluster": "faulty", "user": "anyone"}}
                    ],
                    "current-context": "faulty",
                }
            )
        )
        return path

    def start(self) -> FaultProxy:
        self._thread.start()
        if not self._started.wait(15):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            # The upstream session first: it ends the streamed watches the handlers are in.
            await self.session.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._started.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        self.session = ClientSession(
            connector=TCPConnector(ssl=self.ssl, limit=100),
            timeout=ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        watch = request.query.get("watch") in ("true", "1")
        if not watch and self.random.random() < self.fraction:
            code = self.random.choice((429, 503))
            self.injected[code] += 1
            status: dict[str, Any] = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "code": code,
                "reason": "TooManyRequests" if code == 429 else "ServiceUnavailable",
                "message": "injected by tests/support/faultproxy.py",
            }
            headers = {"Retry-After": "1"} if code == 429 else {}
            # Exactly the API server's content type: lightkube turns only that into ApiError.
            return web.Response(
                body=json.dumps(status).encode(),
                status=code,
                headers={**headers, "Content-Type": "application/json"},
            )
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        async with self.session.request(
            request.method,
            self.upstream + request.rel_url.raw_path_qs,
            headers=headers,
            data=body or None,  # an empty body would get a Content-Type the API server refuses
            skip_auto_headers=("Content-Type", "Accept-Encoding", "User-Agent"),
        ) as upstream:
            self.forwarded += 1
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in HOP},
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
