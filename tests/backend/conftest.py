"""Backend fixtures: a migrated database per module and the app in-process per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from app.core.config import Settings

from tests.backend.helpers import api_client, make_settings, run_migrations


@pytest.fixture(scope="module")
def migrated_url(database_url: str) -> str:
    run_migrations(database_url)
    return database_url


@pytest.fixture
def settings(migrated_url: str) -> Settings:
    return make_settings(migrated_url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings) as api:
        yield api
