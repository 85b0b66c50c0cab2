"""Recipe hashes: an image is rebuilt only when the hash of its inputs changes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def recipe_hash(parts: Iterable[str | bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        # Length-prefixed, so ("ab", "c") and ("a", "bc") hash differently.
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()
