"""Where the database is: the in-cluster StatefulSet's Service, or spec.postgres.external."""

from __future__ import annotations

import ipaddress
from typing import Any

from dimini_operator.specs.common import POSTGRES_PORT, Stack
from dimini_operator.specs.model import CaSecretRef


def external(stack: Stack) -> bool:
    return stack.spec.postgres.external is not None


def host(stack: Stack) -> str:
    ext = stack.spec.postgres.external
    return ext.host if ext else stack.child("postgres")


def port(stack: Stack) -> int:
    ext = stack.spec.postgres.external
    return ext.port if ext else POSTGRES_PORT


def name(stack: Stack) -> str:
    ext = stack.spec.postgres.external
    return ext.database if ext else stack.spec.postgres.database


def ssl_mode(stack: Stack) -> str | None:
    """libpq sslmode for an external server; None in-cluster (libpq's default, prefer)."""
    ext = stack.spec.postgres.external
    return ext.ssl_mode if ext else None


def host_cidr(stack: Stack) -> str | None:
    """The external host as a single-address CIDR, or None (a DNS name, or in-cluster):
    NetworkPolicies select addresses, never names."""
    ext = stack.spec.postgres.external
    if ext is None:
        return None
    try:
        addr = ipaddress.ip_address(ext.host)
    except ValueError:
        return None
    return f"{addr}/{addr.max_prefixlen}"


def endpoint(stack: Stack) -> str:
    """host:port, for messages (never credentials)."""
    h = host(stack)
    return f"[{h}]:{port(stack)}" if ":" in h else f"{h}:{port(stack)}"


# Where the external server's CA is mounted in every client pod; libpq and asyncpg both read
# PGSSLROOTCERT, so one variable serves pg_dump, psql and the backend.
CA_VOLUME = "postgres-ca"
CA_DIR = "/etc/dimini/postgres-ca"
CA_FILE = "ca.crt"


def ca_ref(stack: Stack) -> CaSecretRef | None:
    ext = stack.spec.postgres.external
    return ext.ca_secret_ref if ext else None


def ssl_env(stack: Stack) -> list[dict[str, Any]]:
    """PGSSLMODE (external only) and PGSSLROOTCERT (with caSecretRef) of a client container."""
    out: list[dict[str, Any]] = []
    mode = ssl_mode(stack)
    if mode:
        out.append({"name": "PGSSLMODE", "value": mode})
    if ca_ref(stack):
        out.append({"name": "PGSSLROOTCERT", "value": f"{CA_DIR}/{CA_FILE}"})
    return out


def ca_volumes(stack: Stack) -> list[dict[str, Any]]:
    """The CA Secret's one key as a volume (the Secret's other keys stay out of the pod)."""
    ref = ca_ref(stack)
    if ref is None:
        return []
    items = [{"key": ref.key, "path": CA_FILE}]
    return [{"name": CA_VOLUME, "secret": {"secretName": ref.name, "items": items}}]


def ca_mounts(stack: Stack) -> list[dict[str, Any]]:
    if ca_ref(stack) is None:
        return []
    return [{"name": CA_VOLUME, "mountPath": CA_DIR, "readOnly": True}]
