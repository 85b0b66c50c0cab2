"""The offline extractor on a realistic 50-minute session: few, meaningful, distinct nodes."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from app.models.enums import NodeType
from app.services.graph.extract import Entity, extract_offline, stopwords

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "therapy_session_50min.txt"


def _paragraphs() -> list[str]:
    return [part.strip() for part in FIXTURE.read_text("utf-8").split("\n\n") if part.strip()]


def _session_nodes() -> dict[str, Entity]:
    """Each paragraph is posted as one transcript text, as the browser does; keys merge."""
    nodes: dict[str, Entity] = {}
    for paragraph in _paragraphs():
        for entity in extract_offline(paragraph):
            nodes.setdefault(entity.key, entity)
    return nodes


def _normal(label: str) -> str:
    """An independent near-duplicate test: case, punctuation, plural/singular, -ing/-ed."""
    words = []
    for word in re.findall(r"[a-z]+", label.lower()):
        for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
            if len(word) > len(suffix) + 2 and word.endswith(suffix):
                word = word[: -len(suffix)] + repl
                break
        words.append(word)
    return " ".join(sorted(words))


def test_fixture_is_a_realistic_fifty_minute_session() -> None:
    paragraphs = _paragraphs()
    # Turns as a recogniser posts them, short acknowledgements included.
    assert len(paragraphs) >= 100
    assert sum(len(p.split()) for p in paragraphs) > 2500


def test_fifty_minute_session_stays_under_eighty_nodes() -> None:
    nodes = _session_nodes()
    assert 20 <= len(nodes) <= 80, sorted(nodes)
    keys = set(nodes)
    for expected in ("topic:manager", "topic:sleep", "topic:sister", "emotion:anxiety"):
        assert expected in keys


def test_no_stopword_only_or_trivial_nodes() -> None:
    stop = stopwords()
    for entity in _session_nodes().values():
        words = entity.label.split()
        assert not all(word in stop for word in words), entity
        assert entity.label not in ("therapist", "patient"), entity  # speaker labels
        if entity.type == NodeType.topic:
            assert len(entity.label) >= 3, entity


def test_no_near_duplicate_nodes() -> None:
    nodes = list(_session_nodes().values())
    for a, b in itertools.combinations(nodes, 2):
        if a.type == b.type:
            assert _normal(a.label) != _normal(b.label), (a.label, b.label)


def test_case_plural_and_punctuation_variants_are_one_node() -> None:
    keys = {e.key for e in extract_offline("Deadlines. The deadline! DEADLINE's. My deadline...")}
    assert keys == {"topic:deadline"}
    keys = {e.key for e in extract_offline("Her worries about the parties; a party, worries.")}
    assert "topic:party" in keys and "topic:parties" not in keys


def test_topics_need_a_noun_position_or_a_name() -> None:
    # Adverbs and bare verbs never follow a determiner, a possessive or a preposition.
    assert extract_offline("Honestly, I almost already stopped, rather whenever.") == []
    keys = {e.key for e in extract_offline("Yesterday Daniel and I talked about caffeine.")}
    assert keys == {"topic:daniel", "topic:caffeine"}


def test_the_head_noun_after_an_adjective_is_the_topic() -> None:
    keys = {e.key for e in extract_offline("The awful neighbours. Those awful neighbours!")}
    assert keys == {"topic:neighbour"}


def test_a_noun_said_once_in_passing_is_no_topic_but_a_subject_is() -> None:
    # In a long turn "platform" and "sofa" are scenery; "coffee" is a subject (caffeine).
    text = "On the platform I waited for a long while and had a coffee, then sat on the sofa."
    assert {e.key for e in extract_offline(text)} == {"topic:caffeine"}
    # A short turn's one noun is its point.
    assert {e.key for e in extract_offline("She called about the wedding.")} == {"topic:wedding"}


def test_synonyms_of_a_subject_are_one_node() -> None:
    keys = {e.key for e in extract_offline("My boss emailed. The manager's boss too. Bosses!")}
    assert keys == {"topic:manager"}


def test_family_names_and_weekdays() -> None:
    keys = {e.key for e in extract_offline("My mum called on Tuesday; my mother is fine.")}
    assert keys == {"topic:mother"}
