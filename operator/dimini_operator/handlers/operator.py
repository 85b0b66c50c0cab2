"""kopf wiring: watch stacks and their children, feed the per-stack workers.

No kopf state is stored on the objects (only event handlers, no finalizers, no annotations):
kopf watches, the workers reconcile, and deletion is left to owner references.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from dimini_operator import crd, kinds
from dimini_operator.handlers.kube import Kube
from dimini_operator.handlers.leader import Leader
from dimini_operator.handlers.reconcile import Result, reconcile
from dimini_operator.handlers.store import ChildStore
from dimini_operator.handlers.workers import Workers
from dimini_operator.metrics import CRD_OUTDATED, ERRORS
from dimini_operator.specs.common import LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY
from dimini_operator.specs.crdcheck import missing_fields, served_schema

log = logging.getLogger("dimini_operator")

# Set by __main__ before kopf starts.
CONFIG: dict[str, Any] = {
    "resync": 300.0,
    "debounce": 0.05,
    "concurrency": 8,
    "namespaces": [],
    "lease_namespace": "default",
}
STATE: dict[str, Any] = {}

CHILD_LABELS = {LABEL_MANAGED_BY: MANAGED_BY}


def _resource_is(kind: kinds.Kind) -> Callable[[Any], bool]:
    """A kopf resource selector (a callable key of settings.watching.label_selectors)."""

    def match(resource: Any) -> bool:
        return bool(resource.group == kind.group and resource.plural == kind.plural)

    return match


def store() -> ChildStore | None:
    s: ChildStore | None = STATE.get("store")
    return s


def workers() -> Workers:
    w: Workers = STATE["workers"]
    return w


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.enabled = False  # Events are posted by the reconciler, on transitions only.
    settings.scanning.disabled = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.chunk_size = kinds.CHUNK_SIZE
    for kind in kinds.CHILDREN:
        settings.watching.label_selectors[_resource_is(kind)] = kind.watch_selector
    kube = Kube()
    STATE["kube"] = kube
    # kopf resolves the watched resources once, after the startup handlers: wait here for the CRD
    # rather than start without it and never notice it being installed.
    namespaces = CONFIG.get("namespaces") or [None]
    if not await kube.resource_installed(namespaces[0]):
        await kube.close()
        raise kopf.TemporaryError(
            f"CRD {crd.CRD_NAME} is not installed (kubectl apply --server-side -f "
            "manifests/crds/); retrying",
            delay=5,
        )

    await check_crd(kube)
    STATE["crd_check"] = asyncio.create_task(_check_crd_every(kube, CONFIG["resync"]))

    # Children read by the reconciles instead of listed; listed again per stack at the resync.
    store = ChildStore(refresh=CONFIG["resync"])
    STATE["store"] = store

    async def run(namespace: str, name: str) -> Any:
        if not leader.leading:
            return Result()  # another replica leads; it reconciles
        return await reconcile(kube, namespace, name, store)

    STATE["workers"] = Workers(
        run, resync=CONFIG["resync"], debounce=CONFIG["debounce"], concurrency=CONFIG["concurrency"]
    )
    leader = Leader(kube, CONFIG["lease_namespace"], kube.instance, workers().trigger_all)
    STATE["leader"] = leader
    leader.start()


async def check_crd(kube: Kube) -> None:
    """Note (log, metric, stack condition `CRDOutdated`) fields the served CRD lacks."""
    served = await kube.crd_object()
    if served is None:
        log.info("cannot read CRD %s (no RBAC for it): its version is not checked", crd.CRD_NAME)
        return
    own = crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    missing = missing_fields(own, served_schema(served, crd.VERSION))
    if missing and missing != kube.crd_missing:
        log.warning(
            "CRD %s is older than this operator; it prunes %s: upgrade it (helm upgrade, or "
            "kubectl apply --server-side -f manifests/crds/)",
            crd.CRD_NAME,
            ", ".join(missing),
        )
    if not missing and kube.crd_missing:
        log.info("CRD %s is current again", crd.CRD_NAME)
    CRD_OUTDATED.set(1 if missing else 0)
    if missing != kube.crd_missing:
        kube.crd_missing = missing
        if "workers" in STATE:
            workers().trigger_all()


async def _check_crd_every(kube: Kube, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await check_crd(kube)
        except Exception:  # a failed check is retried next period; it must not stop the loop
            ERRORS.labels("crd_check").inc()
            log.exception("checking the CRD failed")


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if "crd_check" in STATE:
        STATE["crd_check"].cancel()
    if "leader" in STATE:
        await STATE["leader"].release()
    if "workers" in STATE:
        await workers().stop_all()
    if "kube" in STATE:
        await STATE["kube"].close()


@kopf.on.probe(id="stacks")
def probe_stacks(**_: Any) -> int:
    return len(workers().workers) if "workers" in STATE else 0


@kopf.on.event(kinds.STACK.group, kinds.STACK.version, kinds.STACK.plural)
async def stack_event(type: str | None, name: str, namespace: str | None, **_: Any) -> None:
    if namespace is None:
        return
    if type == "DELETED":
        if (s := store()) is not None:
            s.forget(namespace, name)
        await workers().forget(namespace, name)
        return
    if type == "ADDED" and (s := store()) is not None:
        # Created while the watches run (not kopf's initial listing, type None): every child it
        # will have is reported to the store, so its reconciles list nothing.
        s.mark_complete(namespace, name, time.monotonic())
    workers().trigger(namespace, name, create=True)


def _to_store(event: Mapping[str, Any]) -> None:
    """A child's watch event into the store, before its reconcile is triggered (which then sees
    at least this state)."""
    s, obj = store(), event.get("object")
    if s is not None and isinstance(obj, dict):
        s.event(event.get("type"), obj)


def _child_event(
    namespace: str | None, labels: Mapping[str, str], event: Mapping[str, Any], **_: Any
) -> None:
    instance = labels.get(LABEL_INSTANCE)
    if instance and namespace:
        _to_store(event)
        workers().trigger(namespace, instance)


# Secrets have their own handler below (referenced user Secrets carry no labels of ours).
for _kind in kinds.CHILDREN:
    if _kind.kind == "Secret":
        continue
    kopf.on.event(
        group=_kind.group,
        version=_kind.version,
        plural=_kind.plural,
        labels=CHILD_LABELS,
        id=f"child-{_kind.plural}",
    )(_child_event)


@kopf.on.event("", "v1", "secrets")
def secret_event(
    name: str,
    namespace: str | None,
    labels: Mapping[str, str],
    event: Mapping[str, Any],
    **_: Any,
) -> None:
    if namespace is None:
        return
    try:
        if labels.get(LABEL_MANAGED_BY) == MANAGED_BY and labels.get(LABEL_INSTANCE):
            _to_store(event)
            workers().trigger(namespace, labels[LABEL_INSTANCE])
        workers().trigger_by_secret(namespace, name)
    except Exception:
        ERRORS.labels("secret_event").inc()
        raise
