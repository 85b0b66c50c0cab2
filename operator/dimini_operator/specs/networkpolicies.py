"""NetworkPolicy: Postgres accepts connections only from backend, migration and backup pods."""

from __future__ import annotations

from dimini_operator.specs.common import (
    APP_NAME,
    LABEL_COMPONENT,
    LABEL_INSTANCE,
    LABEL_NAME,
    POSTGRES_PORT,
    Manifest,
    Stack,
    metadata,
    selector_labels,
)


def render(stack: Stack) -> list[Manifest]:
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(stack, stack.child("postgres"), "postgres"),
            "spec": {
                "podSelector": {"matchLabels": selector_labels(stack, "postgres")},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "podSelector": {
                                    "matchLabels": {
                                        LABEL_NAME: APP_NAME,
                                        LABEL_INSTANCE: stack.name,
                                    },
                                    "matchExpressions": [
                                        {
                                            "key": LABEL_COMPONENT,
                                            "operator": "In",
                                            "values": ["backend", "migration", "backup"],
                                        }
                                    ],
                                }
                            }
                        ],
                        "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}],
                    }
                ],
            },
        }
    ]
