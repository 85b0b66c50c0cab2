"""Credential rotation that changes the password inside Postgres first (issue 14, finding 2).

A new password in the credentials Secret (`postgres.existingSecret`, or an edit of `<stack>-db`)
is not handed to the pods until Postgres has it: the Job `<stack>-rotate-<hash>` connects with
the password in use (from `<stack>-connection`, which still holds it) and runs `ALTER ROLE`; only
after it succeeded does `<stack>-connection` move to the new password (the pods roll on its
checksum). Until then the running pods keep working on the old password: the stack stays Ready.

The Job is idempotent: when the new password already works it does nothing (a retried or
repeated Job, a rotation done by hand with `ALTER ROLE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dimini_operator.specs.common import (
    POSTGRES_PORT,
    Manifest,
    Stack,
    container_security_context,
    digest,
    metadata,
    pod_metadata,
    pod_options,
    pod_security_context,
)
from dimini_operator.specs.secrets import CONNECTION_KEY

COMPONENT = "credentials"
# The password is passed as a psql variable (:'new' quotes it as a literal), never in the SQL
# text; log_statement is switched off for the session so the server log does not keep it.
SCRIPT = r"""set -eu
if PGPASSWORD="$NEW_PASSWORD" psql -v ON_ERROR_STOP=1 -tAc 'select 1' >/dev/null 2>&1; then
  echo "the new credentials already work: nothing to do"
  exit 0
fi
if [ "${USERNAME_CHANGED:-}" = 1 ]; then
  echo "role \"$PGUSER\" cannot log in with the Secret's password, and the operator changes" \
       "passwords only, never roles: create the role (docs/operator.md, Credential rotation)" \
       "or put the username in use back" >&2
  exit 1
fi
old_url=$(printf '%s' "$DATABASE_URL" | sed 's|^postgresql+asyncpg://|postgresql://|')
printf '%s\n' "SET log_statement = 'none';" 'ALTER ROLE :"role" PASSWORD :'"'"'new'"'"';' \
  | psql "$old_url" -v ON_ERROR_STOP=1 -v role="$PGUSER" -v new="$NEW_PASSWORD" -q
PGPASSWORD="$NEW_PASSWORD" psql -v ON_ERROR_STOP=1 -tAc 'select 1' >/dev/null
echo "password changed inside Postgres"
"""


@dataclass(frozen=True)
class Rotation:
    """What to do about the credentials: the password `<stack>-connection` should carry, and
    the Job to create (None: none needed or it exists)."""

    connection_password: str
    job: Manifest | None
    state: str  # Current | Rotating | Failed
    message: str
    # The username `<stack>-connection` should carry (None: the stack's postgres.username).
    connection_user: str | None = None


def job_name(stack: Stack, secret_identity: str) -> str:
    """Named after the credentials Secret's version (uid + resourceVersion), not the password:
    even a short hash of a password helps guessing it."""
    return stack.child(f"rotate-{digest(secret_identity, 10)}")


def render(
    stack: Stack, secret_name: str, secret_identity: str, *, username_changed: bool = False
) -> Manifest:
    pg = stack.spec.postgres
    user_key, password_key = "username", "password"
    env: list[dict[str, Any]] = [
        {"name": "PGHOST", "value": stack.child("postgres")},
        {"name": "PGPORT", "value": str(POSTGRES_PORT)},
        {"name": "PGDATABASE", "value": pg.database},
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
        {
            "name": "PGUSER",
            "valueFrom": {"secretKeyRef": {"name": secret_name, "key": user_key}},
        },
        {
            "name": "NEW_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": secret_name, "key": password_key}},
        },
        *([{"name": "USERNAME_CHANGED", "value": "1"}] if username_changed else []),
        # The password in use: the pods' own URL, which moves only after this Job succeeded.
        {
            "name": "DATABASE_URL",
            "valueFrom": {
                "secretKeyRef": {"name": stack.child("connection"), "key": CONNECTION_KEY}
            },
        },
    ]
    container = {
        "name": "rotate",
        "image": pg.image,
        "command": ["sh", "-c", SCRIPT],
        "env": env,
        "securityContext": container_security_context(read_only_root=True),
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "serviceAccountName": stack.child("postgres"),
        "securityContext": pod_security_context(pg.run_as_user),
        "containers": [container],
        **pod_options(stack, pg),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(stack, job_name(stack, secret_identity), COMPONENT),
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 300,
            "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": pod_metadata(stack, COMPONENT, pg), "spec": pod},
        },
    }


def plan(
    stack: Stack,
    *,
    in_use: str | None,
    desired: str,
    secret_name: str,
    secret_identity: str,
    job_state: str,
    job_message: str = "",
    in_use_user: str | None = None,
    desired_user: str | None = None,
) -> Rotation:
    """The rotation step. `in_use`: the password `<stack>-connection` carries (None: not
    created yet, so nothing runs on an old one); `desired`: the credentials Secret's; `job_state`
    of the Job for this Secret version (migration.job_state: Missing/Running/Succeeded/Failed).
    `in_use_user`/`desired_user`: the usernames, when a BYO Secret names one: a changed username
    is never handed to the pods before the Job saw that it logs in (it creates no roles)."""
    user_changed = None not in (in_use_user, desired_user) and in_use_user != desired_user
    if in_use is None or (in_use == desired and not user_changed):
        return Rotation(desired, None, "Current", "credentials in use", desired_user)
    name = job_name(stack, secret_identity)
    what = "the new username's login" if user_changed else "the password inside Postgres"
    if job_state == "Succeeded":
        done = (
            f"credentials checked by {name}"
            if user_changed
            else (f"password changed inside Postgres by {name}")
        )
        return Rotation(desired, None, "Current", done, desired_user)
    if job_state == "Failed":
        return Rotation(
            in_use,
            None,
            "Failed",
            f"Job {name} could not move to {what} ({job_message}); "
            "the pods keep the credentials in use: kubectl logs job/" + name,
            in_use_user,
        )
    job = (
        render(stack, secret_name, secret_identity, username_changed=user_changed)
        if job_state == "Missing"
        else None
    )
    return Rotation(in_use, job, "Rotating", f"checking {what} ({name})", in_use_user)
