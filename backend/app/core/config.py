"""Every setting of the backend, in one place, validated once at start-up.

Settings come from the environment (names are the upper-case field names). A missing or malformed
setting raises `SettingsError` whose message names the setting; `load_settings_or_exit` turns that
into a clean exit for the entry points.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class SettingsError(Exception):
    """Configuration is missing or malformed; the message names each offending setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # "production" (the default) hides the API docs and refuses development-only switches.
    environment: Literal["development", "production"] = "production"

    # Postgres, as postgresql+asyncpg://user:password@host:port/db (postgres:// is accepted too).
    database_url: SecretStr
    # Signs JWTs and CSRF tokens; at least 32 characters of randomness.
    secret_key: SecretStr = Field(min_length=32)
    # Idle timeout: a token lasts this long and is renewed while the user is active ...
    access_token_expire_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    # ... up to this long after login (absolute timeout; OWASP Session Management Cheat Sheet).
    session_absolute_max_minutes: int = Field(default=480, ge=1, le=30 * 24 * 60)
    # Browser origins allowed by CORS, Socket.IO and the CSRF Origin check (JSON list or commas).
    allowed_origins: Annotated[list[str], NoDecode] = ["http://localhost:3000"]
    # The session cookie is `Secure` unless explicitly turned off for plain-http development.
    cookie_secure: bool = True
    # Strict-Transport-Security on every response; unset: on when cookies are Secure. The
    # operator sets it when the stack's Ingress terminates TLS (spec.ingress.tls).
    hsts_enabled: bool | None = None
    # Proxies (addresses or CIDRs, commas or a JSON list) whose X-Forwarded-For names the client:
    # the ingress controller's addresses. Never "*": then any client could pick its own address,
    # and with it a fresh login budget. Empty: the peer's address is the client.
    forwarded_allow_ips: Annotated[list[str], NoDecode] = ["127.0.0.1", "::1"]

    openai_api_key: SecretStr | None = None
    openai_base_url: AnyHttpUrl | None = None
    gpt_model: str = Field(default="gpt-5-mini", min_length=1)
    embedding_model: str = Field(default="text-embedding-3-small", min_length=1)
    openai_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    similarity_threshold: float = Field(default=0.75, ge=0.0, le=1.0)

    hume_api_key: SecretStr | None = None
    hume_secret_key: SecretStr | None = None
    hume_config_id: str | None = None
    hume_webhook_signing_key: SecretStr | None = None
    # Development only: accept unsigned webhooks when no signing key is configured.
    hume_webhook_insecure_skip_verify: bool = False
    hume_base_url: AnyHttpUrl = AnyHttpUrl("https://api.hume.ai")
    hume_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    log_level: LogLevel = "INFO"
    web_concurrency: int = Field(default=2, ge=1, le=64)
    # Idle client connections stay open longer than the proxy in front keeps its idle upstream
    # connections (Traefik 90 s, ingress-nginx 60 s), so the proxy always closes first: a request
    # sent on a connection uvicorn had just closed (its default is 5 s) is a 502 the proxy does
    # not retry for a POST.
    keep_alive_seconds: int = Field(default=120, ge=1, le=3600)
    # `python -m app.migrate` waits this long for Postgres to accept connections (a new stack's
    # Job starts beside its Postgres; the operator sets it). 0: fail at once.
    migrate_wait_seconds: float = Field(default=0, ge=0, le=86400)

    # Per-IP login attempts allowed per window (shared by all processes through Postgres).
    login_rate_limit: int = Field(default=20, ge=1, le=10_000)
    login_rate_window_seconds: int = Field(default=60, ge=1, le=3600)
    # Per-IP registrations allowed per window: stops junk-account floods (and argon2 floods).
    register_rate_limit: int = Field(default=10, ge=1, le=10_000)
    register_rate_window_seconds: int = Field(default=3600, ge=1, le=86_400)
    # Hume access tokens one account may mint per hour: each is an organisation-wide credential.
    hume_token_rate_limit: int = Field(default=30, ge=1, le=10_000)
    # A session's transcript stops growing here (a 50-minute session is ~50,000 characters).
    max_transcript_chars: int = Field(default=1_000_000, ge=100, le=50_000_000)
    # Password hashes computed at once per process; each argon2id hash holds 64 MiB while it runs.
    password_hash_concurrency: int = Field(default=2, ge=1, le=16)
    db_pool_size: int = Field(default=10, ge=1, le=100)
    # Live sockets one account may hold in one process (each costs memory and fan-out work); a
    # therapist needs one per open session tab.
    max_sockets_per_user: int = Field(default=10, ge=1, le=1000)
    # Largest request body accepted, checked before it is read (the API takes small JSON only).
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    # A background job (graph update, summary) not finished within its lease is taken over by
    # another process: the lease outlasts the slowest job (3 LLM attempts).
    background_job_lease_seconds: float = Field(default=120.0, ge=0.5, le=3600)
    # Bound on each realtime publish (NOTIFY) attempt, so a stalled connection cannot hang writes.
    realtime_publish_timeout_seconds: float = Field(default=2.0, gt=0, le=60)

    # OpenTelemetry (core/tracing.py), off unless an endpoint is set. The names and meanings are
    # OpenTelemetry's own: the OTLP/HTTP base URL (/v1/traces is appended), e.g.
    # http://otel-collector.monitoring:4318; OTEL_EXPORTER_OTLP_HEADERS is read by the exporter.
    otel_exporter_otlp_endpoint: AnyHttpUrl | None = None
    otel_service_name: str = Field(default="dimini-backend", min_length=1)
    # The share of traces kept (a parent's decision wins: ParentBased(TraceIdRatioBased)).
    otel_traces_sampler_arg: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator(
        "openai_api_key", "hume_api_key", "hume_secret_key", "hume_webhook_signing_key"
    )
    @classmethod
    def _not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty key would count as configured: webhooks signed with "" would be accepted.
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is set but blank; unset it or give it a value")
        return value

    @field_validator("session_absolute_max_minutes")
    @classmethod
    def _absolute_covers_one_token(cls, value: int, info: ValidationInfo) -> int:
        idle = info.data.get("access_token_expire_minutes")
        if isinstance(idle, int) and value < idle:
            raise ValueError("must be at least ACCESS_TOKEN_EXPIRE_MINUTES")
        return value

    @field_validator("hume_config_id")
    @classmethod
    def _config_id_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is set but blank; unset it or give it a value")
        return value

    @field_validator("hume_webhook_insecure_skip_verify")
    @classmethod
    def _development_only(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("environment", "production") == "production":
            raise ValueError("is a development switch; set ENVIRONMENT=development to use it")
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalise_database_url(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str):
            return value
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL (expected postgresql+asyncpg://...)") from None
        if url.drivername in ("postgres", "postgresql", "postgresql+asyncpg"):
            url = url.set(drivername="postgresql+asyncpg")
        else:
            raise ValueError("must be a postgresql:// or postgresql+asyncpg:// URL")
        if not url.host or not url.database:
            raise ValueError("must name a host and a database")
        return url.render_as_string(hide_password=False)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("allowed_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _parse_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError("not a valid JSON list") from None
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not origin.startswith(("http://", "https://")) or origin.rstrip("/").count("/") > 2:
                raise ValueError(f"{origin!r} is not an origin like https://host[:port]")
        return [origin.rstrip("/") for origin in value]

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry == "*":
                raise ValueError(
                    "'*' trusts every client's X-Forwarded-For; list the ingress's addresses"
                )
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR range") from None
        return value

    @property
    def api_docs_enabled(self) -> bool:
        return self.environment == "development"

    @property
    def database_url_object(self) -> URL:
        return make_url(self.database_url.get_secret_value())

    @property
    def hume_credentials_configured(self) -> bool:
        return self.hume_api_key is not None and self.hume_secret_key is not None

    def secret_values(self) -> list[str]:
        """Every configured secret as plain text, for the log redactor."""
        secrets = [self.secret_key.get_secret_value()]
        password = self.database_url_object.password
        if password:
            secrets.append(str(password))
        for optional in (
            self.openai_api_key,
            self.hume_api_key,
            self.hume_secret_key,
            self.hume_webhook_signing_key,
        ):
            if optional is not None:
                secrets.append(optional.get_secret_value())
        return [secret for secret in secrets if secret]


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad setting, naming the environment variable and never echoing its value."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        name = str(item["loc"][0]).upper() if item["loc"] else "settings"
        reason = "is required but not set" if item["type"] == "missing" else item["msg"]
        lines.append(f"  {name}: {reason}")
    return "Invalid configuration:\n" + "\n".join(lines)


def load_settings() -> Settings:
    try:
        return Settings()  # values come from the environment
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def load_settings_or_exit() -> Settings:
    """For entry points: a bad configuration ends the process with status 2 and a clear message."""
    try:
        return get_settings()
    except SettingsError as error:
        print(str(error), file=sys.stderr)
        raise SystemExit(2) from None
