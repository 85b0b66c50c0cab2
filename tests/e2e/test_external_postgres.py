"""spec.postgres.external on the real node (issue 15, acceptance 6): a Postgres 15 on the host,
reached by the pods at the host's address over TLS, its certificate from a throwaway private CA
(sslMode verify-full + caSecretRef). The stack reaches Ready with no in-cluster Postgres, the
migration Job wrote the schema into the host's database, and a therapist works through the
Ingress. Then a stack given the wrong CA: its migration fails and the status names the TLS
verification failure (and no secret)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox import realnode
from tests.e2e.conftest import World, since, stack_manifest
from tests.e2e.flow import therapist_flow
from tests.e2e.test_stack import backend_head, client, pods, really_running, wait_ready
from tests.operator.integration.support import STACK
from tests.support.postgres import PG_BIN, PostgresServer, start_postgres
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

ROLE, DATABASE = "dimini_app", "dimini_ext"
# Characters that must be percent-encoded in the URL the operator builds.
PASSWORD = "e2e@p%ss/w:rd"
CREDENTIALS, CA_SECRET = "pg-external", "pg-external-ca"
FAIL_TIMEOUT = 240


@dataclass(frozen=True)
class Ca:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(subject: x509.Name, issuer: x509.Name, public: Any) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def make_ca(cn: str) -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(cn), _name(cn), key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return Ca(key, cert)


def server_cert(ca: Ca, address: str) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) naming `address` (verify-full checks the IP SAN)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(address), ca.cert.subject, key.public_key())
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@dataclass(frozen=True)
class HostPostgres:
    server: PostgresServer
    address: str
    ca: Ca

    def revision(self) -> str | None:
        out = self.server.psql("SELECT version_num FROM alembic_version", DATABASE)
        return out or None


def _serve_tls(server: PostgresServer, address: str, ca: Ca) -> None:
    """Restart the server with TLS on 127.0.0.1 and `address`; the app's role by password over
    TLS only, from anywhere (the pods' addresses are the node's pod CIDR)."""
    server.stop()
    cert, key = server_cert(ca, address)
    for name, data in (("server.crt", cert), ("server.key", key)):
        path = server.data_dir / name
        path.write_bytes(data)
        path.chmod(0o600)  # postgres refuses a key others can read
        if server.run_as:
            shutil.chown(path, "postgres", "postgres")
    with (server.data_dir / "pg_hba.conf").open("a") as hba:
        hba.write(f"hostssl {DATABASE} {ROLE} 0.0.0.0/0 scram-sha-256\n")
    options = (
        f"-p {server.port} -k {server.root} -c listen_addresses=127.0.0.1,{address} "
        "-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key -c fsync=off "
        "-c max_connections=300"
    )
    log = server.root / "postgres.log"
    subprocess.run(
        [*server.run_as, str(PG_BIN / "pg_ctl"), "-D", str(server.data_dir), "-l", str(log),
         "-w", "-t", "60", "-o", options, "start"],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def host_postgres() -> Iterator[HostPostgres]:
    # The host's primary address: where the node's pods already reach the API server and
    # CoreDNS (sandbox/realnode.py), routed from the pod bridge without masquerading.
    address = realnode.host_ip()
    server = start_postgres()
    try:
        server.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        server.psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        ca = make_ca("dimini e2e private CA")
        _serve_tls(server, address, ca)
        yield HostPostgres(server, address, ca)
    finally:
        server.destroy()


def _secret(world: World, name: str, data: dict[str, str]) -> None:
    # part-of=dimini: the operator's Secret watch sees a change of it.
    meta = {"name": name, "labels": {"app.kubernetes.io/part-of": "dimini"}}
    world.kubectl.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": data}
    )


def external_manifest(world: World, pg: HostPostgres) -> dict[str, Any]:
    doc = stack_manifest(world.refs)
    doc["spec"]["postgres"] = {
        "image": world.refs["postgres"],
        "external": {
            "host": pg.address,
            "port": pg.server.port,
            "database": DATABASE,
            "sslMode": "verify-full",
            "credentialsSecretRef": {"name": CREDENTIALS},
            "caSecretRef": {"name": CA_SECRET},
        },
    }
    # No exporter: it would scrape the in-cluster server, which there is none of.
    doc["spec"]["observability"].pop("postgresExporter", None)
    return doc


def test_a_stack_on_the_hosts_postgres_over_verified_tls(
    world: World, host_postgres: HostPostgres
) -> None:
    _secret(world, CREDENTIALS, {"username": ROLE, "password": PASSWORD})
    _secret(world, CA_SECRET, {"ca.crt": host_postgres.ca.pem})
    started = time.monotonic()
    world.kubectl.apply(external_manifest(world, host_postgres))
    wait_ready(world)
    world.record("external_apply_to_ready_seconds", since(started))

    assert host_postgres.revision() == backend_head(), "the Job migrated the host's database"
    k = world.kubectl
    assert pods(world, "postgres") == []
    assert k.list("statefulset") == [] and k.list("pvc") == []
    backends = pods(world, "backend")
    assert backends and all(really_running(p) for p in backends)
    stack = k.stack() or {}
    conds = {c["type"]: c for c in stack["status"]["conditions"]}
    assert conds["DatabaseReady"]["reason"] == "External"
    assert "sslmode verify-full" in conds["DatabaseReady"]["message"]

    with client(world) as c:
        therapist_flow(c, world.signing_key, "External")


def test_a_wrong_ca_fails_the_migration_naming_the_tls_failure(
    world: World, host_postgres: HostPostgres
) -> None:
    k = world.kubectl
    k.run("delete", "diministack", STACK, "--wait=true", "--timeout=180s")
    # The Jobs too: a new stack would take the old one's completed migration Job for its own.
    wait_for(
        "the stack's workloads gone",
        lambda: not k.list("deployment") and not k.list("job"),
        180,
        interval=1,
    )
    _secret(world, CA_SECRET, {"ca.crt": make_ca("some other CA").pem})
    doc = external_manifest(world, host_postgres)
    doc["spec"]["backend"]["migration"] = {"backoffLimit": 0}
    k.apply(doc)

    def failed() -> dict[str, Any] | None:
        cond = k.condition("Degraded")
        if cond and cond["status"] == "True" and "certificate verify failed" in cond["message"]:
            return cond
        return None

    cond = wait_for("Degraded: the migration's TLS failure", failed, FAIL_TIMEOUT, interval=1)
    assert f"migration Job {STACK}-migrate-" in cond["message"], cond["message"]
    status = json.dumps((k.stack() or {}).get("status"))
    assert PASSWORD not in status and "BEGIN CERTIFICATE" not in status
    ready = k.condition("Ready")
    assert ready is not None and ready["status"] == "False"
