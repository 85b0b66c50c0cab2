"""One reconcile of one stack: read, render (pure), apply, report."""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx2
from lightkube import ApiError

from dimini_operator import crd, kinds
from dimini_operator.handlers.kube import Kube
from dimini_operator.handlers.retry import TransientError
from dimini_operator.handlers.store import ChildStore
from dimini_operator.metrics import (
    RECONCILE_SECONDS,
    RECONCILES,
    TRANSITIONS,
    record_backup,
    record_stack,
)
from dimini_operator.specs import (
    backend,
    backup,
    database,
    inplace,
    migration,
    rotation,
    status,
    storage,
)
from dimini_operator.specs.common import (
    LABEL_COMPONENT,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    MANAGED_BY,
    Stack,
    digest,
    retained_patch,
    selector_labels,
)
from dimini_operator.specs.defaults import parse_spec
from dimini_operator.specs.drift import (
    is_subset,
    merge_diff,
    repair_patch,
    up_to_date,
    update_entry_removal,
)
from dimini_operator.specs.plan import Key, Observed, Plan, prunable, render
from dimini_operator.specs.postgres import pvc_name
from dimini_operator.specs.secrets import CONNECTION_KEY

log = logging.getLogger("dimini_operator.reconcile")

FIRST_WAVE = frozenset({"Secret", "ServiceAccount", "Service", "NetworkPolicy"})
STACK_API = f"{crd.GROUP}/{crd.VERSION}"
CHILD_KINDS = frozenset(k.kind for k in kinds.CHILDREN)


@dataclass
class Result:
    gone: bool = False
    referenced_secrets: tuple[str, ...] = ()
    writes: int = 0
    # A Secret the stack needs is missing: it may appear without an event we watch (user Secrets
    # need not carry our labels), so the worker re-reads soon instead of at the resync.
    recheck: bool = False


def _decode(secret: dict[str, Any] | None, key: str) -> str | None:
    if not secret:
        return None
    raw = (secret.get("data") or {}).get(key)
    if not raw:
        return None
    return base64.b64decode(raw).decode()


def _connection_credentials(conn: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(username, password) in `<stack>-connection`'s DATABASE_URL (what the pods use)."""
    url = _decode(conn, CONNECTION_KEY)
    if not url:
        return None, None
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    if not userinfo:
        return None, None
    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _list_children(kube: Kube, kind: kinds.Kind, stack: Stack) -> list[dict[str, Any]]:
    selector = {LABEL_INSTANCE: stack.name, LABEL_MANAGED_BY: MANAGED_BY}
    try:
        return await kube.list(kind.api_version, kind.kind, stack.namespace, selector)
    except httpx2.HTTPStatusError as exc:
        # An optional kind whose CRD is not installed (ApiError, or a bare 404 for an unknown
        # group): there is none of it; a stack that wants one fails at the apply instead.
        if kind.optional and exc.response is not None and exc.response.status_code == 404:
            return []
        raise


async def observe_children(
    kube: Kube, stack: Stack, store: ChildStore | None = None
) -> dict[Key, dict[str, Any]]:
    """The stack's children: from the watch-fed store when it holds them all (handlers/store.py
    says why a lagging one only delays decisions), else listed (and the store refilled)."""
    now = time.monotonic()  # before the listing: it is complete as of its start
    cached = store.children(stack.namespace, stack.name, now) if store is not None else None
    if cached is not None:
        listed = list(cached.values())
    else:
        lists = await asyncio.gather(*(_list_children(kube, k, stack) for k in kinds.CHILDREN))
        listed = [obj for objs in lists for obj in objs]
        if store is not None:
            store.replace(stack.namespace, stack.name, listed, now)
    children: dict[Key, dict[str, Any]] = {}
    for obj in listed:
        kind = obj["kind"]
        owners = obj.get("metadata", {}).get("ownerReferences") or []
        # Leftovers of a deleted stack with the same name are adopted, but a child owned by
        # another live object is not ours to judge.
        if owners and not any(o.get("kind") == crd.KIND for o in owners) and kind != "Job":
            continue
        children[(kind, obj["metadata"]["name"])] = obj
    return children


async def observe_backups(
    kube: Kube, stack: Stack, children: dict[Key, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The backup claim into `children`; the reports of the backup pods, by Job name."""
    if backup.config(stack) is None and backup.from_backup(stack) is None:
        return {}
    # Under deletionPolicy Retain the claim carries no instance label: read it by name.
    claim = await kube.get("v1", "PersistentVolumeClaim", backup.pvc_name(stack), stack.namespace)
    if claim is not None:
        children[("PersistentVolumeClaim", backup.pvc_name(stack))] = claim
    reports: dict[str, dict[str, Any]] = {}
    for job, pod in await _job_pods(kube, stack, backup.COMPONENT):
        report = backup.pod_report(pod)
        if report is not None:
            reports[job] = report
    return reports


async def _job_pods(kube: Kube, stack: Stack, component: str) -> list[tuple[str, dict[str, Any]]]:
    """(Job name, pod) of the stack's Job pods of one component."""
    selector = {
        LABEL_INSTANCE: stack.name,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_COMPONENT: component,
    }
    out: list[tuple[str, dict[str, Any]]] = []
    for pod in await kube.list("v1", "Pod", stack.namespace, selector):
        labels = pod.get("metadata", {}).get("labels") or {}
        job = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
        if job:
            out.append((job, pod))
    return out


async def count_backend_pods(kube: Kube, stack: Stack) -> int:
    """The stack's backend pods, terminating ones included (an in-place restore waits until
    none is left: a terminating pod may still write)."""
    selector = selector_labels(stack, "backend")
    return len(await kube.list("v1", "Pod", stack.namespace, selector))


async def observe_migration_failures(
    kube: Kube, stack: Stack, children: dict[Key, dict[str, Any]]
) -> dict[str, str]:
    """Failed migration Jobs' pod reports, by Job name; no listing while none has failed."""
    failed = {
        name
        for (kind, name), job in children.items()
        if kind == "Job"
        and ((job.get("metadata") or {}).get("labels") or {}).get(LABEL_COMPONENT)
        == migration.COMPONENT
        and migration.job_state(job)[0] == "Failed"
    }
    if not failed:
        return {}
    reports: dict[str, str] = {}
    for job, pod in await _job_pods(kube, stack, migration.COMPONENT):
        if job in failed and (report := migration.pod_report(pod)):
            reports[job] = report
    return reports


async def check_referenced_secrets(
    kube: Kube, stack: Stack
) -> tuple[tuple[str, ...], str, dict[str, dict[str, Any]]]:
    """Messages for missing Secrets/keys, a digest of the referenced data, the Secrets read."""
    problems: list[str] = []
    data: dict[str, str] = {}
    found: dict[str, dict[str, Any]] = {}
    for field, name, keys in backend.referenced_secrets(stack):
        secret = await kube.get("v1", "Secret", name, stack.namespace)
        if secret is None:
            problems.append(f'Secret "{name}" ({field}) not found')
            continue
        found[name] = secret
        have = secret.get("data") or {}
        missing = [k for k in keys if k not in have]
        if missing:
            problems.append(f'Secret "{name}" ({field}) has no key {", ".join(missing)}')
        if field not in backend.DB_CREDENTIAL_FIELDS:
            # Pods read the BYO password only through `<stack>-connection` (whose identity is in
            # the checksum): a new one must not roll them before Postgres has it (rotation).
            data[name] = digest(have)
    return tuple(problems), digest(data), found


async def _data_claim(kube: Kube, stack: Stack) -> dict[str, Any] | None:
    if database.external(stack):
        return None
    return await kube.get("v1", "PersistentVolumeClaim", pvc_name(stack), stack.namespace)


async def observe_growth(kube: Kube, stack: Stack, pvc: dict[str, Any] | None) -> storage.Growth:
    """The data claim's growth; its StorageClass is read only when the spec asks for more."""
    if not storage.wants_growth(stack, pvc):
        return storage.plan(stack, pvc)
    assert pvc is not None
    name = storage.class_name(pvc)
    sc, problem = await kube.storage_class(name) if name else (None, "")
    return storage.plan(stack, pvc, sc, problem)


async def grow_claim(
    kube: Kube, stack: Stack, pvc: dict[str, Any], growth: storage.Growth
) -> tuple[storage.Growth, int]:
    """Patch the claim's request; the API server's refusal (its resize admission) is reported."""
    assert growth.patch is not None
    try:
        patched = await kube.merge_patch(
            "v1", "PersistentVolumeClaim", pvc_name(stack), stack.namespace, growth.patch
        )
    except ApiError as exc:
        if exc.status.code not in (403, 422):
            raise
        return storage.patch_refused(stack, pvc, str(exc.status.message)), 1
    log.info("stack %s/%s: %s", stack.namespace, stack.name, growth.message)
    return storage.progress(stack, patched), 1


def _identity(obj: dict[str, Any] | None) -> str:
    """uid and resourceVersion: they change when a generated Secret is recreated or edited,
    without putting anything derived from its values into the pod template."""
    meta = (obj or {}).get("metadata") or {}
    return f"{meta.get('uid', '')}/{meta.get('resourceVersion', '')}"


class CredentialsRaced(Exception):
    """Another writer created a generated Secret first: reconcile again with its values."""


async def create_generated(kube: Kube, plan: Plan, children: dict[Key, dict[str, Any]]) -> int:
    """Create the generated Secrets that do not exist yet (never applied over)."""
    writes = 0
    for manifest in plan.create_only:
        key = (manifest["kind"], manifest["metadata"]["name"])
        if manifest["kind"] != "Secret" or key in children:
            continue
        try:
            children[key] = await kube.create(manifest)
        except ApiError as exc:
            if exc.status.code == 409:
                raise CredentialsRaced(key[1]) from exc
            raise
        writes += 1
    return writes


async def ensure_retained(kube: Kube, stack: Stack, objs: list[dict[str, Any] | None]) -> int:
    """Argo-safe labels/annotations on what deletionPolicy Retain leaves ownerless."""
    writes = 0
    for obj in objs:
        patch = retained_patch(obj, stack.name) if obj else None
        if obj is None or patch is None:
            continue
        kind = kinds.BY_KIND[obj["kind"]]
        name = obj["metadata"]["name"]
        await kube.merge_patch(kind.api_version, kind.kind, name, stack.namespace, patch)
        writes += 1
    return writes


async def ensure(
    kube: Kube, desired: dict[str, Any], actual: dict[str, Any] | None
) -> tuple[dict[str, Any], int]:
    """Apply `desired` unless the live object is up to date; returns (object, write calls)."""
    if up_to_date(desired, actual):
        assert actual is not None
        return actual, 0
    writes = 1
    body = {k: v for k, v in desired.items() if k != "status"}
    try:
        result: dict[str, Any] | None = await kube.apply(desired)
    except ApiError as exc:
        if exc.status.code not in (409, 422) or actual is None:
            raise
        result = None
    current = result if result is not None else actual
    assert current is not None
    if not is_subset(body, current):
        # Server-side apply cannot undo every edit by other managers (e.g. a changed item of
        # an associative list); put the desired values back with a merge patch.
        patch = repair_patch(body.get("spec", {}), current.get("spec", {}))
        if patch is not None:
            writes += 1
            meta = desired["metadata"]
            current = await kube.merge_patch(
                desired["apiVersion"],
                desired["kind"],
                meta["name"],
                meta["namespace"],
                {"spec": patch},
            )
            if result is None:
                writes += 1
                current = await kube.apply(desired)
            current, removed = await drop_update_entries(kube, current)
            writes += removed
    return current, writes


async def drop_update_entries(kube: Kube, obj: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Leave the operator only its Apply entry in `obj`'s managedFields (see
    drift.update_entry_removal); returns (object, write calls)."""
    ops = update_entry_removal(obj)
    if ops is None:
        return obj, 0
    meta = obj["metadata"]
    try:
        patched = await kube.json_patch(
            obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"], ops
        )
    except ApiError as exc:
        # A failed `test`: the object changed in between. The entry is only a leftover; the next
        # repair removes it.
        if exc.status.code != 422:
            raise
        return obj, 1
    return patched, 1


async def reconcile(
    kube: Kube, namespace: str, name: str, store: ChildStore | None = None
) -> Result:
    started = time.monotonic()
    try:
        try:
            result = await _reconcile(kube, namespace, name, store)
        except CredentialsRaced as exc:
            # Lost a create race for a generated Secret (or the store had not seen it yet): use
            # the winner's values, listed.
            log.info(
                "stack %s/%s: Secret %s created concurrently; re-reading", namespace, name, exc
            )
            if store is not None:
                store.invalidate(namespace, name)
            result = await _reconcile(kube, namespace, name, store)
    except Exception:
        RECONCILES.labels("error").inc()
        raise
    finally:
        RECONCILE_SECONDS.observe(time.monotonic() - started)
    RECONCILES.labels("success").inc()
    return result


async def _reconcile(
    kube: Kube, namespace: str, name: str, store: ChildStore | None = None
) -> Result:
    body = await kube.get(STACK_API, crd.KIND, name, namespace)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return Result(gone=True)
    meta = body["metadata"]
    stack = Stack(
        name=name,
        namespace=namespace,
        uid=meta["uid"],
        generation=int(meta.get("generation", 1)),
        spec=parse_spec(body.get("spec") or {}),
    )
    old_status: dict[str, Any] = body.get("status") or {}
    paused = stack.spec.paused
    children = await observe_children(kube, stack, store)
    # A create refused with 409 for an object not in the store: list and look again soon.
    stale = False

    # Generated credentials: read what exists, generate only what never existed, and never a
    # new database password for a data volume that already has one.
    # An external database's credentials are the user's, like a BYO Secret's (never generated).
    external = database.external(stack)
    byo = stack.spec.postgres.existing_secret or (stack.db_secret_name if external else None)
    db_obj = children.get(("Secret", stack.child("db")))
    pvc: dict[str, Any] | None = None
    if not byo:
        # A retained `-db` Secret carries no instance label, so it is not in the listing.
        db_obj = db_obj or await kube.get("v1", "Secret", stack.child("db"), namespace)
        pvc = await kube.get("v1", "PersistentVolumeClaim", pvc_name(stack), namespace)
    if db_obj is not None:
        children[("Secret", stack.child("db"))] = db_obj
    app_obj = children.get(("Secret", stack.app_secret_name))
    lost = not byo and db_obj is None and pvc is not None
    generated = "" if lost or external else secrets.token_urlsafe(24)
    password = _decode(db_obj, "password") or generated
    secret_key = _decode(app_obj, "SECRET_KEY") or secrets.token_urlsafe(48)

    problems, checksum, referenced = await check_referenced_secrets(kube, stack)
    username = None
    if byo and byo in referenced:
        username = _decode(referenced[byo], "username")
        password = _decode(referenced[byo], "password") or ""
    # Rotation: a password in the credentials Secret that differs from the one the pods use is
    # set inside Postgres by a Job first; only then does `<stack>-connection` move to it.
    conn_obj = children.get(("Secret", stack.child("connection")))
    rot: rotation.Rotation | None = None
    # External: the user owns the password, changes it on the server and in the Secret; the
    # operator has no superuser there to rotate it with.
    if password and not lost and not external:
        cred_identity = _identity(referenced.get(byo) if byo else db_obj)
        job = children.get(("Job", rotation.job_name(stack, cred_identity)))
        job_state, _, job_message = migration.job_state(job)
        in_use_user, in_use_password = _connection_credentials(conn_obj)
        rot = rotation.plan(
            stack,
            in_use=in_use_password,
            desired=password,
            # Only a BYO Secret names a username (the generated one's is immutable by CEL).
            in_use_user=in_use_user if username is not None else None,
            desired_user=username,
            secret_name=byo or stack.child("db"),
            secret_identity=cred_identity,
            job_state=job_state,
            job_message=job_message,
        )
        password = rot.connection_password
        username = rot.connection_user if username is not None else None
    # The connection's identity too: pods read DATABASE_URL at start, so they roll onto a
    # rotated password once `<stack>-connection` carries it.
    checksum = digest([checksum, _identity(db_obj), _identity(app_obj), _identity(conn_obj)])
    applied_image = (old_status.get("migration") or {}).get("image")
    backup_request = (meta.get("annotations") or {}).get(backup.BACKUP_NOW_ANNOTATION) or None
    backup_requested = (old_status.get("backup") or {}).get("requested")
    backup_reports = await observe_backups(kube, stack, children)
    restore_request = (meta.get("annotations") or {}).get(
        backup.RESTORE_IN_PLACE_ANNOTATION
    ) or None
    restore_status = old_status.get("restore") or None
    backend_pods = (
        await count_backend_pods(kube, stack)
        if inplace.wants_pods(restore_request, restore_status)
        else None
    )
    migration_reports = await observe_migration_failures(kube, stack, children)
    # Read above unless the credentials are BYO; with an external database there is none.
    data_pvc = await _data_claim(kube, stack) if byo and not external else pvc
    growth = await observe_growth(kube, stack, data_pvc)
    observed = Observed(
        db_password=password,
        secret_key=secret_key,
        children=children,
        db_username=username,
        credentials_lost=lost,
        secret_problems=problems,
        config_checksum=checksum,
        applied_image=applied_image,
        rotation_problem=rot.message if rot is not None and rot.state == "Failed" else "",
        backup_request=backup_request,
        backup_requested=backup_requested,
        backup_reports=backup_reports,
        migration_reports=migration_reports,
        restore_request=restore_request,
        restore_status=restore_status,
        backend_pods=backend_pods,
    )
    plan: Plan = render(stack, observed)
    writes = 0
    apply_errors: list[str] = []
    if not paused:
        writes += await create_generated(kube, plan, children)
        if rot is not None and rot.job is not None:
            try:
                job_obj = await kube.create(rot.job)
                children[("Job", rot.job["metadata"]["name"])] = job_obj
                writes += 1
                log.info("stack %s/%s: rotating the database password", namespace, name)
            except ApiError as exc:
                if exc.status.code != 409:  # 409: created by an earlier reconcile
                    apply_errors.append(f"Job {rot.job['metadata']['name']}: {exc.status.message}")
                stale = True
        if stack.spec.deletion_policy == "Retain":
            writes += await ensure_retained(kube, stack, [None if byo else db_obj, pvc])
        # Two waves: what pods refer to (Secrets, ServiceAccounts, Services) first, so no pod is
        # ever refused for a missing ServiceAccount; within a wave, in parallel.
        first = [m for m in plan.apply if m["kind"] in FIRST_WAVE]
        second = [m for m in plan.apply if m["kind"] not in FIRST_WAVE]
        for wave in (first, second):
            results = await asyncio.gather(
                *(ensure(kube, m, children.get((m["kind"], m["metadata"]["name"]))) for m in wave),
                return_exceptions=True,
            )
            for manifest, outcome in zip(wave, results, strict=True):
                key = (manifest["kind"], manifest["metadata"]["name"])
                if isinstance(outcome, ApiError):
                    apply_errors.append(f"{key[0]} {key[1]}: {outcome.status.message}")
                    log.warning(
                        "apply of %s %s/%s failed: %s",
                        key[0],
                        namespace,
                        key[1],
                        outcome.status.message,
                    )
                elif isinstance(outcome, BaseException):
                    # TransientError included: the reconcile fails as a whole and is retried
                    # with backoff; the status (phase) is not touched by a passing API error.
                    raise outcome
                else:
                    obj, n = outcome
                    writes += n
                    children[key] = obj
        for manifest in plan.create_only:
            key = (manifest["kind"], manifest["metadata"]["name"])
            if key in children or manifest["kind"] == "Secret":
                continue
            try:
                children[key] = await kube.create(manifest)
                writes += 1
            except ApiError as exc:
                if exc.status.code != 409:
                    apply_errors.append(f"{key[0]} {key[1]}: {exc.status.message}")
                stale = True
        for kind, child in prunable(stack, plan, observed):
            await kube.delete(kinds.BY_KIND[kind].api_version, kind, child, namespace)
            children.pop((kind, child), None)
            writes += 1
        if growth.patch is not None and data_pvc is not None:
            growth, n = await grow_claim(kube, stack, data_pvc, growth)
            writes += n
        if store is not None:
            # The write responses are fresher than any watch event may be yet.
            for (kind, _), obj in children.items():
                if kind in CHILD_KINDS:
                    store.put(obj)
            if stale:
                store.invalidate(namespace, name)
    observed = Observed(
        db_password=password,
        secret_key=secret_key,
        children=children,
        db_username=username,
        credentials_lost=lost,
        secret_problems=problems,
        config_checksum=checksum,
        applied_image=applied_image,
        backup_request=backup_request,
        backup_requested=backup_requested,
        backup_reports=backup_reports,
        migration_reports=migration_reports,
        restore_request=restore_request,
        restore_status=restore_status,
        backend_pods=backend_pods,
        storage_growth=growth,
    )
    new_status = status.derive(
        stack,
        observed,
        plan.migration,
        old_status=old_status,
        now=_now(),
        paused=paused,
        apply_errors=tuple(apply_errors),
        crd_missing=tuple(kube.crd_missing),
    )
    record_stack(namespace, name, new_status["conditions"], plan.migration.state == "Failed")
    cronjob = children.get(("CronJob", backup.cronjob_name(stack)))
    record_backup(
        namespace,
        name,
        old_status.get("backup"),
        # status.backup is absent until a first backup Job; configured is what counts here.
        (new_status.get("backup") or {}) if backup.config(stack) is not None else None,
        (cronjob or {}).get("metadata", {}).get("creationTimestamp") or _now(),
    )
    patch = merge_diff(old_status, new_status)
    if patch is not None:
        await kube.merge_patch(STACK_API, crd.KIND, name, namespace, {"status": patch}, status=True)
        writes += 1
        for event in status.events(old_status, new_status, plan.migration):
            try:
                await kube.post_event(body, event.type, event.reason, event.message)
                writes += 1
            except (ApiError, TransientError) as exc:  # Events are best effort.
                log.warning("posting event %s failed: %s", event.reason, exc)
        if old_status.get("phase") != new_status["phase"]:
            TRANSITIONS.labels(new_status["phase"]).inc()
            log.info(
                "stack %s/%s: phase %s -> %s",
                namespace,
                name,
                old_status.get("phase"),
                new_status["phase"],
            )
    # `<stack>-db` too: a Secret recreated by hand (CredentialsLost recovery) carries no labels.
    refs = (*(n for _, n, _ in backend.referenced_secrets(stack)), stack.child("db"))
    # A running resize is not watched (the claim is not a listed child): look again soon.
    # Pods are not watched: the end of the backend's last pod (a restore waits for it) neither.
    restoring = (new_status.get("restore") or {}).get("phase") in inplace.ACTIVE
    recheck = bool(problems) or lost or growth.in_progress or restoring or stale
    return Result(referenced_secrets=refs, writes=writes, recheck=recheck)
