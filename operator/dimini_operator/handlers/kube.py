"""Thin, counted access to the Kubernetes API via lightkube (dicts in, dicts out)."""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.storage_v1 import StorageClass
from lightkube.types import PatchType

from dimini_operator import crd, kinds
from dimini_operator.handlers.retry import with_retries
from dimini_operator.metrics import API_CALLS, API_ERRORS
from dimini_operator.specs.common import FIELD_MANAGER

DiminiStack = create_namespaced_resource(crd.GROUP, crd.VERSION, crd.KIND, crd.PLURAL)

_GENERIC: dict[tuple[str, str], Any] = {}


def _res(api_version: str, kind: str) -> Any:
    """A lightkube resource class for the kind.

    Generic (dict-backed) resources rather than lightkube's typed models: objects stay plain JSON,
    which is several times cheaper than converting every listed object to dataclasses and back.
    """
    if kind == crd.KIND:
        return DiminiStack
    key = (api_version, kind)
    if key not in _GENERIC:
        group, _, version = api_version.rpartition("/")
        try:
            _GENERIC[key] = create_namespaced_resource(
                group, version, kind, kinds.BY_KIND[kind].plural
            )
        except ValueError:
            # lightkube allows one class per kind in a process: when its typed model is already
            # registered (imported by a library or a test), use that one; both read and write dicts.
            registered = resource_registry.get(api_version, kind)
            if registered is None:
                raise
            _GENERIC[key] = registered
    return _GENERIC[key]


def _to_dict(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = obj.to_dict()
    return data


def is_not_found(exc: ApiError) -> bool:
    return exc.status.code == 404


class Kube:
    """Every call is counted in dimini_operator_api_calls_total{verb,kind}."""

    def __init__(self, client: AsyncClient | None = None) -> None:
        self.client = client or AsyncClient(field_manager=FIELD_MANAGER, timeout=httpx2.Timeout(30))
        self.instance = socket.gethostname() + f"-{os.getpid()}"
        # Fields the served CRD lacks (handlers.operator.check_crd); reported on every stack.
        self.crd_missing: list[str] = []

    def _count(self, verb: str, kind: str) -> None:
        API_CALLS.labels(verb, kind).inc()

    def _error(self, verb: str, kind: str, exc: ApiError) -> None:
        API_ERRORS.labels(verb, kind, str(exc.status.code)).inc()

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str
    ) -> dict[str, Any] | None:
        self._count("get", kind)
        try:
            obj = await with_retries(
                "get",
                kind,
                lambda: self.client.get(_res(api_version, kind), name, namespace=namespace),
            )
        except ApiError as exc:
            if is_not_found(exc):
                return None
            self._error("get", kind, exc)
            raise
        data = _to_dict(obj)
        data.setdefault("apiVersion", api_version)
        data.setdefault("kind", kind)
        return data

    async def list(
        self, api_version: str, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        self._count("list", kind)

        async def call() -> list[dict[str, Any]]:
            return [
                _to_dict(o)
                async for o in self.client.list(
                    _res(api_version, kind),
                    namespace=namespace,
                    labels=dict(labels.items()),
                    chunk_size=kinds.CHUNK_SIZE,
                )
            ]

        try:
            items = await with_retries("list", kind, call)
        except ApiError as exc:
            self._error("list", kind, exc)
            raise
        # Items of a List carry no apiVersion/kind; put them back so they compare with manifests.
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply under the one field manager, taking over conflicting fields."""
        kind = manifest["kind"]
        meta = manifest["metadata"]
        self._count("apply", kind)
        try:
            obj = await with_retries(
                "apply",
                kind,
                lambda: self.client.patch(
                    _res(manifest["apiVersion"], kind),
                    meta["name"],
                    manifest,
                    namespace=meta["namespace"],
                    patch_type=PatchType.APPLY,
                    field_manager=FIELD_MANAGER,
                    force=True,
                ),
            )
        except ApiError as exc:
            self._error("apply", kind, exc)
            raise
        return _to_dict(obj)

    async def merge_patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str,
        patch: dict[str, Any],
        *,
        status: bool = False,
    ) -> dict[str, Any]:
        res = _res(api_version, kind)
        if status:
            res = res.Status
        label = kind + ("/status" if status else "")
        return await self._patch(res, label, name, namespace, patch, PatchType.MERGE)

    async def json_patch(
        self, api_version: str, kind: str, name: str, namespace: str, ops: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        # `list` in this signature would name the method above, hence Sequence.
        res = _res(api_version, kind)
        return await self._patch(res, kind, name, namespace, list(ops), PatchType.JSON)

    async def _patch(
        self, res: Any, label: str, name: str, namespace: str, body: Any, patch_type: PatchType
    ) -> dict[str, Any]:
        self._count("patch", label)
        try:
            obj = await with_retries(
                "patch",
                label.partition("/")[0],
                lambda: self.client.patch(
                    res,
                    name,
                    body,
                    namespace=namespace,
                    patch_type=patch_type,
                    field_manager=FIELD_MANAGER,
                ),
            )
        except ApiError as exc:
            self._error("patch", label.partition("/")[0], exc)
            raise
        return _to_dict(obj)

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        kind = manifest["kind"]
        res = _res(manifest["apiVersion"], kind)
        self._count("create", kind)
        try:
            obj = await with_retries(
                "create",
                kind,
                # from_dict, not the constructor: a typed model (see _res) takes fields, not a dict.
                lambda: self.client.create(res.from_dict(manifest), field_manager=FIELD_MANAGER),
            )
        except ApiError as exc:
            self._error("create", kind, exc)
            raise
        return _to_dict(obj)

    async def delete(self, api_version: str, kind: str, name: str, namespace: str) -> None:
        self._count("delete", kind)
        try:
            await with_retries(
                "delete",
                kind,
                lambda: self.client.delete(_res(api_version, kind), name, namespace=namespace),
            )
        except ApiError as exc:
            if is_not_found(exc):
                return
            self._error("delete", kind, exc)
            raise

    async def post_event(
        self, stack: dict[str, Any], type_: str, reason: str, message: str
    ) -> None:
        """A core/v1 Event about the stack (used on transitions only)."""
        meta = stack["metadata"]
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await self.create(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
                "involvedObject": {
                    "apiVersion": f"{crd.GROUP}/{crd.VERSION}",
                    "kind": crd.KIND,
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                },
                "type": type_,
                "reason": reason,
                "message": message[:1000],
                "source": {"component": FIELD_MANAGER},
                "reportingComponent": FIELD_MANAGER,
                "reportingInstance": self.instance[:128],
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            }
        )

    async def resource_installed(self, namespace: str | None) -> bool:
        """Whether the API server serves DiminiStacks (the CRD is installed)."""
        self._count("list", crd.KIND)
        try:
            async for _ in self.client.list(DiminiStack, namespace=namespace, chunk_size=1):
                break
        except httpx2.HTTPStatusError as exc:  # ApiError, or a plain 404 for an unknown group
            if exc.response is not None and exc.response.status_code == 404:
                return False
            raise
        return True

    async def crd_object(self) -> dict[str, Any] | None:
        """The DiminiStack CRD as served, or None when it cannot be read: 403 is expected where
        the chart's `<release>-crd` ClusterRole is not bound (a hand-made RoleBinding)."""
        self._count("get", "CustomResourceDefinition")
        try:
            obj = await with_retries(
                "get",
                "CustomResourceDefinition",
                lambda: self.client.get(CustomResourceDefinition, crd.CRD_NAME),
            )
        except ApiError as exc:
            if exc.status.code in (403, 404):
                return None
            self._error("get", "CustomResourceDefinition", exc)
            raise
        return _to_dict(obj)

    async def storage_class(self, name: str) -> tuple[dict[str, Any] | None, str]:
        """(the StorageClass or None when it does not exist, why it could not be read)."""
        self._count("get", "StorageClass")
        try:
            obj = await with_retries(
                "get", "StorageClass", lambda: self.client.get(StorageClass, name)
            )
        except ApiError as exc:
            if is_not_found(exc):
                return None, ""
            self._error("get", "StorageClass", exc)
            if exc.status.code == 403:
                return None, f"forbidden: {exc.status.message}"
            raise
        return _to_dict(obj), ""

    async def close(self) -> None:
        await self.client.close()
