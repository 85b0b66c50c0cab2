"""PodDisruptionBudgets (when more than one replica) and HorizontalPodAutoscalers."""

from __future__ import annotations

from typing import Any

from dimini_operator.specs.common import Manifest, Stack, metadata, selector_labels

SCALED = ("backend", "frontend")


def _min_replicas(component: dict[str, Any]) -> int:
    auto = component["autoscaling"]
    return int(auto["minReplicas"] if auto["enabled"] else component["replicas"])


def pdbs(stack: Stack) -> list[Manifest]:
    out: list[Manifest] = []
    for part in SCALED:
        if _min_replicas(stack.spec[part]) > 1:
            out.append(
                {
                    "apiVersion": "policy/v1",
                    "kind": "PodDisruptionBudget",
                    "metadata": metadata(stack, stack.child(part), part),
                    "spec": {
                        "maxUnavailable": 1,
                        "selector": {"matchLabels": selector_labels(stack, part)},
                    },
                }
            )
    return out


def hpas(stack: Stack) -> list[Manifest]:
    out: list[Manifest] = []
    for part in SCALED:
        auto = stack.spec[part]["autoscaling"]
        if not auto["enabled"]:
            continue
        out.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": metadata(stack, stack.child(part), part),
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": stack.child(part),
                    },
                    "minReplicas": auto["minReplicas"],
                    "maxReplicas": auto["maxReplicas"],
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": auto["targetCPUUtilizationPercentage"],
                                },
                            },
                        }
                    ],
                },
            }
        )
    return out
