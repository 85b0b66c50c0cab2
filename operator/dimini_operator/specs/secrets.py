"""Secrets `<stack>-db` (database credentials) and `<stack>-app` (SECRET_KEY)."""

from __future__ import annotations

import base64

from dimini_operator.specs.common import POSTGRES_PORT, Manifest, Stack, metadata


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def db_uri(stack: Stack, username: str, password: str) -> str:
    database = stack.spec.postgres.database
    host = stack.child("postgres")
    return f"postgresql+asyncpg://{username}:{password}@{host}:{POSTGRES_PORT}/{database}"


def db_secret(stack: Stack, password: str) -> Manifest | None:
    """The generated credentials, or None when `postgres.existingSecret` replaces them.

    With deletionPolicy Retain the Secret has no owner reference, so it outlives the stack and a
    new stack of the same name adopts it (same password, same data volume).
    """
    pg = stack.spec.postgres
    if pg.existing_secret:
        return None
    username = pg.username
    data = {
        "username": username,
        "password": password,
        "database": pg.database,
        "host": stack.child("postgres"),
        "port": str(POSTGRES_PORT),
        "uri": db_uri(stack, username, password),
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(
            stack,
            stack.child("db"),
            "database",
            owned=stack.spec.deletion_policy == "Delete",
        ),
        "type": "Opaque",
        "data": {k: _b64(v) for k, v in data.items()},
    }


def app_secret(stack: Stack, secret_key: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(stack, stack.app_secret_name, "backend"),
        "type": "Opaque",
        "data": {"SECRET_KEY": _b64(secret_key)},
    }
