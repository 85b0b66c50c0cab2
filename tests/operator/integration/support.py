"""Helpers for the operator's sandbox tests: kubectl, the operator process, waiting."""

from __future__ import annotations

import base64
import copy
import json
import os
import pathlib
import signal
import subprocess
import sys
import urllib.request
from typing import Any, TypeVar

import yaml
from dimini_operator import yamlout
from prometheus_client.parser import text_string_to_metric_families

from tests.support.ports import free_port
from tests.support.waiting import wait_for

ROOT = pathlib.Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / "manifests" / "crds" / "diministacks.dimini.io.yaml"
SAMPLE = ROOT / "manifests" / "samples" / "diministack.yaml"
STACK = "dimini"
LOGS = ROOT / ".sandbox" / "operator-test-logs"

T = TypeVar("T")


class Kubectl:
    def __init__(self, env: dict[str, str], namespace: str, *extra_args: str) -> None:
        self.env = env
        self.namespace = namespace
        self.extra_args = list(extra_args)

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        namespaced: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["kubectl", *(["-n", self.namespace] if namespaced else []), *args]
        proc = subprocess.run(
            cmd,
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed: {proc.stderr}")
        return proc

    def apply(self, doc: dict[str, Any], check: bool = True) -> subprocess.CompletedProcess[str]:
        # yamlout: a number-like string (an image hash) stays a string for kubectl's parser.
        return self.run("apply", "-f", "-", stdin=yamlout.dump_all([doc]), check=check)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        proc = self.run("get", kind, name, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise AssertionError(proc.stderr)
        obj: dict[str, Any] = json.loads(proc.stdout)
        return obj

    def list(self, kind: str, selector: str = "") -> list[dict[str, Any]]:
        args = ["get", kind, "-o", "json"]
        if selector:
            args += ["-l", selector]
        items: list[dict[str, Any]] = json.loads(self.run(*args).stdout)["items"]
        return items

    def patch(self, kind: str, name: str, patch: Any, type_: str = "merge") -> None:
        self.run("patch", kind, name, "--type", type_, "-p", json.dumps(patch))

    def stack(self, name: str = STACK) -> dict[str, Any] | None:
        return self.get("diministack", name)

    def condition(self, ctype: str, name: str = STACK) -> dict[str, Any] | None:
        obj = self.stack(name)
        for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
            if cond["type"] == ctype:
                return dict(cond)
        return None

    def secret_value(self, name: str, key: str) -> str | None:
        obj = self.get("secret", name)
        if not obj or key not in (obj.get("data") or {}):
            return None
        return base64.b64decode(obj["data"][key]).decode()


def hold_pods(k: Kubectl, pods: int) -> None:
    """A ResourceQuota `hold` that admits no more than `pods` pods, once it is in force."""
    k.apply(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "hold"},
            "spec": {"hard": {"pods": str(pods)}},
        }
    )
    wait_for(
        "quota in force",
        lambda: ((k.get("resourcequota", "hold") or {}).get("status") or {}).get("hard"),
        15,
    )


def sample(storage_class: str, **spec_overrides: Any) -> dict[str, Any]:
    """The sample stack, with the test's storage class and optional spec overrides."""
    doc: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    doc["spec"]["postgres"]["storage"]["storageClassName"] = storage_class
    for key, value in spec_overrides.items():
        doc["spec"][key] = copy.deepcopy(value)
    return doc


def stack_ready(k: Kubectl, name: str = STACK) -> dict[str, Any] | None:
    obj = k.stack(name)
    if not obj:
        return None
    st = obj.get("status") or {}
    ready = [c for c in st.get("conditions") or [] if c["type"] == "Ready"]
    gen = obj["metadata"]["generation"]
    if (
        ready
        and ready[0]["status"] == "True"
        and st.get("phase") == "Ready"
        and st.get("observedGeneration") == gen
    ):
        return obj
    return None


class Operator:
    """`python -m dimini_operator --namespace NS` as a subprocess with its own ports."""

    def __init__(
        self, env: dict[str, str], namespace: str, *extra_args: str, cluster_wide: bool = False
    ) -> None:
        self.env = env
        self.namespace = namespace  # also names the log file
        self.cluster_wide = cluster_wide
        self.extra_args = list(extra_args)
        self.metrics_port = free_port()
        self.liveness_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{namespace}.log"

    def start(self) -> Operator:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dimini_operator",
                *([] if self.cluster_wide else ["--namespace", self.namespace]),
                "--metrics-port",
                str(self.metrics_port),
                "--liveness-port",
                str(self.liveness_port),
                *self.extra_args,
            ],
            env={**self.env, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        log.close()
        wait_for("operator metrics endpoint", self._metrics_up, 30)
        return self

    def _metrics_up(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log_tail()
        try:
            self.metrics_text()
        except OSError:
            return False
        return True

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def metrics_text(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            body: bytes = resp.read()
        return body.decode()

    def counter(self, name: str, **labels: str) -> float:
        """Sum of the samples of counter `name` (without _total) matching `labels`."""
        total = 0.0
        for family in text_string_to_metric_families(self.metrics_text()):
            if family.name != name:
                continue
            for s in family.samples:
                if s.name.endswith("_total") and all(
                    s.labels.get(k) == v for k, v in labels.items()
                ):
                    total += s.value
        return total

    def gauge(self, name: str, **labels: str) -> float | None:
        """The value of gauge `name` whose labels include `labels`, or None when absent."""
        for family in text_string_to_metric_families(self.metrics_text()):
            if family.name != name:
                continue
            for s in family.samples:
                if all(s.labels.get(k) == v for k, v in labels.items()):
                    return float(s.value)
        return None

    def writes(self) -> float:
        """Write calls for stacks: all but the leader's Lease renewals (per operator, every 2 s).
        Read from one scrape: a renewal between two scrapes would look like a write."""
        total = 0.0
        for family in text_string_to_metric_families(self.metrics_text()):
            if family.name != "dimini_operator_api_calls":
                continue
            for s in family.samples:
                if (
                    s.name.endswith("_total")
                    and s.labels.get("verb") in ("apply", "patch", "create", "delete")
                    and s.labels.get("kind") != "Lease"
                ):
                    total += s.value
        return total

    def child_writes(self) -> float:
        """Write calls to anything but the stack's status and Events."""
        total = 0.0
        for family in text_string_to_metric_families(self.metrics_text()):
            if family.name != "dimini_operator_api_calls":
                continue
            for s in family.samples:
                if (
                    s.name.endswith("_total")
                    and s.labels.get("verb") in ("apply", "patch", "create", "delete")
                    and s.labels.get("kind") not in ("DiminiStack/status", "Event", "Lease")
                ):
                    total += s.value
        return total

    def reconciles(self) -> float:
        return self.counter("dimini_operator_reconciles")

    def liveness(self) -> int:
        url = f"http://127.0.0.1:{self.liveness_port}/healthz"
        with urllib.request.urlopen(url, timeout=5) as resp:
            code: int = resp.status
        return code

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def env_flag(name: str, default: float) -> float:
    return float(os.environ.get(name, default))
