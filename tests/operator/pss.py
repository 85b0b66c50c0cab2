"""Check a pod spec against the `restricted` Pod Security Standard (the parts we set)."""

from __future__ import annotations

from typing import Any


def restricted_violations(pod_spec: dict[str, Any]) -> list[str]:
    out: list[str] = []
    psc = pod_spec.get("securityContext") or {}
    if psc.get("seccompProfile", {}).get("type") not in ("RuntimeDefault", "Localhost"):
        out.append("pod seccompProfile")
    for c in pod_spec.get("initContainers", []) + pod_spec.get("containers", []):
        sc = c.get("securityContext") or {}
        name = c.get("name")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation")
        if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
            out.append(f"{name}: capabilities.drop ALL")
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            out.append(f"{name}: runAsNonRoot")
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        if not isinstance(uid, int) or uid == 0:
            out.append(f"{name}: numeric non-zero runAsUser")
        if sc.get("privileged"):
            out.append(f"{name}: privileged")
    for v in pod_spec.get("volumes", []):
        if "hostPath" in v:
            out.append(f"volume {v.get('name')}: hostPath")
    return out


def pod_spec_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    kind = obj.get("kind")
    if kind in ("Deployment", "StatefulSet", "Job"):
        spec: dict[str, Any] = obj["spec"]["template"]["spec"]
        return spec
    if kind == "CronJob":
        cron: dict[str, Any] = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return cron
    return None
