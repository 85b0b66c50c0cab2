"""The cluster as the plugin sees it: DiminiStacks and their pods (lightkube, the current
kubeconfig), and kubectl for what needs a terminal (exec, logs)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import httpx2
from lightkube import ALL_NS, ApiError, Client, ConfigError
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from dimini_operator import crd
from dimini_operator.handlers.kube import DiminiStack
from dimini_operator.kubectl_plugin.errors import FAILED, USAGE, PluginError
from dimini_operator.specs.common import APP_NAME, LABEL_INSTANCE, LABEL_NAME, Stack
from dimini_operator.specs.defaults import parse_spec

FIELD_MANAGER = "kubectl-dimini"
NO_KIND = "the server could not find the requested resource"
ALL_NAMESPACES = ALL_NS
Obj = dict[str, Any]


@contextmanager
def api_errors() -> Iterator[None]:
    """The API's and the kubeconfig's failures as one-line PluginErrors."""
    try:
        yield
    except ConfigError as exc:
        raise PluginError(f"no usable kubeconfig: {exc}") from None
    except httpx2.HTTPError as exc:
        raise PluginError(f"cannot reach the Kubernetes API: {exc}", FAILED) from None
    except ApiError as exc:
        message = exc.status.message or ""
        # A 404 for the kind itself, not for an object of it.
        if exc.status.code == 404 and NO_KIND in message:
            raise PluginError(f"the {crd.CRD_NAME} CRD is not installed in this cluster") from None
        raise PluginError(f"the Kubernetes API refused: {message}", FAILED) from None


def _dict(obj: Any) -> Obj:
    # lightkube's generic resources are untyped; their to_dict() is the JSON object.
    out: Obj = obj.to_dict()
    return out


class Cluster:
    def __init__(self, namespace: str | None = None, client: Client | None = None) -> None:
        with api_errors():
            self.client = client or Client(field_manager=FIELD_MANAGER)
        # -n, else the kubeconfig context's namespace, as kubectl does.
        self.namespace = namespace or self.client.namespace

    def stacks(self, all_namespaces: bool = False) -> list[Obj]:
        ns = ALL_NAMESPACES if all_namespaces else self.namespace
        with api_errors():
            items = [_dict(o) for o in self.client.list(DiminiStack, namespace=ns)]
        return sorted(items, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))

    def stack(self, name: str) -> Obj:
        """The DiminiStack `name` in the namespace; a clear error when there is none."""
        with api_errors():
            try:
                return _dict(self.client.get(DiminiStack, name, namespace=self.namespace))
            except ApiError as exc:
                if exc.status.code != 404 or NO_KIND in (exc.status.message or ""):
                    raise
            self._not_found(name)

    def _not_found(self, name: str) -> NoReturn:
        others = [o["metadata"]["name"] for o in self.stacks()]
        hint = f" (there: {', '.join(others)})" if others else f" (it has no {crd.KIND}s)"
        raise PluginError(f"no {crd.KIND} {name!r} in namespace {self.namespace!r}{hint}", USAGE)

    def pods(self, labels: Mapping[str, str], namespace: str | None = None) -> list[Obj]:
        with api_errors():
            pods = self.client.list(Pod, namespace=namespace or self.namespace, labels=dict(labels))
            return [_dict(p) for p in pods]

    def stack_pods(self, name: str) -> list[Obj]:
        return self.pods(stack_selector(name))

    def annotate(self, name: str, annotations: Mapping[str, str]) -> Obj:
        with api_errors():
            patched = self.client.patch(
                DiminiStack,
                name,
                {"metadata": {"annotations": dict(annotations)}},
                namespace=self.namespace,
                patch_type=PatchType.MERGE,
            )
            return _dict(patched)

    def create_stack(self, doc: Obj) -> Obj:
        with api_errors():
            return _dict(self.client.create(DiminiStack.from_dict(doc)))


def stack_selector(name: str) -> dict[str, str]:
    """Every pod of a stack (common.selector_labels without the component)."""
    return {LABEL_NAME: APP_NAME, LABEL_INSTANCE: name}


def as_stack(obj: Obj) -> Stack:
    """The operator's view of a stored DiminiStack (its validated, defaulted spec)."""
    meta = obj["metadata"]
    try:
        spec = parse_spec(obj.get("spec") or {})
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise PluginError(
            f"{crd.KIND} {meta['name']!r} has a spec the operator refuses: {first}"
        ) from None
    return Stack(
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation", 1)),
        spec=spec,
    )


def selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        raise PluginError("kubectl is not on PATH (psql and logs run through it)")
    return path


def run_kubectl(argv: Sequence[str]) -> NoReturn:
    """Replace this process with kubectl: its terminal, signals and exit code are the user's."""
    binary = kubectl()
    os.execv(binary, [binary, *argv])  # noqa: S606 - argv, no shell
