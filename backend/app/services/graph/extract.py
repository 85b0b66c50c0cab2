"""Entity extraction: transcript text -> TOPIC and EMOTION entities.

`OfflineExtractor` needs no network and no model: emotions come from a shipped lexicon, topics are
content-word lemmas seen in a noun position (after a determiner, possessive, number or
preposition, or a name capitalised mid-sentence), so adverbs, bare verbs and adjectives do not
become nodes; the subjects of a shipped topic lexicon always count (synonyms merged), other
nouns only when repeated in the text or as the first noun of a short one. `OpenAIExtractor`
asks the chat model for the same shape and is used when OPENAI_API_KEY is set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError

from app.models.enums import NodeType

if TYPE_CHECKING:  # imported for real only with a key (app.services.graph.llm)
    from openai import AsyncOpenAI

MAX_ENTITIES_PER_TEXT = 12
MAX_TOPICS_PER_TEXT = 4
SHORT_TEXT_WORDS = 12
MAX_LABEL_LENGTH = 60

# Words, and any other non-space character (punctuation, digits) as its own token: a break.
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*|\S")
# A content word right after one of these is in a noun position ("my manager", "at work").
_NOUN_MARKERS = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "your",
        "his",
        "her",
        "our",
        "their",
        "its",
        "this",
        "these",
        "those",
        "some",
        "any",
        "no",
        "every",
        "each",
        "another",
        "several",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "about",
        "with",
        "at",
        "in",
        "on",
        "from",
        "for",
        "after",
        "before",
        "into",
        "of",
        "without",
        "near",
        "during",
        "around",
        "by",
        "between",
    ]
)
# Modifiers: in "the <modifier> <word>" the word after is the head noun, not the modifier.
_ADJECTIVE_ENDINGS = ("ful", "ous", "ive", "able", "ible", "ish", "less", "iest")
_ADJECTIVES = frozenset(
    [
        "small",
        "large",
        "whole",
        "real",
        "bad",
        "good",
        "hard",
        "last",
        "first",
        "next",
        "new",
        "old",
        "little",
        "long",
        "great",
        "short",
        "perfect",
        "different",
        "typical",
        "normal",
        "free",
        "clear",
        "high",
        "low",
        "easy",
        "best",
        "worst",
        "quick",
        "slow",
        "same",
        "only",
        "own",
        "empty",
        "full",
        "late",
        "early",
        "big",
        "huge",
        "tiny",
        "nice",
        "kind",
        "main",
        "wrong",
        "right",
        "entire",
    ]
)


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
        "running",
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
    # one person, several words for them
    "mum": "mother",
    "mom": "mother",
    "dad": "father",
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


def _lexicon(name: str) -> dict[str, str]:
    text = resources.files(__package__).joinpath(name).read_text("utf-8")
    raw: dict[str, str] = json.loads(text)
    return {word: label for word, label in raw.items() if not word.startswith("_")}


@lru_cache(maxsize=1)
def topic_lexicon() -> dict[str, str]:
    return _lexicon("topic_lexicon.json")


@lru_cache(maxsize=1)
def emotion_lexicon() -> dict[str, str]:
    return _lexicon("emotion_lexicon.json")


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"(?<=[.!?])\s+|\n+", text) if part.strip()]


class OfflineExtractor:
    async def extract(self, text: str) -> list[Entity]:
        return extract_offline(text)


def _modifier(word: str) -> bool:
    return word in _ADJECTIVES or (len(word) > 4 and word.endswith(_ADJECTIVE_ENDINGS))


def _noun_positions(sentence: str) -> list[tuple[str, Literal["name", "noun", ""]]]:
    """(lower-case word, "name" / "noun" position / "") per word; punctuation breaks adjacency."""
    tokens = _TOKEN.findall(sentence)
    marked: list[tuple[str, Literal["name", "noun", ""]]] = []
    after_marker = False  # the previous token opens a noun phrase
    for index, token in enumerate(tokens):
        if not token[0].isalpha():
            after_marker = token.isdigit()  # "5 coffees"
            continue
        word = token.lower().strip("'-")
        # A capital after a word or a comma is a name ("partner Daniel", "Hi Tom"), not a start.
        previous = tokens[index - 1] if index else "."
        name = token[0].isupper() and (previous[0].isalpha() or previous == ",")
        nxt = tokens[index + 1].lower() if index + 1 < len(tokens) else ""
        # "the small flat": the modifier passes the noun position on to the word after it.
        passes_on = after_marker and _modifier(word) and nxt[:1].isalpha()
        marked.append((word, "name" if name else "noun" if after_marker and not passes_on else ""))
        after_marker = word in _NOUN_MARKERS or passes_on
    return marked


def extract_offline(text: str) -> list[Entity]:
    """Emotions from their lexicon. Topics are single content-word lemmas (case, plural,
    possessive and punctuation variants are one node): the subjects of the topic lexicon
    (synonyms merged), and other nouns when named or repeated in noun positions within the
    text; the most mentioned first, at most MAX_TOPICS_PER_TEXT, so a 50-minute session stays
    under ~80 nodes."""
    lexicon = emotion_lexicon()
    subjects = topic_lexicon()
    stop = stopwords()
    emotions: dict[str, Entity] = {}
    topics: dict[str, _Candidate] = {}
    position = 0
    for sentence in _sentences(text):
        context = sentence[:500]
        for word, noun in _noun_positions(sentence):
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
                subject = subjects.get(lemma)
                if subject is None and not noun:
                    continue
                label = subject or lemma
                key = entity_key(NodeType.topic, label)
                candidate = topics.get(key)
                if candidate is None:
                    entity = Entity(key, NodeType.topic, label, context)
                    candidate = topics[key] = _Candidate(entity, position)
                candidate.mentions += 1
                candidate.qualified |= subject is not None or noun == "name"
    # Nouns outside the lexicon said once are scenery in a long turn (the platform, the sofa)
    # but the point of a short one ("...about the wedding in Lisbon"): the first one counts there.
    salient = [c for c in topics.values() if c.qualified or c.mentions >= 2]
    salient.sort(key=lambda c: (-c.mentions, c.first))
    passing = [c for c in topics.values() if not (c.qualified or c.mentions >= 2)]
    budget = 1 if position <= SHORT_TEXT_WORDS else 0
    chosen = salient + sorted(passing, key=lambda c: c.first)[:budget]
    picked = [c.entity for c in chosen[:MAX_TOPICS_PER_TEXT]]
    return [*emotions.values(), *picked][:MAX_ENTITIES_PER_TEXT]


@dataclass
class _Candidate:
    entity: Entity
    first: int
    mentions: int = 0
    qualified: bool = False


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
