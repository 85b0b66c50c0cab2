"""The ASGI application: `app` (FastAPI) and `socket_app` (Socket.IO wrapping it).

Run with `uvicorn app.main:socket_app` (development) or `python -m app.serve` (production:
several workers, graceful shutdown). Settings are validated on import; a bad one ends the process
with a message naming it.
"""

from __future__ import annotations

from app.application import build_socket_app, create_app
from app.core.config import load_settings_or_exit

app, sio = create_app(load_settings_or_exit())
socket_app = build_socket_app(app, sio)
