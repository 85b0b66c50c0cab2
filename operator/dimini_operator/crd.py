"""The DiminiStack CustomResourceDefinition, built in Python.

The schema is generated from the declared model (`specs.model`): `manifests/crds/` and the
chart's copy are generated from this module (`make manifests`), a unit test keeps them in step,
and `specs.defaults` defaults a spec with the same model, so the render functions see exactly what
the API server would store.
"""

from __future__ import annotations

from typing import Any

from dimini_operator.specs.model import SPEC_RULES, StackSpec, StackStatus
from dimini_operator.specs.schema import object_schema

GROUP = "dimini.io"
VERSION = "v1alpha1"
KIND = "DiminiStack"
PLURAL = "diministacks"
SINGULAR = "diministack"
SHORT_NAMES = ["dimini"]
CRD_NAME = f"{PLURAL}.{GROUP}"

Schema = dict[str, Any]


def _s(description: str) -> Schema:
    return {"type": "string", "description": description}


def spec_schema() -> Schema:
    schema = object_schema(StackSpec)
    schema["x-kubernetes-validations"] = list(SPEC_RULES)
    return schema


def status_schema() -> Schema:
    return object_schema(StackStatus)


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {
                "app.kubernetes.io/name": "dimini-operator",
                "app.kubernetes.io/part-of": "dimini",
            },
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": KIND + "List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": ["dimini"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                            "description": "Whether the whole stack is ready.",
                        },
                        {
                            "name": "Phase",
                            "type": "string",
                            "jsonPath": ".status.phase",
                            "description": "Summary phase.",
                        },
                        {
                            "name": "Version",
                            "type": "string",
                            "jsonPath": ".status.version",
                            "description": "Backend image tag rolled out.",
                        },
                        {
                            "name": "URL",
                            "type": "string",
                            "jsonPath": ".status.url",
                            "description": "Where the stack is served.",
                        },
                        {
                            "name": "Age",
                            "type": "date",
                            "jsonPath": ".metadata.creationTimestamp",
                        },
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "DiminiStack is one complete Dimini installation: "
                            "Postgres, backend, frontend, routing and secrets, reconciled by the "
                            "dimini operator.",
                            "properties": {
                                "apiVersion": _s("APIVersion of this object (dimini.io/v1alpha1)."),
                                "kind": _s("Kind of this object (DiminiStack)."),
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                            "required": ["spec"],
                            **{
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "self.metadata.name.size() <= 40 && "
                                        "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
                                        "message": "metadata.name must be a DNS-1035 label of at "
                                        "most 40 characters (children are named <name>-<part>)",
                                        "reason": "FieldValueInvalid",
                                    }
                                ]
                            },
                        }
                    },
                }
            ],
        },
    }


def crd_yaml() -> str:
    import yaml

    header = (
        "# Generated by `python -m dimini_operator crd` from operator/dimini_operator/crd.py;\n"
        "# edit that file, not this one.\n"
    )
    return header + yaml.safe_dump(crd(), sort_keys=False, width=100)
