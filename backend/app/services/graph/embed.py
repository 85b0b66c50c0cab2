"""Embeddings: OpenAI `text-embedding-3-small`, or an offline hashing vectoriser.

The offline vectoriser hashes character trigrams of the label and the words of its context into a
fixed-size vector (no model, no network). Entities named alike or mentioned in the same sentence
end up close, which is what the graph's links should express without a language model.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # imported for real only with a key (app.services.graph.llm)
    from openai import AsyncOpenAI

from app.services.graph.extract import Entity

OFFLINE_DIMENSIONS = 512
LABEL_WEIGHT = 1.0
# Context outweighs the label so that co-mentioned entities clear the default 0.75 threshold
# (cosine = c²/(c²+1) = 0.8 for a shared sentence), while unrelated ones stay far apart.
CONTEXT_WEIGHT = 2.0


class Embedder(Protocol):
    async def embed(self, entities: Sequence[Entity]) -> list[list[float]]: ...


def _bucket(feature: str) -> int:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % OFFLINE_DIMENSIONS


def _normalise(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector] if norm else vector


def offline_vector(label: str, context: str) -> list[float]:
    vector = [0.0] * OFFLINE_DIMENSIONS
    padded = f"  {label.lower()}  "
    trigrams = [padded[index : index + 3] for index in range(len(padded) - 2)]
    for trigram in trigrams:
        vector[_bucket("l:" + trigram)] += LABEL_WEIGHT / max(len(trigrams), 1) ** 0.5
    words = re.findall(r"[a-z']+", context.lower())
    for word in words:
        vector[_bucket("c:" + word)] += CONTEXT_WEIGHT / max(len(words), 1) ** 0.5
    return _normalise(vector)


class OfflineEmbedder:
    async def embed(self, entities: Sequence[Entity]) -> list[list[float]]:
        return [offline_vector(entity.label, entity.context) for entity in entities]


class OpenAIEmbedder:
    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self._client = client
        self._model = model

    async def embed(self, entities: Sequence[Entity]) -> list[list[float]]:
        if not entities:
            return []
        response = await self._client.embeddings.create(
            model=self._model,
            input=[f"{entity.label}: {entity.context}" for entity in entities],
        )
        ordered = sorted(response.data, key=lambda item: item.index)
        return [list(item.embedding) for item in ordered]


def cosine(left: Sequence[float], right: Sequence[float]) -> float:
    """Raw cosine similarity (vectors need not be normalised)."""
    dot = sum(a * b for a, b in zip(left, right, strict=False))
    norms = math.sqrt(sum(a * a for a in left)) * math.sqrt(sum(b * b for b in right))
    return dot / norms if norms else 0.0
