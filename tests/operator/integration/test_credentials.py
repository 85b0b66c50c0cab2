"""Acceptance 2: credentials that cannot break the database.

A lost `<stack>-db` with its volume present stalls (CredentialsLost) instead of generating a
password Postgres never learns; running pods are left alone; recreating the Secret recovers. A
bring-your-own password with `@%/:` reaches the backend intact, before and after a rotation.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import (
    STACK,
    Kubectl,
    Operator,
    hold_pods,
    sample,
    stack_ready,
)
from tests.support.waiting import holds_for, wait_for

pytestmark = pytest.mark.sandbox


def _stalled(k: Kubectl, reason: str) -> dict[str, Any] | None:
    cond = k.condition("Stalled")
    return cond if cond and cond["status"] == "True" and cond["reason"] == reason else None


def _database_url(k: Kubectl) -> tuple[str, str]:
    raw = k.secret_value(f"{STACK}-connection", "DATABASE_URL")
    assert raw is not None
    parts = urlsplit(raw)
    return unquote(parts.username or ""), unquote(parts.password or "")


def test_lost_db_secret_stalls_and_recovers(stack_ns: StackNs, operator: Operator) -> None:
    k = stack_ns.k
    k.apply(sample(stack_ns.storage_class))
    wait_for("stack Ready", lambda: stack_ready(k), 60)
    password = k.secret_value(f"{STACK}-db", "password")
    assert password
    backend = k.get("deployment", f"{STACK}-backend")
    postgres = k.get("statefulset", f"{STACK}-postgres")
    assert backend is not None and postgres is not None

    k.run("delete", "secret", f"{STACK}-db")
    cond = wait_for("Stalled CredentialsLost", lambda: _stalled(k, "CredentialsLost"), 30)
    assert f"data-{STACK}-postgres-0" in cond["message"]
    assert password not in cond["message"]
    # Nothing new generated, the running workloads untouched.
    holds_for("no new -db Secret", lambda: k.get("secret", f"{STACK}-db") is None, 3)
    for kind, before in (("deployment", backend), ("statefulset", postgres)):
        now = k.get(kind, before["metadata"]["name"])
        assert now is not None
        assert now["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], kind
    assert _database_url(k) == ("dimini", password)

    # Recovery (docs/operator.md): recreate the Secret with the password the database has.
    k.run(
        "create",
        "secret",
        "generic",
        f"{STACK}-db",
        "--from-literal=username=dimini",
        f"--from-literal=password={password}",
    )
    wait_for("Ready again", lambda: stack_ready(k), 60)
    assert k.secret_value(f"{STACK}-db", "password") == password


FIRST, SECOND = "a@b%c/d:e", "n3w@%/:pass"  # every character a URL reserves


def byo_secret(k: Kubectl, password: str) -> None:
    """The user's own database Secret `my-db` (username dimini), created or rotated."""
    data = {
        "username": base64.b64encode(b"dimini").decode(),
        "password": base64.b64encode(password.encode()).decode(),
    }
    # part-of=dimini: the opt-in label that has the operator's Secret watch see a change.
    meta = {"name": "my-db", "labels": {"app.kubernetes.io/part-of": "dimini"}}
    k.apply({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data})


def byo_stack(stack_ns: StackNs, password: str) -> None:
    """The sample stack on `my-db` with `password`, Ready."""
    byo_secret(stack_ns.k, password)
    doc = sample(stack_ns.storage_class)
    doc["spec"]["postgres"]["existingSecret"] = "my-db"
    stack_ns.k.apply(doc)
    wait_for("stack Ready", lambda: stack_ready(stack_ns.k), 60)


def test_byo_password_with_reserved_characters(stack_ns: StackNs, operator: Operator) -> None:
    k = stack_ns.k
    first, second = FIRST, SECOND

    byo_stack(stack_ns, first)
    assert _database_url(k) == ("dimini", first)
    assert k.get("secret", f"{STACK}-db") is None
    template = (k.get("deployment", f"{STACK}-backend") or {})["spec"]["template"]
    checksum = template["metadata"]["annotations"]["dimini.io/config-checksum"]

    byo_secret(k, second)
    wait_for("URL with the new password", lambda: _database_url(k) == ("dimini", second), 30)
    # The backend rolls onto it (the referenced Secret is in the pod checksum) and is Ready.
    wait_for("Ready after the rotation", lambda: stack_ready(k), 60)
    template = (k.get("deployment", f"{STACK}-backend") or {})["spec"]["template"]
    assert template["metadata"]["annotations"]["dimini.io/config-checksum"] != checksum


def test_byo_rotation_changes_postgres_first_and_stays_ready(
    stack_ns: StackNs, operator: Operator
) -> None:
    """Acceptance 2, second half: a new BYO password reaches the pods only after the rotation
    Job (ALTER ROLE with the old password; its script is run against a real Postgres by
    tests/operator/unit/test_rotation.py) succeeded; meanwhile the stack stays Ready."""
    k = stack_ns.k
    first, second = FIRST, SECOND

    byo_stack(stack_ns, first)
    running = [
        p for p in k.list("pods") if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    ]
    # No room for another pod: the rotation Job is created but cannot run yet.
    hold_pods(k, len(running))

    byo_secret(k, second)

    def rotate_job() -> dict[str, Any] | None:
        jobs = [j for j in k.list("jobs") if j["metadata"]["name"].startswith(f"{STACK}-rotate-")]
        return jobs[0] if jobs else None

    job = wait_for("the rotation Job", rotate_job, 30)
    # Postgres has not got the new password: the pods keep the old one, the stack stays Ready.
    holds_for(
        "old password in use, stack Ready",
        lambda: _database_url(k) == ("dimini", first) and bool(stack_ready(k)),
        5,
    )
    seen: list[str] = []

    def moved() -> bool:
        st = (k.stack() or {}).get("status") or {}
        seen.append(st.get("phase", ""))
        return _database_url(k) == ("dimini", second) and bool(stack_ready(k))

    k.run("delete", "resourcequota", "hold")
    wait_for("the new password in use after the Job", moved, 60)
    assert "Degraded" not in seen, seen
    done = k.get("job", job["metadata"]["name"]) or {}
    assert any(
        c["type"] == "Complete" and c["status"] == "True"
        for c in (done.get("status") or {}).get("conditions") or []
    )
    env = done["spec"]["template"]["spec"]["containers"][0]["env"]
    assert first not in json.dumps(env) and second not in json.dumps(env)
