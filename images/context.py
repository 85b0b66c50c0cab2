"""Build contexts: the files buildah sends (per .dockerignore), their hash, extra files."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from images import config


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    include: bool  # a `!pattern` line re-includes what an earlier line excluded


def _compile(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore matching: from the context root; `**` spans directories."""
    out = ""
    i = 0
    pattern = pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    # A match on a directory excludes everything below it.
    return re.compile(f"{out}(?:/.*)?")


def _rules(context: Path) -> list[_Rule]:
    ignore = context / ".dockerignore"
    if not ignore.exists():
        return []
    rules = []
    for line in ignore.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        rules.append(_Rule(_compile(line.removeprefix("!")), include))
    return rules


def files(context: Path) -> list[str]:
    """Relative paths (sorted) of the regular files and symlinks the build can COPY."""
    rules = _rules(context)
    kept = []
    for path in sorted(context.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        rel = path.relative_to(context).as_posix()
        excluded = False
        for rule in rules:
            if rule.regex.fullmatch(rel):
                excluded = not rule.include
        if not excluded:
            kept.append(rel)
    return kept


def digest(context: Path, extra_files: Mapping[str, str], *inputs: str) -> str:
    """Hash of the context's files (names, modes, contents), the extra files and other inputs."""
    h = hashlib.sha256()
    for item in [*inputs]:
        h.update(b"input\0" + item.encode() + b"\0")
    overridden = set(extra_files)
    for rel in files(context):
        if rel in overridden:
            continue
        path = context / rel
        content = str(path.readlink()).encode() if path.is_symlink() else path.read_bytes()
        mode = path.lstat().st_mode & 0o777
        h.update(f"file\0{rel}\0{mode:o}\0{len(content)}\0".encode() + content)
    for rel, text in sorted(extra_files.items()):
        data = text.encode()
        h.update(f"extra\0{rel}\0{len(data)}\0".encode() + data)
    return h.hexdigest()


def stage(name: str, context: Path, extra_files: Mapping[str, str], tag: str) -> Path:
    """A copy of `context` (ignored files left out) with `extra_files` added, in the cache."""
    staged = config.cache_dir() / "contexts" / f"{name}-{tag}"
    if staged.exists():
        shutil.rmtree(staged)
    for rel in [*files(context), ".dockerignore", "Dockerfile"]:
        source = context / rel
        if not source.exists():
            continue
        target = staged / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    for rel, text in extra_files.items():
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ValueError(f"extra file outside the context: {rel}")
        target = staged / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return staged
