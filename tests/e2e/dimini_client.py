"""A typed, synchronous client for Dimini as a browser or Hume would reach it: over HTTP only.

Every request goes to `base_url` (e.g. the Ingress' port on the host) with an explicit Host header,
because the Ingress routes on the host name and tests cannot rely on DNS for `*.localhost`.
Authentication is the Bearer path (no cookie, so no CSRF token is needed).
"""

from __future__ import annotations

import json
import ssl
import time
import uuid
from types import TracebackType
from typing import Any

import httpx
from app.services.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_for
from hume.empathic_voice import ToolCallMessage, WebhookEventToolCall

from tests.e2e.realtime import RealtimeSession

JsonObject = dict[str, Any]


class DiminiApiError(AssertionError):
    """A response with another status than the call expects; carries the response for asserts."""

    def __init__(self, response: httpx.Response, expected: int) -> None:
        request = response.request
        super().__init__(
            f"{request.method} {request.url.path}: expected {expected}, "
            f"got {response.status_code}: {response.text[:500]}"
        )
        self.response = response


class _SniTransport(httpx.HTTPTransport):
    """Connects to the URL's address but names `host` in TLS (SNI, certificate check): the
    ingress picks the stack's certificate by SNI, and `*.localhost` need not resolve here."""

    def __init__(self, host: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._host = host

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions = {**request.extensions, "sni_hostname": self._host}
        return super().handle_request(request)


class DiminiClient:
    def __init__(
        self,
        base_url: str,
        host: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls`: reach an https `base_url` (e.g. https://127.0.0.1:18082) verifying the
        certificate of `host` with this context; `host` is sent as SNI as well as Host."""
        self.base_url = base_url
        self.host = host
        self.tls = tls
        self.token: str | None = None
        if tls is not None and transport is None:
            transport = _SniTransport(host, verify=tls)
        self._http = httpx.Client(
            base_url=base_url, headers={"Host": host}, timeout=timeout, transport=transport
        )

    # -- probes ---------------------------------------------------------------------------------

    def health(self) -> int:
        return self._http.get("/health").status_code

    def ready(self) -> int:
        return self._http.get("/ready").status_code

    def page(self, path: str = "/") -> httpx.Response:
        """A page of the web app (the frontend), as a browser would fetch it."""
        return self._http.get(path)

    # -- auth -----------------------------------------------------------------------------------

    def register(self, email: str, password: str, name: str) -> JsonObject:
        """The same answer whether or not the email was new (the API does not say)."""
        body = {"email": email, "password": password, "name": name}
        return self._json(self._http.post("/api/auth/register", json=body), 202)

    def login(self, email: str, password: str) -> str:
        """Logs in and uses the returned JWT as Bearer token for every later call."""
        response = self._http.post("/api/auth/login", json={"email": email, "password": password})
        # Login also sets the session cookie; dropping it keeps every request on the Bearer path,
        # where unsafe methods need no CSRF header.
        self._http.cookies.clear()
        token = self._json(response, 200)["accessToken"]
        assert isinstance(token, str)
        self.token = token
        return token

    def me(self) -> JsonObject:
        return self._json(self._http.get("/api/auth/me", headers=self._auth()), 200)

    # -- patients -------------------------------------------------------------------------------

    def create_patient(self, name: str, **fields: Any) -> JsonObject:
        """`fields` are further camelCase patient fields: email, phone, demographics."""
        response = self._http.post(
            "/api/patients", json={"name": name, **fields}, headers=self._auth()
        )
        return self._json(response, 201)

    def get_patient(self, patient_id: str) -> JsonObject:
        return self._json(self._http.get(f"/api/patients/{patient_id}", headers=self._auth()), 200)

    def list_patients(self, search: str | None = None) -> JsonObject:
        """A page: {items, total, page, pageSize}."""
        params = {"search": search} if search else None
        response = self._http.get("/api/patients", params=params, headers=self._auth())
        return self._json(response, 200)

    # -- sessions -------------------------------------------------------------------------------

    def start_session(self, patient_id: str) -> JsonObject:
        response = self._http.post(
            "/api/sessions/start", json={"patientId": patient_id}, headers=self._auth()
        )
        return self._json(response, 201)

    def post_transcript(self, session_id: str, text: str) -> JsonObject:
        """Accepted at once (202); the graph is built in the background, pushed over Socket.IO."""
        response = self._http.post(
            f"/api/sessions/{session_id}/transcript", json={"text": text}, headers=self._auth()
        )
        return self._json(response, 202)

    def end_session(self, session_id: str) -> JsonObject:
        response = self._http.post(f"/api/sessions/{session_id}/end", headers=self._auth())
        return self._json(response, 200)

    def session_notes(self, session_id: str) -> JsonObject:
        """A page of notes: {items, total, page, pageSize}."""
        response = self._http.get(f"/api/sessions/{session_id}/notes", headers=self._auth())
        return self._json(response, 200)

    # -- real time ------------------------------------------------------------------------------

    def realtime(self, session_id: str, *, timeout: float = 10.0) -> RealtimeSession:
        """A WebSocket-only Socket.IO connection, authenticated and joined to the session's room.

        Use it as a context manager and trigger the event while it is open:
            with client.realtime(sid) as live:
                client.post_transcript(sid, "...")
                update = live.wait_for("graph_batch_update")
        """
        live = RealtimeSession(
            self.base_url, self.host, self._token(), timeout=timeout, tls=self.tls
        )
        live.connect()
        try:
            live.join_session(session_id)
        except BaseException:
            live.close()
            raise
        return live

    # -- Hume: the browser's chat report and tool relay, and Hume's signed webhooks -------------

    def bind_chat(self, session_id: str, chat_id: str, chat_group_id: str) -> httpx.Response:
        """What the browser does on EVI's `chat_metadata`: binds the chat to the session (201, or
        200 when already bound). The binding is what authorises webhooks for that chat."""
        body = {"chatId": chat_id, "chatGroupId": chat_group_id}
        return self._http.post(f"/api/sessions/{session_id}/chats", json=body, headers=self._auth())

    def relay_tool_call(
        self,
        session_id: str,
        tool_name: str,
        parameters: JsonObject,
        *,
        tool_call_id: str | None = None,
    ) -> JsonObject:
        """What the browser does on EVI's `tool_call`: relays it here and answers EVI with the
        result (the one answer per tool call). Idempotent by tool_call_id."""
        body = {
            "toolCallId": tool_call_id or f"e2e-{uuid.uuid4()}",
            "name": tool_name,
            # EVI sends the tool's arguments as a JSON string, not an object.
            "parameters": json.dumps(parameters),
        }
        response = self._http.post(
            f"/api/sessions/{session_id}/tool-calls", json=body, headers=self._auth()
        )
        return self._json(response, 200)

    def signed_webhook_tool_call(
        self,
        chat_id: str,
        chat_group_id: str,
        tool_name: str,
        signing_key: str,
        *,
        tool_call_id: str | None = None,
    ) -> httpx.Response:
        """POSTs Hume's `tool_call` webhook for a chat, signed, built with the hume SDK's models.

        The webhook only records the call (the browser relay runs it): expect
        {"status": "recorded"} for a bound chat and {"status": "ignored"} otherwise.
        """
        message = ToolCallMessage(
            tool_call_id=tool_call_id or f"e2e-{uuid.uuid4()}",
            name=tool_name,
            parameters="{}",  # the webhook never carries arguments anywhere; none are needed
            response_required=True,
            tool_type="function",
        )
        event = WebhookEventToolCall(
            event_name="tool_call",
            chat_id=chat_id,
            chat_group_id=chat_group_id,
            timestamp=int(time.time() * 1000),
            tool_call_message=message,
        )
        raw = json.dumps(event.model_dump(mode="json", by_alias=True, exclude_none=True)).encode()
        timestamp = str(int(time.time()))
        headers = {
            SIGNATURE_HEADER: signature_for(signing_key, raw, timestamp),
            TIMESTAMP_HEADER: timestamp,
            "Content-Type": "application/json",
        }
        return self._http.post("/api/webhooks/hume", content=raw, headers=headers)

    # -- plumbing -------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DiminiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _token(self) -> str:
        if self.token is None:
            raise RuntimeError("not logged in: call login() first")
        return self.token

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token()}"}

    @staticmethod
    def _json(response: httpx.Response, expected: int) -> JsonObject:
        if response.status_code != expected:
            raise DiminiApiError(response, expected)
        body = response.json()
        assert isinstance(body, dict), body
        return body
