"""PodDisruptionBudgets (when more than one replica) and HorizontalPodAutoscalers."""

from __future__ import annotations

from dimini_operator.specs.common import Manifest, Stack, metadata, selector_labels
from dimini_operator.specs.model import Backend, Frontend


def _scaled(stack: Stack) -> list[tuple[str, Backend | Frontend]]:
    return [("backend", stack.spec.backend), ("frontend", stack.spec.frontend)]


def _min_replicas(component: Backend | Frontend) -> int:
    auto = component.autoscaling
    return auto.min_replicas if auto.enabled else component.replicas


def pdbs(stack: Stack) -> list[Manifest]:
    out: list[Manifest] = []
    for part, component in _scaled(stack):
        if _min_replicas(component) > 1:
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
    for part, component in _scaled(stack):
        auto = component.autoscaling
        if not auto.enabled:
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
                    "minReplicas": auto.min_replicas,
                    "maxReplicas": auto.max_replicas,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": auto.target_cpu_utilization_percentage,
                                },
                            },
                        }
                    ],
                },
            }
        )
    return out
