"""`kubectl dimini psql` and `logs`: the kubectl command lines, built from the operator's
names (pure functions; cli.py runs them)."""

from __future__ import annotations

from collections.abc import Sequence

from dimini_operator.kubectl_plugin.cluster import selector, stack_selector
from dimini_operator.kubectl_plugin.errors import FAILED, PluginError
from dimini_operator.specs import backup, database, migration, postgres, serviceaccounts
from dimini_operator.specs.common import LABEL_COMPONENT, LABEL_NAME, Stack

# The stack's pod components (postgres, backend, frontend have a ServiceAccount each).
COMPONENTS = (*serviceaccounts.COMPONENTS, migration.COMPONENT, backup.COMPONENT)
OPERATOR = "operator"
# The operator chart's pods: app.kubernetes.io/name is the chart's name (Chart.yaml; a unit
# test keeps this in step).
OPERATOR_APP_NAME = "dimini-operator"
OPERATOR_LABELS = {LABEL_NAME: OPERATOR_APP_NAME, LABEL_COMPONENT: OPERATOR}
# The server's own environment names the role and the database (a BYO Secret's user too):
# nothing is read from the Secret here, and no password crosses this process.
PSQL_SCRIPT = 'exec psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$@"'


def external_hint(stack: Stack) -> str:
    """How to reach an external server: where, and where the credentials are (not what)."""
    ext = stack.spec.postgres.external
    assert ext is not None
    secret = stack.db_secret_name
    read = f"kubectl -n {stack.namespace} get secret {secret} -o jsonpath='{{.data.%s}}'"
    read += " | base64 -d"
    return (
        f"{stack.name} uses an external Postgres at {database.endpoint(stack)}; there is no "
        "pod to exec into. Connect from a host that reaches it:\n"
        f'  PGUSER="$({read % "username"})" PGPASSWORD="$({read % "password"})" \\\n'
        f'    psql "host={ext.host} port={ext.port} dbname={ext.database} sslmode={ext.ssl_mode}"'
    )


def psql_argv(stack: Stack, pod: str, args: Sequence[str], tty: bool) -> list[str]:
    if database.external(stack):
        raise PluginError(external_hint(stack), FAILED)
    interactive = ["-i", "-t"] if tty else ["-i"]
    return [
        "exec",
        *interactive,
        "-n",
        stack.namespace,
        pod,
        "-c",
        postgres.CONTAINER,
        "--",
        "sh",
        "-c",
        PSQL_SCRIPT,
        "psql",
        *args,
    ]


def postgres_pod(stack: Stack) -> str:
    # The StatefulSet's only replica.
    return f"{postgres.statefulset_name(stack)}-0"


def logs_argv(
    stack: Stack,
    component: str | None,
    follow: bool,
    tail: int | None,
    operator_namespace: str | None = None,
) -> list[str]:
    if component == OPERATOR:
        labels = OPERATOR_LABELS
        namespace = operator_namespace or stack.namespace
    else:
        labels = stack_selector(stack.name)
        if component:
            labels = {**labels, LABEL_COMPONENT: component}
        namespace = stack.namespace
    argv = [
        "logs",
        "-n",
        namespace,
        "-l",
        selector(labels),
        "--all-containers",
        "--prefix",
        "--ignore-errors",
        # kubectl's default of 5 concurrent streams is less than a scaled stack's pods.
        "--max-log-requests",
        "20",
    ]
    if follow:
        argv.append("-f")
    if tail is not None:
        argv.append(f"--tail={tail}")
    return argv
