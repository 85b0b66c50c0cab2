"""A blocking facade over python-socketio's AsyncClient, for plain (sync) pytest functions.

The sync `socketio.Client` needs the `websocket-client` package, which the venv does not ship;
the async client speaks WebSocket through aiohttp, which it does. So the async client runs on an
event loop in a daemon thread and callers block on futures and a condition instead.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

import socketio

T = TypeVar("T")


class RealtimeError(AssertionError):
    """The server refused a join, or an expected event did not arrive in time."""


class RealtimeSession:
    """One Socket.IO connection over a WebSocket only, recording every event it receives.

    WebSocket only (no long-polling fallback), so a connection proves that whatever sits in front
    of the backend (the Ingress) upgrades the request. `host` is sent as the Host header because
    the Ingress routes on it and tests cannot rely on DNS for `*.localhost`.
    """

    def __init__(
        self,
        base_url: str,
        host: str,
        token: str,
        *,
        timeout: float = 10.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._base_url = base_url
        self._tls = tls
        self._host = host
        self._token = token
        self._timeout = timeout
        self._events: list[tuple[str, Any]] = []
        self._arrived = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="dimini-realtime", daemon=True
        )
        self._client: Any = None

    def connect(self) -> None:
        self._thread.start()
        try:
            self._run(self._connect())
        except BaseException:
            self._shutdown_loop()
            raise

    async def _connect(self) -> None:
        # Created on the loop's own thread: aiohttp binds its session to the running loop.
        # With TLS: verify against `tls` and send the host as SNI (aiohttp's ws_connect options).
        extra = {"ssl": self._tls, "server_hostname": self._host} if self._tls else None
        self._client = socketio.AsyncClient(reconnection=False, websocket_extra_options=extra)
        self._client.on("*", self._record)
        await self._client.connect(
            self._base_url,
            headers={"Host": self._host},
            auth={"token": self._token},
            transports=["websocket"],
            wait_timeout=self._timeout,
        )

    async def _record(self, event: str, data: Any = None) -> None:
        with self._arrived:
            self._events.append((event, data))
            self._arrived.notify_all()

    def join_session(self, session_id: str) -> dict[str, Any]:
        """Joins the room `session:{id}`; returns the server's acknowledgement."""
        ack = self._run(
            self._client.call("join_session", {"sessionId": session_id}, timeout=self._timeout)
        )
        if not isinstance(ack, dict) or ack.get("ok") is not True:
            raise RealtimeError(f"join_session {session_id} refused: {ack!r}")
        return ack

    def received(self, event: str) -> list[Any]:
        with self._arrived:
            return [data for name, data in self._events if name == event]

    def wait_for(
        self,
        event: str,
        timeout: float = 15.0,
        where: Callable[[Any], bool] = lambda _payload: True,
    ) -> Any:
        """The first payload of `event` received since connecting that satisfies `where`."""

        def first() -> list[Any]:
            return [data for name, data in self._events if name == event and where(data)][:1]

        with self._arrived:
            found = self._arrived.wait_for(first, timeout=timeout)
            if not found:
                seen = [name for name, _ in self._events]
                raise RealtimeError(f"no {event!r} within {timeout}s; received: {seen}")
            return found[0]

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            if self._client is not None:
                self._run(self._client.disconnect())
        finally:
            self._shutdown_loop()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        # Connect and call have their own timeouts; this bound only catches a wedged loop.
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(
            timeout=self._timeout * 3
        )

    def _shutdown_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=self._timeout)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> RealtimeSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
