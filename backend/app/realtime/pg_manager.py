"""A python-socketio client manager over Postgres LISTEN/NOTIFY.

Every emit is published with NOTIFY on one channel; every backend process LISTENs and delivers the
messages addressed to its own clients. Postgres caps a NOTIFY payload at 8000 bytes, so a larger
message is stored in `realtime_payloads` and only its id travels through NOTIFY.

Publishing draws from a small pool with a timeout on every step and no global lock: a connection
that stalls (a frozen network path) fails its own attempt and is discarded, and other publishes go
on through fresh connections.

The listening connection reconnects with backoff after Postgres restarts. Messages published while
a process is disconnected from Postgres are not delivered to it; clients resynchronise with
`graph_state` when they rejoin a session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from socketio.async_pubsub_manager import AsyncPubSubManager

logger = logging.getLogger(__name__)

NOTIFY_LIMIT_BYTES = 7900
REFERENCE_PREFIX = "ref:"
PAYLOAD_RETENTION = timedelta(minutes=5)
LISTENER_PING_SECONDS = 10.0
CLOSE_TIMEOUT_SECONDS = 5.0
RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
PUBLISH_POOL_SIZE = 4
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


class PostgresPubSubManager(AsyncPubSubManager):  # type: ignore[misc]
    name = "postgres"

    def __init__(
        self,
        dsn: str,
        channel: str = "dimini_socketio",
        write_only: bool = False,
        connect_timeout: float = 5.0,
        publish_timeout: float = 2.0,
    ) -> None:
        super().__init__(channel=channel, write_only=write_only, logger=logger)
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._publish_timeout = publish_timeout
        self._listener: asyncpg.Connection | None = None
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()  # guards creating the pool only, never a publish
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Starts listening now (python-socketio would wait for the first client otherwise)."""
        if self.write_only:
            return
        await self._connect_listener_with_retry()
        self.server.manager_initialized = True
        self.initialize()

    async def close(self) -> None:
        self._closing = True
        thread = getattr(self, "thread", None)
        if thread is not None:
            thread.cancel()
            # Bounded: a cancellation swallowed by wait_for (a Python 3.11 race) cannot hang
            # shutdown; the closing flag parks the listener anyway.
            await asyncio.wait({thread}, timeout=CLOSE_TIMEOUT_SECONDS)
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close(timeout=2)
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), CLOSE_TIMEOUT_SECONDS)
            except TimeoutError:
                self._pool.terminate()  # a stalled connection must not hang shutdown
        self._listener = self._pool = None

    # -- disconnecting a room everywhere -------------------------------------------------------

    async def disconnect_room(self, room: str, namespace: str) -> None:
        """Disconnects every socket in `room`, here and in every other process. Carried as a
        `close_room` message with a flag, so processes without this code just close the room."""
        await self._disconnect_local(room, namespace)
        await self._publish(
            {
                "method": "close_room",
                "room": room,
                "namespace": namespace,
                "disconnect": True,
                "host_id": self.host_id,
            }
        )

    async def _disconnect_local(self, room: str, namespace: str) -> None:
        for sid, _ in list(self.get_participants(namespace, room)):
            await self.server.disconnect(sid, namespace=namespace, ignore_queue=True)

    async def _handle_close_room(self, message: dict[str, Any]) -> None:
        if message.get("disconnect"):
            await self._disconnect_local(str(message.get("room")), str(message.get("namespace")))
        else:
            await super()._handle_close_room(message)

    # -- publishing --------------------------------------------------------------------------

    async def _publish(self, data: Any) -> None:
        payload: str = self.json.dumps(data)
        for attempt in (1, 2):
            try:
                await self._publish_once(payload)
                return
            except DB_ERRORS:
                # The failed connection was discarded; the retry gets a fresh one.
                if attempt == 2:
                    raise

    async def _publish_once(self, payload: str) -> None:
        pool = await self._publisher_pool()
        timeout = self._publish_timeout
        async with pool.acquire(timeout=timeout) as connection:
            try:
                if len(payload.encode()) > NOTIFY_LIMIT_BYTES:
                    payload_id = await connection.fetchval(
                        "INSERT INTO realtime_payloads (payload) VALUES ($1) RETURNING id",
                        payload,
                        timeout=timeout,
                    )
                    await connection.execute(
                        "DELETE FROM realtime_payloads WHERE created_at < now() - $1::interval",
                        PAYLOAD_RETENTION,
                        timeout=timeout,
                    )
                    message = f"{REFERENCE_PREFIX}{payload_id}"
                else:
                    message = payload
                await connection.execute(
                    "SELECT pg_notify($1, $2)", self.channel, message, timeout=timeout
                )
            except DB_ERRORS:
                # Terminate rather than let the pool reset it: a reset on a stalled
                # connection would hang the release.
                connection.terminate()
                raise

    async def _publisher_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=0,
                        max_size=PUBLISH_POOL_SIZE,
                        timeout=self._connect_timeout,
                    )
        return self._pool

    # -- listening ---------------------------------------------------------------------------

    def _on_notify(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self._inbox.put_nowait(payload)

    def _on_lost(self, connection: Any) -> None:
        self._inbox.put_nowait(None)  # wakes the listener so it reconnects

    async def _connect_listener(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
        connection.add_termination_listener(self._on_lost)
        await connection.add_listener(self.channel, self._on_notify)
        self._listener = connection

    async def _connect_listener_with_retry(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                await self._connect_listener()
                if attempt:
                    logger.info("realtime listener reconnected")
                return
            except DB_ERRORS:
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                if attempt == 0:
                    logger.warning("realtime listener cannot reach Postgres; retrying")
                attempt += 1
                await asyncio.sleep(delay)

    async def _listener_alive(self) -> bool:
        listener = self._listener
        if listener is None or listener.is_closed():
            return False
        try:
            await listener.execute("SELECT 1", timeout=self._connect_timeout)
            return True
        except DB_ERRORS:
            return False

    async def _resolve(self, message: str) -> str | None:
        if not message.startswith(REFERENCE_PREFIX):
            return message
        try:
            pool = await self._publisher_pool()
            payload: str | None = await pool.fetchval(
                "SELECT payload FROM realtime_payloads WHERE id = $1",
                int(message.removeprefix(REFERENCE_PREFIX)),
                timeout=self._publish_timeout,
            )
            return payload
        except (ValueError, *DB_ERRORS):
            logger.warning("could not load a large realtime payload")
            return None

    async def _listen(self) -> AsyncIterator[str]:
        while True:
            if self._closing:
                # Park until cancelled: returning would be logged as an unexpected exit.
                await asyncio.Event().wait()
            if self._listener is None or self._listener.is_closed():
                self._listener = None
                await self._connect_listener_with_retry()
                continue
            try:
                message = await asyncio.wait_for(self._inbox.get(), LISTENER_PING_SECONDS)
            except TimeoutError:
                # Quiet channel: make sure the connection is still there (half-open sockets).
                if not await self._listener_alive():
                    self._discard_listener()
                continue
            if message is None:
                self._discard_listener()
                continue
            resolved = await self._resolve(message)
            if resolved is not None:
                yield resolved

    def _discard_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            self._listener.terminate()
        self._listener = None
