"""A real S3 API server for tests: S3Proxy (org.gaul:s3proxy, its filesystem backend) on a free
loopback port, storing in a temp dir, with AWS v4 credentials.

The jar comes from Maven Central through `mvn dependency:copy`, once, into
~/.cache/dimini-stack/s3proxy/<version>/ (outside the repository), and is checked against the
pinned sha256 before every use. Needs Java 17 (`java`) and Maven (`mvn`).
`python -m tests.support.s3server` fetches it (CI does, before the tests).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import stop
from tests.support.waiting import wait_for

VERSION = "2.6.0"
SHA256 = "12e5e88d805cfed07f7d88b4a44a0d8ecb9f9d3cebeb544bb34fbc4ded1049d8"
ARTIFACT = f"org.gaul:s3proxy:{VERSION}:jar:jar-with-dependencies"
CACHE = Path.home() / ".cache" / "dimini-stack" / "s3proxy" / VERSION
JAR = CACHE / f"s3proxy-{VERSION}-jar-with-dependencies.jar"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch() -> Path:
    """The pinned jar, fetched on first use (a lock: parallel sessions fetch it once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not JAR.exists():
            subprocess.run(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "dependency:copy",
                    f"-Dartifact={ARTIFACT}",
                    f"-DoutputDirectory={CACHE}",
                ],
                check=True,
                cwd=CACHE,  # no pom here: dependency:copy needs none
                timeout=600,
            )
        have = _sha256(JAR)
        if have != SHA256:
            JAR.unlink()
            raise AssertionError(f"{JAR}: sha256 {have}, pinned {SHA256}: removed, fetch again")
    return JAR


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    basedir: Path

    def rclone_env(self, remote: str = "DIMINI") -> dict[str, str]:
        """rclone's configuration of this server as environment variables (no config file)."""
        prefix = f"RCLONE_CONFIG_{remote}_"
        return {
            "RCLONE_CONFIG": "/dev/null",
            f"{prefix}TYPE": "s3",
            f"{prefix}PROVIDER": "Other",
            f"{prefix}ENV_AUTH": "false",
            f"{prefix}ENDPOINT": self.endpoint,
            f"{prefix}FORCE_PATH_STYLE": "true",
            f"{prefix}NO_CHECK_BUCKET": "true",
            f"{prefix}ACCESS_KEY_ID": self.access_key_id,
            f"{prefix}SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def rclone(self, *args: str, data: bytes | None = None, **config: str) -> bytes:
        """Run `rclone ARGS` against this server (remote `s3:`, `config` overrides options of
        rclone_env); its stdout."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self.rclone_env("S3")}
        env.update({f"RCLONE_CONFIG_S3_{k.upper()}": v for k, v in config.items()})
        done = subprocess.run(
            ["rclone", "--retries", "1", *args],
            input=data,
            capture_output=True,
            env=env,
            timeout=120,
        )
        if done.returncode != 0:
            raise AssertionError(f"rclone {args[0]}: {done.stderr.decode()[-500:]}")
        return done.stdout

    def make_bucket(self, bucket: str) -> None:
        self.rclone("mkdir", f"s3:{bucket}", no_check_bucket="false")

    def list(self, path: str) -> list[str]:
        return sorted(self.rclone("lsf", "--files-only", f"s3:{path}").decode().split())

    def get(self, path: str) -> bytes:
        return self.rclone("cat", f"s3:{path}")

    def put(self, path: str, data: bytes) -> None:
        # S3Proxy rejects the signature of a Content-Type with parameters (text/plain; charset).
        self.rclone(
            "rcat",
            "--header-upload",
            "Content-Type: application/octet-stream",
            f"s3:{path}",
            data=data,
        )


def _answers(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(endpoint, timeout=2)  # noqa: S310 - a loopback http URL
    except urllib.error.HTTPError:
        return True  # 403 without credentials: it is serving
    return True


@contextmanager
def s3_server(listen: str = "127.0.0.1", advertise: str = "127.0.0.1") -> Iterator[S3Server]:
    """S3Proxy on a free port of `listen` (0.0.0.0: reachable from pods), its endpoint URL
    naming `advertise`."""
    jar = fetch()
    port = free_port()
    basedir = Path(tempfile.mkdtemp(prefix="dimini-s3proxy-"))
    server = S3Server(
        endpoint=f"http://{advertise}:{port}",
        access_key_id=f"test-{secrets.token_hex(4)}",
        secret_access_key=secrets.token_urlsafe(24),
        basedir=basedir,
    )
    props = basedir / "s3proxy.conf"
    data = basedir / "data"
    data.mkdir()
    props.write_text(
        f"s3proxy.endpoint=http://{listen}:{port}\n"
        "s3proxy.authorization=aws-v4\n"
        f"s3proxy.identity={server.access_key_id}\n"
        f"s3proxy.credential={server.secret_access_key}\n"
        "jclouds.provider=filesystem\n"
        f"jclouds.filesystem.basedir={data}\n"
    )
    props.chmod(0o600)
    log = (basedir / "s3proxy.log").open("wb")
    process = subprocess.Popen(
        ["java", "-jar", str(jar), "--properties", str(props)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            "S3Proxy answers",
            lambda: process.poll() is None and _answers(server.endpoint),
            timeout=90,
        )
        yield server
    finally:
        stop(process)
        log.close()
        shutil.rmtree(basedir, ignore_errors=True)


if __name__ == "__main__":
    print(fetch())
