"""The client's address behind the ingress (issue 12 #3): `FORWARDED_ALLOW_IPS` names the proxies
whose X-Forwarded-For is believed, so each client has its own login budget, and a client cannot
pick a fresh one by sending its own X-Forwarded-For. Runs the production entry point
(`python -m app.serve`), where the setting reaches uvicorn."""

from __future__ import annotations

import httpx
import pytest
from app.core.config import Settings, SettingsError, load_settings

from tests.backend.helpers import backend_env, running_backend

BUDGET = 3  # LOGIN_RATE_LIMIT: login attempts per address per window
WRONG = {"email": "nobody@example.org", "password": "not the password"}


async def _statuses(url: str, forwarded_for: str, count: int) -> list[int]:
    async with httpx.AsyncClient(base_url=url) as client:
        return [
            (
                await client.post(
                    "/api/auth/login", json=WRONG, headers={"X-Forwarded-For": forwarded_for}
                )
            ).status_code
            for _ in range(count)
        ]


async def test_each_client_behind_a_trusted_proxy_has_its_own_budget(
    migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The test client (127.0.0.1) plays the ingress, which appends the peer it saw.
    env = backend_env(migrated_url, LOGIN_RATE_LIMIT=str(BUDGET), FORWARDED_ALLOW_IPS="127.0.0.1")
    log = tmp_path_factory.mktemp("proxy") / "backend.log"
    async with running_backend(env, log, serve=True) as backend:
        assert await _statuses(backend.url, "192.0.2.10", BUDGET + 1) == [401] * BUDGET + [429]
        # Another client keeps its whole budget.
        assert await _statuses(backend.url, "192.0.2.20", BUDGET) == [401] * BUDGET
        # A spoofed leftmost entry (the client's own header, kept by the ingress) changes nothing:
        # the rightmost address not a trusted proxy is the client.
        assert await _statuses(backend.url, "198.51.100.7, 192.0.2.10", 1) == [429]


async def test_without_trust_forwarded_for_is_ignored(
    migrated_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = backend_env(migrated_url, LOGIN_RATE_LIMIT=str(BUDGET), FORWARDED_ALLOW_IPS="")
    log = tmp_path_factory.mktemp("noproxy") / "backend.log"
    async with running_backend(env, log, serve=True) as backend:
        statuses = [
            *await _statuses(backend.url, "192.0.2.30", BUDGET),
            *await _statuses(backend.url, "192.0.2.31", 1),
        ]
    assert statuses == [401] * BUDGET + [429]  # one peer, one budget, whatever the header says


@pytest.mark.parametrize(
    ("value", "message"),
    [("*", "trusts every client"), ("10.0.0.0/8, ingress", "'ingress' is not an IP address")],
)
def test_trusting_every_proxy_or_a_name_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@localhost/db")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", value)
    with pytest.raises(SettingsError, match=message) as raised:
        load_settings()
    assert "FORWARDED_ALLOW_IPS" in str(raised.value).upper()


def test_cidr_ranges_and_json_lists_are_accepted() -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://u@localhost/db",
        secret_key="s" * 40,
        forwarded_allow_ips='["10.244.0.0/16", "fd00::/8"]',
    )
    assert settings.forwarded_allow_ips == ["10.244.0.0/16", "fd00::/8"]
