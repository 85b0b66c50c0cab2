"""The chart's alert rules and Grafana dashboard: promtool checks and unit-tests every alert, each
alert has its runbook, and every query names only metrics that something actually exposes (the
backend, the operator, the real postgres_exporter) or that the operator still owes (PENDING)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import app.core.metrics as backend_metrics
import dimini_operator.metrics as operator_metrics
import httpx
import pytest
import yaml

from tests.monitoring.promql import (
    REPO,
    RULES,
    dashboard_expressions,
    exposed_names,
    grafana_to_promql,
    metric_names,
    rule_expressions,
)
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer
from tests.support.waiting import wait_for

RULE_TESTS = Path(__file__).with_name("rules_test.yaml")
RUNBOOKS = REPO / "docs" / "runbooks.md"
OBSERVABILITY = REPO / "docs" / "observability.md"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
POSTGRES_EXPORTER = "/usr/bin/prometheus-postgres-exporter"

# Metrics the alerts need that the operator does not expose yet (operator/ is being refactored;
# docs/observability.md "Owed by the operator" specifies them). When the operator exposes one,
# test_pending_operator_metrics_are_still_pending fails: delete it here.
PENDING_OPERATOR_METRICS: set[str] = set()


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if not os.access(PROMTOOL, os.X_OK):
        raise RuntimeError("promtool not found: apt-get install prometheus (.ci/run installs it)")
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False, cwd=REPO
    )


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert firing == silent == set(rule_expressions())


@pytest.mark.parametrize("alert", sorted(rule_expressions()))
def test_the_unit_tests_fail_when_an_alert_cannot_fire(alert: str, tmp_path: Path) -> None:
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == alert:
                rule["expr"] = "vector(1) == 0"  # never true
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    tests = yaml.safe_load(RULE_TESTS.read_text())
    tests["rule_files"] = [str(tmp_path / "rules.yaml")]
    (tmp_path / "rules_test.yaml").write_text(yaml.safe_dump(tests))
    result = promtool("test", "rules", str(tmp_path / "rules_test.yaml"))
    assert result.returncode != 0
    assert alert in result.stdout + result.stderr


def test_every_alert_links_its_runbook_section() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    headings = {
        line.removeprefix("## ").strip()
        for line in RUNBOOKS.read_text().splitlines()
        if line.startswith("## ")
    }
    alerts = set()
    for group in groups:
        for rule in group["rules"]:
            alerts.add(rule["alert"])
            url = rule["annotations"]["runbook_url"]
            # GitHub's anchor for a heading that is one word: the word in lower case.
            assert url.endswith(f"docs/runbooks.md#{rule['alert'].lower()}"), url
    assert alerts == {heading for heading in headings if heading.startswith("Dimini")}


def used_names() -> dict[str, set[str]]:
    return {
        where: metric_names(expr)
        for where, expr in {**rule_expressions(), **dashboard_expressions()}.items()
    }


def test_queries_name_only_metrics_that_are_exposed() -> None:
    known = (
        exposed_names(backend_metrics) | exposed_names(operator_metrics) | PENDING_OPERATOR_METRICS
    )
    unknown = {
        where: sorted(name for name in names if not name.startswith("pg_") and name not in known)
        for where, names in used_names().items()
    }
    assert {where: names for where, names in unknown.items() if names} == {}
    # And each query names something (a reader that finds nothing would pass vacuously).
    assert all(used_names().values())


def test_the_name_check_catches_a_misspelt_metric() -> None:
    assert metric_names(
        'sum by (route) (rate(dimini_http_request_total{stack=~"$stack"}[5m]))'
    ) == {"dimini_http_request_total"}
    assert "dimini_http_request_total" not in exposed_names(backend_metrics)


def test_pending_operator_metrics_are_still_pending_and_documented() -> None:
    assert PENDING_OPERATOR_METRICS.isdisjoint(
        {name.removesuffix("_total") for name in exposed_names(operator_metrics)}
        | exposed_names(operator_metrics)
    )
    docs = OBSERVABILITY.read_text()
    assert [name for name in sorted(PENDING_OPERATOR_METRICS) if name not in docs] == []


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    # promtool parses recording rules with Prometheus' own PromQL parser.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{index}", "expr": grafana_to_promql(expr)}
                    for index, expr in enumerate(dashboard_expressions().values())
                ],
            }
        ]
    }
    (tmp_path / "dashboard.yaml").write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(tmp_path / "dashboard.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def exporter(postgres: PostgresServer, tmp_path: Path) -> Iterator[str]:
    if not os.access(POSTGRES_EXPORTER, os.X_OK):
        raise RuntimeError(
            "postgres_exporter not found: apt-get install prometheus-postgres-exporter"
        )
    port = free_port()
    log = (tmp_path / "exporter.log").open("wb")
    process = subprocess.Popen(
        [POSTGRES_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
        env={
            "PATH": "/usr/bin:/bin",
            "DATA_SOURCE_NAME": postgres.url("postgres", driver="postgresql") + "?sslmode=disable",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.mark.postgres
def test_postgres_queries_name_what_postgres_exporter_exposes(exporter: str) -> None:
    def scraped() -> str | None:
        text = httpx.get(exporter, timeout=5).text
        return text if "pg_up 1" in text else None

    text = wait_for("postgres_exporter reaches Postgres", scraped, timeout=30)
    exposed = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    used = {name for names in used_names().values() for name in names if name.startswith("pg_")}
    assert used and used <= exposed, sorted(used - exposed)
