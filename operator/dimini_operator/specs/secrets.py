"""Secrets `<stack>-db` (database credentials), `<stack>-app` (SECRET_KEY) and
`<stack>-connection` (DATABASE_URL, derived from whichever credentials are in use).

The first two hold generated values: they are created once and never written again (a second
writer could not race a new password into them). The third is derived and kept up to date.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

from dimini_operator.specs import database
from dimini_operator.specs.common import POSTGRES_PORT, Manifest, Stack, metadata, retained

CONNECTION_KEY = "DATABASE_URL"


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def db_uri(stack: Stack, username: str, password: str) -> str:
    """The SQLAlchemy/asyncpg URL; user and password percent-encoded (`@ % / :` and the like
    would otherwise end the user-info part early)."""
    host = database.host(stack)
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    db = quote(database.name(stack), safe="")
    auth = f"{quote(username, safe='')}:{quote(password, safe='')}"
    # No sslmode here: SQLAlchemy's and asyncpg's URL parsers disagree on it; the pods get
    # PGSSLMODE, which asyncpg reads like libpq.
    return f"postgresql+asyncpg://{auth}@{host}:{database.port(stack)}/{db}"


def db_secret(stack: Stack, password: str) -> Manifest | None:
    """The generated credentials, or None when `postgres.existingSecret` or an external
    database's credentials replace them.

    With deletionPolicy Retain the Secret has no owner reference, so it outlives the stack and a
    new stack of the same name adopts it (same password, same data volume).
    """
    pg = stack.spec.postgres
    if pg.existing_secret or database.external(stack):
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
    owned = stack.spec.deletion_policy == "Delete"
    meta = metadata(stack, stack.child("db"), "database", owned=owned)
    if not owned:
        meta = retained(meta)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
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


def connection_secret(stack: Stack, username: str, password: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(stack, stack.child("connection"), "backend"),
        "type": "Opaque",
        "data": {CONNECTION_KEY: _b64(db_uri(stack, username, password))},
    }
