"""Start-up refuses a missing or malformed setting with a message naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from app.core.config import Settings, SettingsError, load_settings

from tests.backend.helpers import BACKEND_DIR, backend_env

VALID_URL = "postgresql+asyncpg://dimini:pw@127.0.0.1:1/dimini"
SHORT_SECRET = "too-short-secret"


def _start(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command],
        env=env,
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


BAD_SETTINGS = [
    ("DATABASE_URL", None),
    ("SECRET_KEY", None),
    ("DATABASE_URL", "mysql://user:pw@host/db"),
    ("DATABASE_URL", "not a url"),
    ("SECRET_KEY", SHORT_SECRET),
    ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
    ("SIMILARITY_THRESHOLD", "high"),
    ("SIMILARITY_THRESHOLD", "1.5"),
    ("ALLOWED_ORIGINS", "localhost:3000"),
    ("LOG_LEVEL", "LOUD"),
    ("WEB_CONCURRENCY", "zero"),
    ("OPENAI_BASE_URL", "not-a-url"),
    ("HUME_BASE_URL", "ftp://api.hume.ai"),
]


def _environment(setting: str, value: str | None) -> dict[str, str]:
    env = backend_env(VALID_URL)
    if value is None:
        env.pop(setting)
    else:
        env[setting] = value
    return env


@pytest.mark.parametrize(("setting", "value"), BAD_SETTINGS)
def test_bad_setting_is_reported_by_name(
    setting: str, value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, env_value in _environment(setting, value).items():
        monkeypatch.setenv(name, env_value)
    if value is None:
        monkeypatch.delenv(setting, raising=False)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith("Invalid configuration")
    assert f"  {setting}: " in message
    # The message names the setting but never echoes a secret value.
    assert SHORT_SECRET not in message
    assert "pw@" not in message


@pytest.mark.parametrize(
    ("setting", "value"), [("DATABASE_URL", None), ("SIMILARITY_THRESHOLD", "high")]
)
@pytest.mark.parametrize(
    "command",
    [
        ("-m", "uvicorn", "app.main:socket_app", "--port", "0"),
        ("-m", "app.serve"),
        ("-m", "app.migrate"),
    ],
    ids=["uvicorn", "serve", "migrate"],
)
def test_every_entry_point_exits_nonzero_naming_the_setting(
    setting: str, value: str | None, command: tuple[str, ...]
) -> None:
    result = _start(_environment(setting, value), *command)
    assert result.returncode != 0
    assert "Invalid configuration" in result.stderr
    assert setting in result.stderr


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SIMILARITY_THRESHOLD", "-1")
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    for name in ("DATABASE_URL", "SECRET_KEY", "SIMILARITY_THRESHOLD"):
        assert name in message


def test_valid_settings_normalise_values() -> None:
    settings = Settings(
        database_url="postgres://u:p@db:5432/dimini",
        secret_key="s" * 40,
        allowed_origins="https://a.example, http://localhost:3000/",
        log_level="debug",
    )
    assert settings.database_url.get_secret_value() == "postgresql+asyncpg://u:p@db:5432/dimini"
    assert settings.allowed_origins == ["https://a.example", "http://localhost:3000"]
    assert settings.log_level == "DEBUG"
    assert settings.similarity_threshold == 0.75
    assert "p" in settings.secret_values()
    assert "s" * 40 in settings.secret_values()
    assert "postgresql" not in repr(settings)  # the URL is a SecretStr
