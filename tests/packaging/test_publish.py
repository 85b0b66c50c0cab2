"""`make publish` (images/publish.py): what it decides, and a real publish to a local registry.

The publish test pushes four tiny images (one file each, built with buildah in a second) in place
of the project's: what is under test is the pushing, the digests and the packaged chart, not the
images (`make e2e`'s tests/e2e/test_publish.py publishes the real four and installs from them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from images import publish
from sandbox.cluster import Sandbox
from tests.support import registry as local_registry
from tests.support.ports import free_port

VALUES = publish.CHART / "values.yaml"


def _pushed(name: str, n: int) -> publish.Pushed:
    return publish.Pushed(name, f"127.0.0.1:5000/dimini-{name}", "abc123", f"sha256:{n:064x}")


PUSHED = {name: _pushed(name, i + 1) for i, name in enumerate(publish.NAMES)}


# --- deciding --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  "])
def test_no_registry_is_a_clear_error(value: str | None) -> None:
    with pytest.raises(publish.PublishError, match="REGISTRY=host:port"):
        publish.parse_registry(value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://127.0.0.1:5000", "without a scheme"),
        ("ghcr.io/Acme", "not a repository path component"),
        ("bad host:5000", "not a host"),
    ],
)
def test_bad_registry_is_refused(value: str, problem: str) -> None:
    with pytest.raises(publish.PublishError, match=problem):
        publish.parse_registry(value)


def test_loopback_registries_are_plain_http_and_others_are_not() -> None:
    local = publish.parse_registry("127.0.0.1:5000")
    assert local.plain_http
    assert publish.parse_registry("localhost:5000/team").plain_http
    assert publish.parse_registry("[::1]:5000").plain_http
    remote = publish.parse_registry("ghcr.io/acme/dimini")
    assert not remote.plain_http
    assert remote.repository("backend") == "ghcr.io/acme/dimini/dimini-backend"
    assert remote.chart_oci == "oci://ghcr.io/acme/dimini/charts"
    assert local.repository("operator") == "127.0.0.1:5000/dimini-operator"


def test_plan_keeps_content_tags_and_needs_all_four_images() -> None:
    registry = publish.parse_registry("127.0.0.1:5000")
    refs = {name: f"localhost/dimini/{name}:t{name}" for name in publish.NAMES}
    pushes = publish.plan(registry, refs)
    assert [p.destination for p in pushes] == [
        f"127.0.0.1:5000/dimini-{name}:t{name}" for name in publish.NAMES
    ]
    with pytest.raises(publish.PublishError, match="postgres"):
        publish.plan(registry, {k: v for k, v in refs.items() if k != "postgres"})


def test_chart_values_carry_exactly_the_pushed_images_and_keep_the_comments() -> None:
    text = VALUES.read_text()
    out = publish.chart_values(text, PUSHED)
    values, before = yaml.safe_load(out), yaml.safe_load(text)
    operator = PUSHED["operator"]
    assert values["image"] == {
        **before["image"],
        "repository": operator.repository,
        "tag": operator.tag,
        "digest": operator.digest,
    }
    assert values["stackImages"] == {n: PUSHED[n].ref for n in publish.STACK_IMAGES}
    rest = {k: v for k, v in values.items() if k not in ("image", "stackImages")}
    assert rest == {k: v for k, v in before.items() if k not in ("image", "stackImages")}
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert comments and all(line in out.splitlines() for line in comments)


def test_a_value_path_that_is_not_in_the_values_is_an_error() -> None:
    with pytest.raises(publish.PublishError, match=r"image\.nope"):
        publish.set_scalars(VALUES.read_text(), {("image", "nope"): "x"})


def test_chart_metadata_names_the_pushed_images_for_artifact_hub() -> None:
    chart = yaml.safe_load((publish.CHART / "Chart.yaml").read_text())
    sample = yaml.safe_load(publish.SAMPLE.read_text())
    out = yaml.safe_load(publish.dump_chart_metadata(publish.chart_metadata(chart, sample, PUSHED)))
    images = yaml.safe_load(out["annotations"]["artifacthub.io/images"])
    assert sorted(i["image"] for i in images) == sorted(p.ref for p in PUSHED.values())
    (example,) = yaml.safe_load(out["annotations"]["artifacthub.io/crdsExamples"])
    assert {n: example["spec"][n]["image"] for n in publish.STACK_IMAGES} == {
        n: PUSHED[n].ref for n in publish.STACK_IMAGES
    }
    assert out["annotations"]["artifacthub.io/operator"] == "true"
    assert {k: v for k, v in out.items() if k != "annotations"} == {
        k: v for k, v in chart.items() if k != "annotations"
    }


def test_an_unreachable_registry_stops_before_anything_is_built(tmp_path: Path) -> None:
    built: list[str] = []

    def build(name: str) -> str:
        built.append(name)
        return f"localhost/dimini/{name}:x"

    closed = free_port()
    with pytest.raises(publish.PublishError, match="unreachable"):
        publish.publish(publish.parse_registry(f"127.0.0.1:{closed}"), "helm", build=build)
    assert built == []


# --- doing: a real registry ------------------------------------------------------------------

TOOLS = ("buildah", "skopeo")


def _run(*args: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def tiny_image(name: str) -> str:
    """A one-file image standing in for `name` (distinct content, so distinct digests)."""
    ref = f"localhost/dimini/publish-test-{name}:t1"
    container = _run("buildah", "from", "scratch")
    try:
        root = Path(_run("buildah", "mount", container))
        (root / "what").write_text(f"dimini {name} stand-in\n")
        _run("buildah", "umount", container)
        _run("buildah", "commit", "-q", "--format", "docker", container, ref)
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
    return ref


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[local_registry.LocalRegistry]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"publishing needs {', '.join(missing)}: see README, Prerequisites")
    with local_registry.running(tmp_path / "registry") as running:
        yield running


def _helm_json(helm: str, *args: str) -> Any:
    return yaml.safe_load(_run(helm, *args, "--plain-http"))


def test_publish_pushes_the_images_then_the_chart_with_their_digests(
    registry: local_registry.LocalRegistry, helm: str
) -> None:
    published = publish.publish(publish.parse_registry(registry.host), helm, build=tiny_image)

    for name, pushed in published.images.items():
        remote = json.loads(
            _run("skopeo", "inspect", "--tls-verify=false", f"docker://{pushed.repository}:t1")
        )
        assert remote["Digest"] == pushed.digest, name
    chart = f"oci://{registry.host}/charts/dimini-operator"
    assert published.chart == chart
    shown = _helm_json(helm, "show", "chart", chart, "--version", published.version)
    assert shown["name"] == "dimini-operator"
    images = yaml.safe_load(shown["annotations"]["artifacthub.io/images"])
    assert sorted(i["image"] for i in images) == sorted(
        f"{registry.host}/dimini-{n}@{p.digest}" for n, p in published.images.items()
    )
    values = _helm_json(helm, "show", "values", chart, "--version", published.version)
    operator = published.images["operator"]
    assert (values["image"]["repository"], values["image"]["digest"]) == (
        f"{registry.host}/dimini-operator",
        operator.digest,
    )
    assert values["stackImages"] == {
        n: f"{registry.host}/dimini-{n}@{published.images[n].digest}" for n in publish.STACK_IMAGES
    }
    rendered = _run(helm, "template", "x", chart, "--version", published.version, "--plain-http")
    pods = [
        d["spec"]["template"]["spec"]
        for d in yaml.safe_load_all(rendered)
        if d and d["kind"] == "Deployment"
    ]
    assert [c["image"] for p in pods for c in p["containers"]] == [operator.ref]


def test_a_failed_image_push_publishes_no_chart(
    registry: local_registry.LocalRegistry, helm: str
) -> None:
    def build(name: str) -> str:
        # postgres is pushed last: everything else is in the registry when it fails.
        absent = "localhost/dimini/publish-test-absent:nope"
        return absent if name == "postgres" else tiny_image(name)

    with pytest.raises(Exception, match="publish-test-absent"):
        publish.publish(publish.parse_registry(registry.host), helm, build=build)
    catalog = registry.catalog()
    assert "dimini-operator" in catalog  # pushed before the failure...
    assert not [r for r in catalog if r.startswith("charts/")]  # ...but no chart


@pytest.mark.sandbox
def test_helm_install_from_the_registry_runs_the_pushed_digest(
    registry: local_registry.LocalRegistry, helm: str, sandbox: Sandbox, namespace: str
) -> None:
    """`helm install oci://…` as the README says, on the sandbox's API server (KWOK pulls
    nothing: the real pull is tests/e2e/test_publish.py)."""
    published = publish.publish(publish.parse_registry(registry.host), helm, build=tiny_image)
    release = f"r-{namespace}"  # its ClusterRoles are cluster-wide: one name per test
    install = subprocess.run(
        [helm, "install", release, published.chart, "--version", published.version,
         "--plain-http", "--namespace", namespace, "--set", "crds.install=false"],
        env=sandbox.env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        assert install.returncode == 0, install.stderr
        # NOTES.txt names the stack images published with the chart.
        for name in publish.STACK_IMAGES:
            assert published.images[name].ref in install.stdout
        deployment = json.loads(
            _run("kubectl", "--kubeconfig", sandbox.env()["KUBECONFIG"], "-n", namespace,
                 "get", "deployment", f"{release}-dimini-operator", "-o", "json")
        )  # fmt: skip
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == published.images["operator"].ref
    finally:
        subprocess.run(
            [helm, "uninstall", release, "--namespace", namespace],
            env=sandbox.env(), capture_output=True, check=False,
        )  # fmt: skip
