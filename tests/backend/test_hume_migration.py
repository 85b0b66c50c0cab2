"""Migration 0002 moves the single bound chat of each session into hume_chats (and back)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.backend.helpers import BACKEND_DIR, backend_env
from tests.support.postgres import PostgresServer

SEED = """
INSERT INTO users (id, email, password_hash, name, role, token_version, failed_login_attempts)
VALUES ('00000000-0000-0000-0000-000000000001', 'm@example.org', 'x', 'M', 'therapist', 0, 0);
INSERT INTO patients (id, therapist_id, name)
VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'P');
INSERT INTO sessions (id, patient_id, therapist_id, status, hume_chat_id, hume_chat_group_id,
                      duration_seconds)
VALUES
  ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000002',
   '00000000-0000-0000-0000-000000000001', 'completed', 'old-chat', 'old-group', 600),
  ('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-000000000002',
   '00000000-0000-0000-0000-000000000001', 'active', 'groupless-chat', NULL, NULL),
  ('00000000-0000-0000-0000-00000000000c', '00000000-0000-0000-0000-000000000002',
   '00000000-0000-0000-0000-000000000001', 'completed', NULL, NULL, NULL);
"""


def _alembic(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", os.path.join(BACKEND_DIR, "alembic.ini"), *args],
        env=env,
        cwd=BACKEND_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def _json(postgres: PostgresServer, database: str, sql: str) -> object:
    return json.loads(
        postgres.psql(f"SELECT coalesce(json_agg(t), '[]') FROM ({sql}) t", database)  # noqa: S608
    )


def test_0002_copies_bound_chats_and_a_downgrade_gives_them_back(postgres: PostgresServer) -> None:
    database = postgres.create_database("hume_migration")
    env = backend_env(postgres.url(database))
    try:
        _alembic(env, "upgrade", "0001")
        postgres.psql(SEED, database)
        _alembic(env, "upgrade", "0002")
        chats = _json(
            postgres,
            database,
            "SELECT chat_id, chat_group_id, right(session_id::text, 1) AS s, duration_seconds "
            "FROM hume_chats ORDER BY chat_id",
        )
        assert chats == [
            {"chat_id": "groupless-chat", "chat_group_id": "groupless-chat", "s": "b",
             "duration_seconds": None},
            {"chat_id": "old-chat", "chat_group_id": "old-group", "s": "a",
             "duration_seconds": 600},
        ]  # fmt: skip
        # A chat the new release bound: the previous release gets it back on a downgrade.
        postgres.psql(
            "INSERT INTO hume_chats (id, chat_id, chat_group_id, session_id) VALUES "
            "(gen_random_uuid(), 'new-chat', 'new-group', '00000000-0000-0000-0000-00000000000c')",
            database,
        )
        _alembic(env, "downgrade", "0001")
        sessions = _json(
            postgres,
            database,
            "SELECT right(id::text, 1) AS s, hume_chat_id, hume_chat_group_id FROM sessions "
            "ORDER BY id",
        )
        assert sessions == [
            {"s": "a", "hume_chat_id": "old-chat", "hume_chat_group_id": "old-group"},
            {"s": "b", "hume_chat_id": "groupless-chat", "hume_chat_group_id": None},
            {"s": "c", "hume_chat_id": "new-chat", "hume_chat_group_id": "new-group"},
        ]
    finally:
        postgres.drop_database(database)
