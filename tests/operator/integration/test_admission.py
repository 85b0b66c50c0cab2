"""Acceptance 7 of issue 14: a mutating webhook that pins images to digests, against the sandbox.

The test serves the webhook itself (HTTPS on 127.0.0.1, a self-signed certificate): like Kyverno's
verifyImages/mutateDigest it rewrites every `name:tag` of a pod template to `name@sha256:...`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.operator.integration.conftest import StackNs
from tests.operator.integration.support import STACK, Operator, sample, stack_ready
from tests.support.tls import self_signed
from tests.support.waiting import holds_for, wait_for

pytestmark = pytest.mark.sandbox

# Where the pod spec sits in each kind the webhook mutates.
POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def pinned(image: str) -> str:
    """`name:tag` -> `name@sha256:<digest of the tag>`; already pinned images are left alone."""
    if "@" in image:
        return image
    slash, colon = image.rfind("/"), image.rfind(":")
    name = image[:colon] if colon > slash else image
    return f"{name}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def digest_patch(obj: dict[str, Any]) -> list[dict[str, Any]]:
    path = POD_SPEC_PATHS.get(obj.get("kind", ""))
    if path is None:
        return []
    spec: Any = obj
    for key in path:
        spec = (spec or {}).get(key)
    ops = []
    for field in ("initContainers", "containers"):
        for i, c in enumerate((spec or {}).get(field) or []):
            image = c.get("image", "")
            if image and pinned(image) != image:
                pointer = "/" + "/".join((*path, field, str(i), "image"))
                ops.append({"op": "replace", "path": pointer, "value": pinned(image)})
    return ops


class Webhook:
    def __init__(self) -> None:
        self.mutations = 0
        self.lock = threading.Lock()

    def review(self, body: dict[str, Any]) -> dict[str, Any]:
        request = body["request"]
        ops = digest_patch(request.get("object") or {})
        response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
        if ops:
            with self.lock:
                self.mutations += 1
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        return {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": response,
        }


@pytest.fixture
def digest_webhook(stack_ns: StackNs) -> Iterator[Webhook]:
    """The webhook served on 127.0.0.1 and registered for the test namespace only."""
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            out = json.dumps(hook.review(body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    cert, key = self_signed("127.0.0.1", hours=2)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "tls.crt").write_bytes(cert)
        (Path(tmp) / "tls.key").write_bytes(key)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(Path(tmp) / "tls.crt", Path(tmp) / "tls.key")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    name = f"digest-pin-{stack_ns.name}"
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "digest-pin.dimini.test",
                "clientConfig": {
                    "url": f"https://127.0.0.1:{server.server_address[1]}/mutate",
                    "caBundle": base64.b64encode(cert).decode(),
                },
                "rules": [
                    {
                        "apiGroups": ["", "apps", "batch"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["pods", "deployments", "statefulsets", "jobs", "cronjobs"],
                        "scope": "Namespaced",
                    }
                ],
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": stack_ns.name}
                },
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5,
            }
        ],
    }
    stack_ns.k.apply(config)
    try:
        yield hook
    finally:
        stack_ns.k.run(
            "delete", "mutatingwebhookconfiguration", name, "--ignore-not-found", namespaced=False
        )
        server.shutdown()
        server.server_close()


def test_digest_pinning_webhook_converges_with_zero_idle_writes(
    stack_ns: StackNs, start_operator: Callable[..., Operator], digest_webhook: Webhook
) -> None:
    """Ready under the webhook, 0 writes while idle, and a new tag still rolls."""
    k = stack_ns.k
    operator = start_operator("--resync-seconds", "5")
    # The webhook is live before the stack exists: a probe Pod is pinned at creation.
    probe = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "c",
                    "image": "registry.local/probe:1",
                    "securityContext": {
                        "runAsUser": 1000,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    wait_for("webhook serving", lambda: k.apply(probe, check=False).returncode == 0, 30)
    pod = k.get("pod", "probe")
    assert pod is not None and pod["spec"]["containers"][0]["image"] == pinned(
        "registry.local/probe:1"
    )
    k.run("delete", "pod", "probe", "--wait=false")

    k.apply(sample(stack_ns.storage_class))
    wait_for("stack Ready under the webhook", lambda: stack_ready(k), 90)
    backend = k.get("deployment", f"{STACK}-backend")
    assert backend is not None
    image = backend["spec"]["template"]["spec"]["containers"][0]["image"]
    assert "@sha256:" in image, image
    sts = k.get("statefulset", f"{STACK}-postgres")
    assert (
        sts is not None and "@sha256:" in sts["spec"]["template"]["spec"]["containers"][0]["image"]
    )

    def settled() -> float | None:
        before = operator.writes()
        holds_for("no writes", lambda: operator.writes() == before, 2)
        return before + 1

    writes = wait_for("operator settled", settled, 30) - 1
    mutations = digest_webhook.mutations
    reconciles = operator.reconciles()
    seconds = 30
    holds_for("zero write calls under the webhook", lambda: operator.writes() == writes, seconds, 1)
    assert digest_webhook.mutations == mutations
    assert operator.reconciles() >= reconciles + seconds / 5 - 2
    assert stack_ready(k) is not None

    # A new tag still migrates and rolls, to the new tag's digest.
    newer = "registry.local/dimini-backend:0.2.0"
    k.patch("diministack", STACK, {"spec": {"backend": {"image": newer}}})

    def rolled() -> dict[str, Any] | None:
        obj = stack_ready(k)
        return obj if obj and obj["status"].get("version") == "0.2.0" else None

    wait_for("Ready on the new tag", rolled, 90)
    backend = k.get("deployment", f"{STACK}-backend")
    assert backend is not None
    assert backend["spec"]["template"]["spec"]["containers"][0]["image"] == pinned(newer)
