"""What the chart's alert rules and Grafana dashboard query, and what the code exposes.

`metric_names` finds the metric names in a PromQL expression: it drops string literals, label
matchers, ranges and grouping clauses, then keeps every identifier that is not a function call or
a keyword. promtool parses the same expressions (test_dashboard_queries_parse) so a name cannot
hide in a construct this reader does not know.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "dimini-operator"
RULES = CHART / "monitoring" / "rules.yaml"
DASHBOARDS = sorted((CHART / "dashboards").glob("*.json"))

# Grafana's variables, as Grafana substitutes them before the query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$namespace": ".*", "$stack": ".*"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")
_LABEL_VALUES = re.compile(r"label_values\((.*),\s*[a-zA-Z_]\w*\s*\)$")


def grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def metric_names(expr: str) -> set[str]:
    text = _STRING.sub('""', grafana_to_promql(expr))
    text = _BRACES.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(1)
        if name.lower() not in _KEYWORDS and not re.fullmatch(r"\d+[smhdwy]?", name):
            names.add(name)
    return names


def rule_expressions() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_expressions() -> dict[str, str]:
    """`<dashboard>/<panel title>/<refId>` (and `/$<variable>`) -> PromQL."""
    found: dict[str, str] = {}
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                found[f"{path.stem}/{panel['title']}/{target['refId']}"] = target["expr"]
        for variable in dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else ""
            selector = _LABEL_VALUES.match(query)
            assert selector, f"{path.name}: variable {variable['name']} is not label_values(...)"
            found[f"{path.stem}/${variable['name']}"] = selector.group(1)
    return found


def exposed_names(module: ModuleType) -> set[str]:
    """The sample names a module's prometheus-client metrics put on /metrics."""
    names = set()
    for metric in vars(module).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        for family in metric.describe():
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
            else:
                names.add(family.name)
    return names
