"""Entity extraction: transcript text -> TOPIC and EMOTION entities.

`OfflineExtractor` needs no network and no model: emotions come from a shipped lexicon, topics are
keyphrases (runs of content words between stopwords and punctuation, RAKE-style). `OpenAIExtractor`
asks the chat model for the same shape and is used when OPENAI_API_KEY is set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, Field, ValidationError

from app.models.enums import NodeType

if TYPE_CHECKING:  # imported for real only with a key (app.services.graph.llm)
    from openai import AsyncOpenAI

MAX_ENTITIES_PER_TEXT = 12
MAX_TOPICS_PER_TEXT = 4
MAX_LABEL_LENGTH = 60

_WORD = re.compile(r"[a-z][a-z'\-]*")


@dataclass(frozen=True)
class Entity:
    key: str
    type: NodeType
    label: str
    context: str


class Extractor(Protocol):
    async def extract(self, text: str) -> list[Entity]: ...


def entity_key(node_type: NodeType, label: str) -> str:
    """Stable per-session identity: the same concept mentioned again is the same node."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:150]
    return f"{node_type.value}:{slug}"


_ING_NOUNS = frozenset(
    [
        "morning",
        "evening",
        "meeting",
        "breathing",
        "drinking",
        "eating",
        "wedding",
        "feeling",
        "building",
        "parenting",
        "dating",
        "housing",
        "ceiling",
        "clothing",
    ]
)
_LY_NOUNS = frozenset(["family", "belly", "bully", "ally", "july", "italy", "assembly"])
_IRREGULAR = {
    "children": "child",
    "people": "person",
    "women": "woman",
    "men": "man",
    # verbs that name the same topic as their noun
    "apologise": "apology",
    "apologize": "apology",
    "argue": "argument",
    "sleeps": "sleep",
    "worked": "work",
}


def _singular(word: str) -> str:
    """Plural -> singular for the usual English endings (no dictionary)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _content_word(word: str, stop: frozenset[str]) -> str | None:
    """The lemma of a word that can name a topic, or None for function and filler words."""
    if word.endswith("'s"):
        word = word[:-2]
    if "'" in word:
        return None  # contractions: i'm, she'll, haven't
    if len(word) < 3 or word in stop:
        return None
    if word.endswith("ly") and word not in _LY_NOUNS:
        return None  # adverbs
    if word.endswith("ing") and word not in _ING_NOUNS:
        return None  # verbs in progress (nouns in -ing are listed)
    if word.endswith("ed") and len(word) > 4:
        return None  # past tenses and participles
    lemma = _singular(word)
    return None if lemma in stop or len(lemma) < 3 else lemma


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    text = resources.files(__package__).joinpath("stopwords.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line and line[0] != "#")


@lru_cache(maxsize=1)
def emotion_lexicon() -> dict[str, str]:
    text = resources.files(__package__).joinpath("emotion_lexicon.json").read_text("utf-8")
    raw: dict[str, str] = json.loads(text)
    return {word: label for word, label in raw.items() if not word.startswith("_")}


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"(?<=[.!?])\s+|\n+", text) if part.strip()]


class OfflineExtractor:
    async def extract(self, text: str) -> list[Entity]:
        return extract_offline(text)


def extract_offline(text: str) -> list[Entity]:
    """Emotions from the lexicon; topics are single content-word lemmas (case, plural,
    possessive and punctuation variants are one node), the most mentioned first, at most
    MAX_TOPICS_PER_TEXT of them, so a 50-minute session stays well under ~80 nodes."""
    lexicon = emotion_lexicon()
    stop = stopwords()
    emotions: dict[str, Entity] = {}
    topics: dict[str, tuple[int, int, Entity]] = {}  # key -> (mentions, first position, entity)
    position = 0
    for sentence in _sentences(text):
        context = sentence[:500]
        for raw in _WORD.findall(sentence.lower()):
            word = raw.strip("'-")
            position += 1
            if word in lexicon:
                label = lexicon[word]
                key = entity_key(NodeType.emotion, label)
                emotions.setdefault(key, Entity(key, NodeType.emotion, label, context))
                continue
            for part in word.split("-"):
                lemma = _content_word(part, stop)
                if lemma is None or lemma in lexicon:
                    continue
                key = entity_key(NodeType.topic, lemma)
                if key in topics:
                    count, first, entity = topics[key]
                    topics[key] = (count + 1, first, entity)
                else:
                    topics[key] = (1, position, Entity(key, NodeType.topic, lemma, context))
    ranked = sorted(topics.values(), key=lambda item: (-item[0], item[1]))
    chosen = [entity for _, _, entity in ranked[:MAX_TOPICS_PER_TEXT]]
    return [*emotions.values(), *chosen][:MAX_ENTITIES_PER_TEXT]


# -- OpenAI --------------------------------------------------------------------------------------

EXTRACTION_PROMPT = """You extract a knowledge graph from a therapy-session transcript excerpt.
Return JSON: {"entities": [{"type": "topic"|"emotion", "label": str, "context": str}]}.
- topic: a concrete subject the patient talks about (e.g. "work deadlines", "sleep").
- emotion: a feeling the patient expresses (e.g. "anxiety", "exhaustion").
Labels are short (1-3 words, lower case). context is the sentence that mentions it.
At most 12 entities. No entities when nothing qualifies."""


class _ExtractedEntity(BaseModel):
    type: NodeType
    label: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)
    context: str = Field(default="", max_length=2000)


class _Extraction(BaseModel):
    entities: list[_ExtractedEntity] = Field(default_factory=list)


class LlmOutputError(Exception):
    """The model answered, but not with what was asked for."""


class OpenAIExtractor:
    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self._client = client
        self._model = model

    async def extract(self, text: str) -> list[Entity]:
        completion = await self._client.chat.completions.create(
            model=self._model,
            messages=[
                {"role": "system", "content": EXTRACTION_PROMPT},
                {"role": "user", "content": text},
            ],
            response_format={"type": "json_object"},
        )
        content = completion.choices[0].message.content or "{}"
        try:
            extraction = _Extraction.model_validate_json(content)
        except ValidationError as error:
            raise LlmOutputError(
                f"unexpected extraction output: {error.error_count()} errors"
            ) from None
        entities: dict[str, Entity] = {}
        for item in extraction.entities[:MAX_ENTITIES_PER_TEXT]:
            label = item.label.strip().lower()
            key = entity_key(item.type, label)
            entities.setdefault(key, Entity(key, item.type, label, item.context or text[:500]))
        return list(entities.values())
