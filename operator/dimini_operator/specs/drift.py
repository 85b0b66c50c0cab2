"""Decide whether a live object still matches its desired manifest (no API calls)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from dimini_operator.specs.common import FIELD_MANAGER, HASH_ANNOTATION

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_FACTORS = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def quantity(value: str) -> Decimal | None:
    """The value of a Kubernetes quantity string ("500m", "1Gi", "0.5"), or None."""
    match = _QUANTITY.match(value)
    if not match:
        return None
    try:
        return Decimal(match.group(1)) * _FACTORS[match.group(2)]
    except InvalidOperation:
        return None


def _same_scalar(desired: Any, actual: Any) -> bool:
    if desired == actual:
        return True
    # The API server canonicalises quantities ("0.5" -> "500m", "1024Mi" -> "1Gi").
    if isinstance(desired, str) and isinstance(actual, str):
        a, b = quantity(desired), quantity(actual)
        return a is not None and a == b
    return False


def _image_parts(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference; docker.io's implicit prefixes dropped."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    for prefix in (
        "docker.io/library/",
        "index.docker.io/library/",
        "docker.io/",
        "index.docker.io/",
    ):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if "/" not in name:
        name = f"library/{name}"
    return name, tag, digest or None


def same_image(desired: str, actual: str) -> bool:
    """True when the live image `actual` satisfies the desired image reference.

    Admission policies (Kyverno verifyImages mutateDigest, ...) pin `repo:tag` to `repo@sha256:..`
    or `repo:tag@sha256:..`; the digest cannot be checked offline, so the same repository (and
    tag, when kept) counts as equal. A changed desired tag still rolls: it changes HASH_ANNOTATION.
    """
    if desired == actual:
        return True
    d_repo, d_tag, d_digest = _image_parts(desired)
    a_repo, a_tag, a_digest = _image_parts(actual)
    if d_repo != a_repo:
        return False
    if d_digest is not None:
        return d_digest == a_digest
    if a_tag is None:
        return a_digest is not None
    return a_tag == (d_tag or "latest")


def _same_field(key: str, desired: Any, actual: Any) -> bool:
    if key == "image" and isinstance(desired, str) and isinstance(actual, str):
        return same_image(desired, actual)
    return is_subset(desired, actual)


# Fields that are ours to set but that the server rewrites or that are not worth comparing.
_IGNORED_TOP = ("status",)


def is_subset(desired: Any, actual: Any) -> bool:
    """True when every field of `desired` is present with the same value in `actual`.

    Maps may have extra keys in `actual` (server defaults); lists must have the same length and
    match element-wise, so an added or removed list item counts as drift.
    """
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return False
        return all(k in actual and _same_field(k, v, actual[k]) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(desired) != len(actual):
            return False
        return all(is_subset(d, a) for d, a in zip(desired, actual, strict=True))
    if isinstance(desired, bool) or isinstance(actual, bool):
        return desired is actual
    if isinstance(desired, int | float) and isinstance(actual, int | float):
        return float(desired) == float(actual)
    return _same_scalar(desired, actual)


def up_to_date(desired: dict[str, Any], actual: dict[str, Any] | None) -> bool:
    """Skip the apply when the live object carries our hash and still has every desired field."""
    if actual is None:
        return False
    want = desired.get("metadata", {}).get("annotations", {}).get(HASH_ANNOTATION)
    have = (actual.get("metadata", {}).get("annotations") or {}).get(HASH_ANNOTATION)
    if want != have:
        return False
    body = {k: v for k, v in desired.items() if k not in _IGNORED_TOP}
    return is_subset(body, actual)


def repair_patch(desired: Any, actual: Any) -> Any:
    """A JSON merge patch that puts every mismatching desired field back.

    Lists cannot be patched element-wise with a merge patch, so a list that differs anywhere is
    replaced as a whole. Used when server-side apply alone cannot undo an edit, e.g. a Service
    port changed by another field manager (the edited list item is then owned by that manager).
    Returns None when nothing differs.
    """
    if isinstance(desired, dict) and isinstance(actual, dict):
        patch: dict[str, Any] = {}
        for key, value in desired.items():
            if key not in actual:
                patch[key] = value
                continue
            if _same_field(key, value, actual[key]):
                continue
            sub = repair_patch(value, actual[key])
            if sub is not None:
                patch[key] = sub
        return patch or None
    if is_subset(desired, actual):
        return None
    return desired


def update_entry_removal(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A JSON patch removing the operator's `Update` managedFields entries (left by a repair's
    merge patch), or None when there are none.

    Kubernetes advises against one manager using both Apply and Update: fields the Update entry
    owns stay when a later apply drops them. Everything a repair writes is also in the applied
    configuration, so the Apply entry keeps owning it. Each removal is guarded by `test`
    operations (highest index first, so earlier indices stay valid).
    """
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    ops: list[dict[str, Any]] = []
    for i in reversed(range(len(entries))):
        entry = entries[i]
        if entry.get("manager") != FIELD_MANAGER or entry.get("operation") != "Update":
            continue
        path = f"/metadata/managedFields/{i}"
        ops += [
            {"op": "test", "path": f"{path}/manager", "value": FIELD_MANAGER},
            {"op": "test", "path": f"{path}/operation", "value": "Update"},
            {"op": "remove", "path": path},
        ]
    return ops or None


def merge_diff(old: Any, new: Any) -> Any:
    """JSON merge patch turning `old` into `new` (None when they are equal).

    Keys missing from `new` become null, so the patched object equals `new` exactly.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        patch: dict[str, Any] = {}
        for key in old:
            if key not in new:
                patch[key] = None
        for key, value in new.items():
            if key not in old:
                patch[key] = value
                continue
            sub = merge_diff(old[key], value)
            if sub is not None:
                patch[key] = sub
            elif isinstance(value, dict) and value == {} and old[key] != {}:
                patch[key] = value
        return patch or None
    if old == new:
        return None
    return new
