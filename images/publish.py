"""`python -m images.publish REGISTRY` (`make publish REGISTRY=host:port[/prefix]`): build the four
images, push them to an OCI registry, then push the operator's chart with the pushed digests in
its values, so `helm install oci://REGISTRY/charts/dimini-operator` is the whole install.

Deciding apart from doing: `parse_registry`, `plan`, `chart_values` and `chart_metadata` are pure
(what goes where, what the packaged chart says); `publish` runs buildah and helm in that order.
The chart is pushed last, only once every image is in the registry, so a failure never leaves a
chart naming an image that is not there. docs/images.md, "Publishing".
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shutil
import ssl
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from images import cmd, config
from images import project as builder
from images.log import say, step

CHART = config.REPO / "charts" / "dimini-operator"
SAMPLE = config.REPO / "manifests" / "samples" / "diministack.yaml"
# The chart goes to oci://<registry>/charts/dimini-operator.
CHART_REPOSITORY = "charts"
OPERATOR = "operator"
# The images a DiminiStack names (spec.<name>.image): the chart's `stackImages` value and its
# Artifact Hub example carry the pushed ones.
NAMES = tuple(builder.IMAGES)  # every image the project builds
STACK_IMAGES = tuple(name for name in NAMES if name != OPERATOR)
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_PORT = r"(:[0-9]{1,5})?"
_HOST = re.compile(rf"^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9a-fA-F:]+\]){_PORT}$")
_PATH = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")


class PublishError(RuntimeError):
    pass


@dataclass(frozen=True)
class Registry:
    """Where to publish: `host[:port]` and an optional repository prefix (`team/dimini`)."""

    host: str
    prefix: str = ""

    @property
    def plain_http(self) -> bool:
        """A loopback registry is spoken to over plain http (without TLS verification): a test's
        or a developer's local registry has no certificate; anything else must have a valid one."""
        return is_loopback(self.host)

    def _base(self) -> str:
        return f"{self.host}/{self.prefix}" if self.prefix else self.host

    def repository(self, name: str) -> str:
        return f"{self._base()}/dimini-{name}"

    @property
    def chart_oci(self) -> str:
        """`helm push` target; the chart is then oci://<this>/dimini-operator."""
        return f"oci://{self._base()}/{CHART_REPOSITORY}"


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_registry(value: str | None) -> Registry:
    """`host[:port][/prefix]`; a clear error for what is not (no scheme, no upper case)."""
    text = (value or "").strip()
    if not text:
        raise PublishError(
            "no registry given: make publish REGISTRY=host:port[/prefix] "
            "(e.g. REGISTRY=127.0.0.1:5000 or REGISTRY=ghcr.io/acme)"
        )
    if "://" in text:
        raise PublishError(f"REGISTRY={text}: give host:port[/prefix] without a scheme")
    host, _, prefix = text.strip("/").partition("/")
    if not _HOST.match(host):
        raise PublishError(f"REGISTRY={text}: {host!r} is not a host[:port]")
    bad = [part for part in prefix.split("/") if prefix and not _PATH.match(part)]
    if bad:
        raise PublishError(
            f"REGISTRY={text}: {bad[0]!r} is not a repository path component "
            "(lower case letters, digits, '.', '_', '-')"
        )
    return Registry(host, prefix)


@dataclass(frozen=True)
class Push:
    name: str
    source: str  # the local ref (localhost/dimini/<name>:<content tag>)
    repository: str
    tag: str

    @property
    def destination(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class Pushed:
    name: str
    repository: str
    tag: str
    digest: str

    @property
    def ref(self) -> str:
        """What a pod should name: the digest, which no later push can move."""
        return f"{self.repository}@{self.digest}"


def plan(registry: Registry, refs: Mapping[str, str]) -> list[Push]:
    """One push per image, keeping each local content tag (the same inputs give the same tag)."""
    missing = [name for name in NAMES if name not in refs]
    if missing:
        raise PublishError(f"no local image for {', '.join(missing)}")
    return [
        Push(name, refs[name], registry.repository(name), refs[name].rpartition(":")[2])
        for name in NAMES
    ]


# --- the packaged chart: pure ------------------------------------------------------------------


def set_scalars(text: str, values: Mapping[tuple[str, ...], str]) -> str:
    """`text` (YAML, block style) with the scalar at each key path replaced, comments kept (they
    are the chart's documentation in `helm show values`). Every path must occur exactly once."""
    lines = text.splitlines(keepends=True)
    stack: list[tuple[int, str]] = []
    found: dict[tuple[str, ...], int] = {}
    key_line = re.compile(r"^(\s*)([A-Za-z0-9_.-]+):(\s*)(.*?)(\s+#.*)?$")
    for i, line in enumerate(lines):
        match = key_line.match(line.rstrip("\n"))
        if not match or line.lstrip().startswith("#"):
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        path = tuple(key for _, key in stack)
        if path in values:
            if path in found:
                raise PublishError(f"{'.'.join(path)} occurs twice")
            found[path] = i
            comment = match.group(5) or ""
            lines[i] = f"{match.group(1)}{path[-1]}: {json.dumps(values[path])}{comment}\n"
    missing = [".".join(p) for p in values if p not in found]
    if missing:
        raise PublishError(f"not in the chart's values: {', '.join(missing)}")
    out = "".join(lines)
    expected = yaml.safe_load(text)
    for path, value in values.items():
        node = expected
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    if yaml.safe_load(out) != expected:  # the line edit must mean exactly the intended values
        raise PublishError("editing the chart's values changed more than the published images")
    return out


def published_values(pushed: Mapping[str, Pushed]) -> dict[tuple[str, ...], str]:
    """The chart values `make publish` sets: the operator's image and the stack images."""
    operator = pushed[OPERATOR]
    values: dict[tuple[str, ...], str] = {
        ("image", "repository"): operator.repository,
        ("image", "tag"): operator.tag,
        ("image", "digest"): operator.digest,
    }
    for name in STACK_IMAGES:
        values[("stackImages", name)] = pushed[name].ref
    return values


def chart_values(text: str, pushed: Mapping[str, Pushed]) -> str:
    return set_scalars(text, published_values(pushed))


def sample_stack(sample: Mapping[str, Any], pushed: Mapping[str, Pushed]) -> dict[str, Any]:
    """The sample DiminiStack naming the pushed images."""
    doc: dict[str, Any] = json.loads(json.dumps(sample))
    for name in STACK_IMAGES:
        doc["spec"][name]["image"] = pushed[name].ref
    return doc


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


def chart_metadata(
    chart: Mapping[str, Any], sample: Mapping[str, Any], pushed: Mapping[str, Pushed]
) -> dict[str, Any]:
    """Chart.yaml with Artifact Hub's `images` (for its scanner) and `crdsExamples` naming the
    pushed digests."""
    out: dict[str, Any] = json.loads(json.dumps(chart))
    annotations = out.setdefault("annotations", {})
    images = [{"name": f"dimini-{p.name}", "image": p.ref} for p in pushed.values()]
    annotations["artifacthub.io/images"] = _Literal(yaml.safe_dump(images, sort_keys=False))
    example = yaml.safe_dump([sample_stack(sample, pushed)], sort_keys=False)
    annotations["artifacthub.io/crdsExamples"] = _Literal(example)
    return out


def dump_chart_metadata(chart: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(chart), sort_keys=False, width=100)


# --- doing ---------------------------------------------------------------------------------------


def check_registry(registry: Registry, timeout: float = 10) -> None:
    """The registry answers the OCI distribution API (`GET /v2/`: 200, or 401 asking for a
    login); otherwise stop before anything is built or pushed."""
    scheme = "http" if registry.plain_http else "https"
    url = f"{scheme}://{registry.host}/v2/"
    context = None if registry.plain_http else ssl.create_default_context()
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise PublishError(f"registry {registry.host} unreachable ({url}): {reason}") from None
    if status not in (200, 401):
        raise PublishError(f"{url} answered {status}: not an OCI registry")


def push_image(push: Push, registry: Registry) -> Pushed:
    """`buildah push` to the registry; the digest is the pushed manifest's (--digestfile)."""
    with tempfile.TemporaryDirectory() as tmp:
        digest_file = Path(tmp) / "digest"
        args = ["buildah", "push", "--quiet", "--digestfile", str(digest_file)]
        if registry.plain_http:
            # containers/image then falls back to http (a loopback registry has no certificate).
            args.append("--tls-verify=false")
        cmd.run([*args, push.source, f"docker://{push.destination}"], quiet=True)
        digest = digest_file.read_text().strip()
    if not DIGEST.match(digest):
        raise PublishError(f"{push.destination}: buildah reported digest {digest!r}")
    return Pushed(push.name, push.repository, push.tag, digest)


def package_chart(
    helm: str, pushed: Mapping[str, Pushed], workdir: Path, chart: Path = CHART
) -> Path:
    """A copy of the chart with the pushed images in values.yaml and Chart.yaml, `helm package`d
    (after `helm lint --strict`, so a broken package is never pushed)."""
    staged = workdir / chart.name
    shutil.copytree(chart, staged)
    (staged / "values.yaml").write_text(chart_values((chart / "values.yaml").read_text(), pushed))
    metadata = chart_metadata(
        yaml.safe_load((chart / "Chart.yaml").read_text()),
        yaml.safe_load(SAMPLE.read_text()),
        pushed,
    )
    (staged / "Chart.yaml").write_text(dump_chart_metadata(metadata))
    cmd.run([helm, "lint", "--strict", str(staged)], quiet=True)
    out = cmd.output([helm, "package", str(staged), "--destination", str(workdir)])
    package = Path(out.rsplit(":", 1)[-1].strip())
    if not package.is_file():
        raise PublishError(f"helm package wrote no package: {out}")
    return package


def push_chart(helm: str, package: Path, registry: Registry) -> str:
    """`helm push` the package; returns the chart's oci:// reference."""
    args = [helm, "push", str(package), registry.chart_oci]
    if registry.plain_http:
        args.append("--plain-http")
    cmd.run(args, quiet=True)
    name = yaml.safe_load((CHART / "Chart.yaml").read_text())["name"]
    return f"{registry.chart_oci}/{name}"


def find_helm(given: str | None) -> str:
    """--helm, else `helm` on PATH, else the one the sandbox build compiled (never builds it)."""
    if given:
        return given
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    # sandbox/build.sh's cache (same variable, same default).
    cache = Path(os.environ.get("DIMINI_SANDBOX_CACHE", Path.home() / ".cache" / "dimini-sandbox"))
    built = sorted(cache.glob("*/bin/helm"))
    if built:
        return str(built[-1])
    raise PublishError("helm not found: put Helm >= 3.16 on PATH or pass --helm")


@dataclass(frozen=True)
class Published:
    images: dict[str, Pushed]
    chart: str  # oci://.../dimini-operator
    version: str


def publish(
    registry: Registry,
    helm: str,
    build: Callable[[str], str] = builder.build,
) -> Published:
    """Check the registry, build, push every image, then (only then) package and push the chart.

    `build(name) -> local ref`; a test passes small images instead of the project's."""
    check_registry(registry)
    refs = {name: build(name) for name in NAMES}
    pushed: dict[str, Pushed] = {}
    for push in plan(registry, refs):
        with step(f"push {push.source} to {push.destination}"):
            pushed[push.name] = push_image(push, registry)
        say(f"{push.name}: {pushed[push.name].ref}")
    with tempfile.TemporaryDirectory() as tmp, step(f"chart to {registry.chart_oci}"):
        package = package_chart(helm, pushed, Path(tmp))
        chart = push_chart(helm, package, registry)
    version = str(yaml.safe_load((CHART / "Chart.yaml").read_text())["version"])
    return Published(pushed, chart, version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m images.publish", description=__doc__)
    parser.add_argument("registry", nargs="?", help="host:port[/prefix], e.g. 127.0.0.1:5000")
    parser.add_argument("--helm", help="the helm binary (default: helm on PATH)")
    args = parser.parse_args(argv)
    try:
        registry = parse_registry(args.registry)
        published = publish(registry, find_helm(args.helm))
    except (PublishError, cmd.CommandError) as error:
        print(f"publish: {error}", file=sys.stderr)
        return 1
    for pushed in published.images.values():
        print(pushed.ref)
    flag = " --plain-http" if registry.plain_http else ""
    print(f"helm install dimini-operator {published.chart} --version {published.version}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
