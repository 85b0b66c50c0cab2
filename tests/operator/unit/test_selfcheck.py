"""`helm test`'s permission list (dimini_operator.selfcheck) is the operator's registry of kinds."""

from __future__ import annotations

from dimini_operator import crd, kinds, selfcheck


def test_every_rbac_rule_is_checked_in_every_watched_namespace() -> None:
    access = selfcheck.required_access(["a", "b"])
    asked = {(x.group, x.resource, x.subresource, x.verb, x.namespace) for x in access}
    for rule in kinds.rbac_rules():
        for plural in rule["resources"]:
            resource, _, sub = plural.partition("/")
            for verb in rule["verbs"]:
                for ns in ("a", "b"):
                    assert (rule["apiGroups"][0], resource, sub or None, verb, ns) in asked
    namespaced = [x for x in access if x.namespace]
    assert len(namespaced) == 2 * sum(len(k.verbs) for k in kinds.RBAC_KINDS)
    # Cluster-wide (the `-crd` ClusterRole): the CRD itself, by name, and StorageClasses.
    cluster = {(x.resource, x.verb, x.name) for x in access if not x.namespace}
    assert cluster == {
        ("customresourcedefinitions", "get", crd.CRD_NAME),
        (kinds.STORAGE_CLASS.plural, "get", None),
    }


def test_an_access_reads_like_kubectl_auth_can_i() -> None:
    status = selfcheck.Access("dimini.io", "diministacks", "patch", "ns", "status")
    assert str(status) == "patch diministacks/status.dimini.io in ns"
    assert str(selfcheck.Access("", "secrets", "get", "ns")) == "get secrets in ns"
