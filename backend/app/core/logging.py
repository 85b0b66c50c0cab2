"""JSON logs on stdout that cannot carry a secret.

Design: every record of every logger ends in the root handler, and that handler's formatter redacts
the *finished* line (message, arguments, extras and tracebacks alike) before it is written. Two
kinds of secrets are removed:
- the configured secrets themselves (SECRET_KEY, the DATABASE_URL password, API and signing keys),
  registered by value at start-up;
- shapes that are secret whatever their value: JWTs, `Bearer ...` credentials, URL passwords and
  `password=` / `"password": ...` style pairs (user passwords are never known to the config).
Library loggers that install their own handlers (uvicorn) are re-plumbed into the root handler.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

REDACTED = "[REDACTED]"

_SECRET_SHAPES: list[tuple[re.Pattern[str], str]] = [
    # JWT: three base64url segments, the first of which always starts with eyJ ({").
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # scheme://user:password@host
    (re.compile(r"(://[^:/@\s\"']+):[^@\s\"']+@"), rf"\1:{REDACTED}@"),
    # key=value and "key": "value" pairs whose key names a secret.
    (
        re.compile(
            r"(?i)((?:password|passwd|secret|token|api[_-]?key|authorization|cookie|signature)"
            r"[A-Za-z_-]*\\?[\"']?\s*[:=]\s*)(\\?\"[^\"\\]*\\?\"|'[^']*'|[^\s,;&}\]]+)"
        ),
        rf"\1{REDACTED}",
    ),
]


class SecretRedactor:
    def __init__(self) -> None:
        self._literals: list[str] = []

    def register(self, secrets: Iterable[str]) -> None:
        # Longest first so a secret containing another is removed whole.
        merged = {secret for secret in [*self._literals, *secrets] if len(secret) >= 4}
        self._literals = sorted(merged, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for literal in self._literals:
            if literal in text:
                text = text.replace(literal, REDACTED)
        for shape, replacement in _SECRET_SHAPES:
            text = shape.sub(replacement, text)
        return text


redactor = SecretRedactor()


class RedactingJsonFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redactor.redact(super().format(record))


class TraceContext(logging.Filter):
    """Adds `trace_id` and `span_id` (W3C hex, as a tracing backend shows them) to records logged
    inside a sampled span, so a log line leads to its trace. Without tracing: nothing added."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True


def build_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(TraceContext())
    handler.setFormatter(
        RedactingJsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    return handler


class PathOnlyAccessLog(logging.Filter):
    """uvicorn logs the full request target; query strings carry patient search terms."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


_QUIET_LIBRARIES = {"asyncio": "WARNING", "hpack": "WARNING", "multipart": "INFO"}


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    redactor.register(secrets)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler.formatter, RedactingJsonFormatter):
            root.removeHandler(handler)
    root.addHandler(build_handler())
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi"):
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, PathOnlyAccessLog) for existing in access.filters):
        access.addFilter(PathOnlyAccessLog())
    for name, library_level in _QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(library_level)


def log_extra(**fields: Any) -> dict[str, Any]:
    """Structured fields for `logger.info(..., extra=log_extra(...))`."""
    return fields
