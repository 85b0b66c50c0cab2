"""A real Prometheus (Debian's `prometheus` package) on the host, scraping what the sandbox's
ServiceMonitors select, the way the Prometheus Operator turns a ServiceMonitor into a scrape job:
the ready endpoints of the Services matching the monitor's selector, on the port it names, with
the standard target labels (namespace, service, pod, job, endpoint) and the monitor's own
relabelings.

Debian builds Prometheus without Kubernetes service discovery (`kubernetes_sd_configs` is not a
known field there), so `targets` discovers from the EndpointSlices itself and hands Prometheus a
file_sd file. The Prometheus Operator is not run either (its Go build would cost cold-CI minutes
for a config generator): `scrape_config` and `targets` are its rule for the fields Dimini's
monitors use, and refuse any other field rather than ignore it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.operator.integration.support import Kubectl
from tests.support.ports import free_port
from tests.support.waiting import wait_for

PROMETHEUS = "prometheus"
# What scrape_config translates; a monitor using anything else would be scraped wrongly.
ENDPOINT_FIELDS = {"port", "path", "interval", "relabelings", "honorLabels"}
SPEC_FIELDS = {"selector", "namespaceSelector", "endpoints"}


def _check_fields(monitor: dict[str, Any]) -> dict[str, Any]:
    """The monitor's one endpoint, after refusing fields this module does not translate."""
    name, spec = monitor["metadata"]["name"], monitor["spec"]
    (endpoint,) = spec["endpoints"]
    for got, known in ((spec, SPEC_FIELDS), (endpoint, ENDPOINT_FIELDS)):
        unknown = set(got) - known
        if unknown:
            raise ValueError(f"ServiceMonitor {name}: untranslated fields {sorted(unknown)}")
    if set(spec["selector"]) - {"matchLabels"}:
        raise ValueError(f"ServiceMonitor {name}: only selector.matchLabels is translated")
    return dict(endpoint)


def targets(monitor: dict[str, Any], kubectl: Kubectl) -> list[dict[str, Any]]:
    """file_sd target groups: one per ready endpoint address of the selected Services."""
    endpoint = _check_fields(monitor)
    meta, spec = monitor["metadata"], monitor["spec"]
    namespaces = (spec.get("namespaceSelector") or {}).get("matchNames") or [meta["namespace"]]
    selector = ",".join(f"{k}={v}" for k, v in spec["selector"]["matchLabels"].items())
    # The monitor's relabelings Dimini uses are static replacements: labels on every target.
    extra = {r["targetLabel"]: r["replacement"] for r in endpoint.get("relabelings") or []}
    groups: list[dict[str, Any]] = []
    for namespace in namespaces:
        ns = Kubectl(kubectl.env, namespace)
        for service in ns.list("services", selector):
            name = service["metadata"]["name"]
            for eps in ns.list("endpointslices", f"kubernetes.io/service-name={name}"):
                port = next(
                    (
                        p["port"]
                        for p in eps.get("ports") or []
                        if p.get("name") == endpoint["port"]
                    ),
                    None,
                )
                if port is None:
                    continue
                for ep in eps.get("endpoints") or []:
                    if not (ep.get("conditions") or {}).get("ready"):
                        continue
                    labels = {
                        "namespace": namespace,
                        "service": name,
                        "job": name,
                        "endpoint": endpoint["port"],
                        "pod": (ep.get("targetRef") or {}).get("name", ""),
                        **extra,
                    }
                    hosts = [f"{address}:{port}" for address in ep["addresses"]]
                    groups.append({"targets": hosts, "labels": labels})
    return groups


def scrape_config(monitor: dict[str, Any], targets_file: Path) -> dict[str, Any]:
    endpoint = _check_fields(monitor)
    meta = monitor["metadata"]
    return {
        "job_name": f"serviceMonitor/{meta['namespace']}/{meta['name']}/0",
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "metrics_path": endpoint.get("path", "/metrics"),
        "scrape_interval": endpoint.get("interval", "30s"),
        "file_sd_configs": [{"files": [str(targets_file)]}],
    }


@dataclass(frozen=True)
class Prometheus:
    url: str
    log: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        reply = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        body = reply.json()
        if body.get("status") != "success":
            raise AssertionError(f"{promql}: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()
        active: list[dict[str, Any]] = body["data"]["activeTargets"]
        return active


@contextmanager
def running(monitors: list[dict[str, Any]], kubectl: Kubectl, tmp: Path) -> Iterator[Prometheus]:
    """Prometheus scraping what `monitors` select now, ready; stopped on exit."""
    binary = shutil.which(PROMETHEUS)
    if binary is None:
        raise RuntimeError("prometheus not found: apt-get install prometheus")
    jobs = []
    for index, monitor in enumerate(monitors):
        path = tmp / f"targets-{index}.json"
        path.write_text(json.dumps(targets(monitor, kubectl)))
        jobs.append(scrape_config(monitor, path))
    config = {"scrape_configs": jobs}
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    prom = Prometheus(f"http://127.0.0.1:{port}", log)

    def ready() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{prom.url}/-/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(f"Prometheus ready (log: {log})", ready, 60)
        yield prom
    finally:
        process.terminate()
        process.wait(30)
