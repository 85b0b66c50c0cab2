"""Where the database is: the in-cluster StatefulSet's Service, or spec.postgres.external."""

from __future__ import annotations

import ipaddress

from dimini_operator.specs.common import POSTGRES_PORT, Stack


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
