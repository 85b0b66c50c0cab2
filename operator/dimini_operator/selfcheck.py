"""`python -m dimini_operator.selfcheck`: the chart's `helm test`, run in the operator's image with
the operator's ServiceAccount.

Checks, each printed as `ok`/`FAIL` with what was asked:
  - the operator answers on its liveness endpoint (through its Service);
  - the API server serves the DiminiStack CRD (a list of DiminiStacks in each watched namespace);
  - a SelfSubjectAccessReview allows every verb on every kind the operator uses
    (`kinds.RBAC_KINDS`, the registry rbac.yaml is generated from) in each watched namespace, and
    `get` on the CRD itself.
Exit 1 when any check fails.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from lightkube import ApiError, Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview

from dimini_operator import crd, kinds

Stacks = create_namespaced_resource(crd.GROUP, crd.VERSION, crd.KIND, crd.PLURAL)


@dataclass(frozen=True)
class Access:
    """One permission the operator needs, as a SelfSubjectAccessReview asks it."""

    group: str
    resource: str
    verb: str
    namespace: str | None = None
    subresource: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        what = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        group = f".{self.group}" if self.group else ""
        where = f" in {self.namespace}" if self.namespace else ""
        named = f" {self.name}" if self.name else ""
        return f"{self.verb} {what}{group}{named}{where}"


def required_access(namespaces: Iterable[str]) -> list[Access]:
    """Every permission the operator uses, in each namespace it watches."""
    out = [Access("apiextensions.k8s.io", "customresourcedefinitions", "get", name=crd.CRD_NAME)]
    sc = kinds.STORAGE_CLASS
    out.extend(Access(sc.group, sc.plural, verb) for verb in sc.verbs)
    for namespace in namespaces:
        for kind in kinds.RBAC_KINDS:
            resource, _, subresource = kind.plural.partition("/")
            out.extend(
                Access(kind.group, resource, verb, namespace, subresource or None)
                for verb in kind.verbs
            )
    return out


def allowed(client: Client, access: Access) -> bool:
    review = SelfSubjectAccessReview(
        spec=SelfSubjectAccessReviewSpec(
            resourceAttributes=ResourceAttributes(
                group=access.group,
                resource=access.resource,
                verb=access.verb,
                namespace=access.namespace,
                subresource=access.subresource,
                name=access.name,
            )
        )
    )
    result = client.create(review)
    return bool(result.status and result.status.allowed)


def stacks_served(client: Client, namespace: str) -> str | None:
    """None when DiminiStacks can be listed in `namespace`, else why not."""
    try:
        list(client.list(Stacks, namespace=namespace, chunk_size=1))
    except ApiError as error:
        return f"{error.status.code} {error.status.message}"
    return None


def live(url: str, timeout: float = 10) -> str | None:
    """None when `url` answers 200, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))
    return None if status == 200 else f"HTTP {status}"


def run_checks(
    client: Client,
    namespaces: Sequence[str],
    liveness_url: str | None,
    say: Callable[[str], None] = print,
) -> bool:
    failed = 0

    def report(what: str, problem: str | None) -> None:
        nonlocal failed
        failed += problem is not None
        say(f"ok    {what}" if problem is None else f"FAIL  {what}: {problem}")

    if liveness_url:
        report(f"liveness {liveness_url}", live(liveness_url))
    for namespace in namespaces:
        report(f"{crd.CRD_NAME} served in {namespace}", stacks_served(client, namespace))
    for access in required_access(namespaces):
        report(f"can {access}", None if allowed(client, access) else "denied")
    return failed == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dimini_operator.selfcheck", description=__doc__
    )
    parser.add_argument("--liveness-url", help="the operator's /healthz (skipped when absent)")
    parser.add_argument(
        "--namespace", action="append", required=True, help="a watched namespace (repeatable)"
    )
    args = parser.parse_args(argv)
    return 0 if run_checks(Client(), args.namespace, args.liveness_url) else 1


if __name__ == "__main__":
    sys.exit(main())
