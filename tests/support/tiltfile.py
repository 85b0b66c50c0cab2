"""Evaluate the Tiltfile with a recording implementation of Tilt's API.

Tilt itself cannot be built here (its Go module is not served by the module proxy), so this runs
the Tiltfile's Starlark with `starlark-pyo3` and records what it declares: images with their
live-update steps, YAML, Kubernetes kinds and resources, local resources. `helm()` runs the real
helm binary, so the chart is rendered as Tilt would render it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import starlark as sl

REPO = Path(__file__).resolve().parents[2]

# Tilt's module-style builtins, rebuilt as structs over the recorder's functions.
_PRELUDE = """
config = struct(define_string = _config_define_string, define_bool = _config_define_bool,
                parse = _config_parse)
os = struct(getenv = _os_getenv)
TRIGGER_MODE_AUTO = 1
TRIGGER_MODE_MANUAL = 2
"""


@dataclass
class TiltfileResult:
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    yaml: list[str] = field(default_factory=list)
    kinds: dict[str, dict[str, Any]] = field(default_factory=dict)
    k8s_resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    local_resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    allowed_contexts: list[str] = field(default_factory=list)


class _Recorder:
    def __init__(self, args: dict[str, str], helm_bin: Path | None) -> None:
        self.args, self.helm_bin = args, helm_bin
        self.result = TiltfileResult()

    def callables(self) -> dict[str, Any]:
        r = self.result

        def docker_build(ref: str, context: str, **kw: Any) -> None:
            r.images[ref] = {"context": context, **kw}

        def k8s_yaml(yaml: Any, **kw: Any) -> None:
            r.yaml.extend(yaml if isinstance(yaml, list) else [yaml])

        def k8s_kind(kind: str, **kw: Any) -> None:
            r.kinds[kind] = kw

        def k8s_resource(workload: str = "", **kw: Any) -> None:
            r.k8s_resources[workload] = kw

        def local_resource(name: str, **kw: Any) -> None:
            r.local_resources[name] = kw

        def allow_k8s_contexts(contexts: Any) -> None:
            r.allowed_contexts.extend(contexts if isinstance(contexts, list) else [contexts])

        def helm(chart: str, **kw: Any) -> str:
            if self.helm_bin is None:
                return f"helm:{chart}"
            args = [str(self.helm_bin), "template", kw.get("name", "release"), str(REPO / chart)]
            if "namespace" in kw:
                args += ["--namespace", kw["namespace"]]
            for value in kw.get("set", []):
                args += ["--set", value]
            return subprocess.run(args, check=True, capture_output=True, text=True).stdout

        def step(kind: str) -> Any:
            return lambda *a, **kw: {"step": kind, "args": list(a), **kw}

        def fail(msg: str) -> None:
            raise RuntimeError(f"Tiltfile fail(): {msg}")

        return {
            "docker_build": docker_build,
            "k8s_yaml": k8s_yaml,
            "k8s_kind": k8s_kind,
            "k8s_resource": k8s_resource,
            "local_resource": local_resource,
            "allow_k8s_contexts": allow_k8s_contexts,
            "helm": helm,
            "blob": lambda text: text,
            "sync": step("sync"),
            "run": step("run"),
            "fall_back_on": step("fall_back_on"),
            "restart_container": step("restart_container"),
            "update_settings": lambda **kw: None,
            "fail": fail,
            "_config_define_string": lambda *a, **kw: None,
            "_config_define_bool": lambda *a, **kw: None,
            "_config_parse": lambda: dict(self.args),
            "_os_getenv": lambda name, default="": default,
        }


def evaluate(args: dict[str, str] | None = None, helm_bin: Path | None = None) -> TiltfileResult:
    """Evaluate ./Tiltfile with `tilt up -- --key=value` style `args`."""
    recorder = _Recorder(args or {}, helm_bin)
    module = sl.Module()
    for name, fn in recorder.callables().items():
        module.add_callable(name, fn)
    source = _PRELUDE + (REPO / "Tiltfile").read_text()
    # Tilt's dialect: top-level if/for, lambdas, f-strings (the "extended" dialect).
    ast = sl.parse("Tiltfile", source, dialect=sl.Dialect.extended())
    glb = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Print])
    sl.eval(module, ast, glb)
    return recorder.result
