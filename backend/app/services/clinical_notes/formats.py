"""Progress-note formats and how a draft is prefilled: pure functions, no database.

Each format's sections are declared once here; the API lists them with every note, so the
frontend renders whatever the backend declares.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.models import SessionConcern, SessionNote, SessionProgress
from app.models.enums import NoteCategory, NoteFormat
from app.schemas.sessions import SessionSummary


@dataclass(frozen=True)
class Section:
    key: str
    title: str


FORMATS: dict[NoteFormat, tuple[Section, ...]] = {
    NoteFormat.soap: (
        Section("subjective", "Subjective"),
        Section("objective", "Objective"),
        Section("assessment", "Assessment"),
        Section("plan", "Plan"),
    ),
    NoteFormat.dap: (
        Section("data", "Data"),
        Section("assessment", "Assessment"),
        Section("plan", "Plan"),
    ),
    NoteFormat.birp: (
        Section("behavior", "Behavior"),
        Section("intervention", "Intervention"),
        Section("response", "Response"),
        Section("plan", "Plan"),
    ),
}

FORMAT_TITLES: dict[NoteFormat, str] = {
    NoteFormat.soap: "SOAP",
    NoteFormat.dap: "DAP",
    NoteFormat.birp: "BIRP",
}


@dataclass(frozen=True)
class SessionFacts:
    """What a session recorded, the input of a prefilled draft."""

    summary: SessionSummary
    notes: Sequence[SessionNote]
    progress: Sequence[SessionProgress]
    concerns: Sequence[SessionConcern]


def _humanise(value: str) -> str:
    return value.replace("_", " ").capitalize()


def _lines(label: str, items: Iterable[str]) -> list[str]:
    items = [item for item in items if item]
    return [f"{label}: {'; '.join(items)}."] if items else []


def _bullets(items: Iterable[str]) -> list[str]:
    return [f"- {item}" for item in items if item]


def _notes(facts: SessionFacts, *categories: NoteCategory) -> list[str]:
    return [note.content for note in facts.notes if note.category in categories]


def _progress(facts: SessionFacts) -> list[str]:
    return [
        f"{_humanise(item.progress_type.value)}: {item.description}"
        + (f" (evidence: {item.evidence})" if item.evidence else "")
        for item in facts.progress
    ]


def _concerns(facts: SessionFacts) -> list[str]:
    return [
        f"{_humanise(item.concern_type.value)} ({item.severity.value}): {item.description}"
        for item in facts.concerns
    ]


def _plan(facts: SessionFacts) -> str:
    actions = [item.recommended_action for item in facts.concerns if item.recommended_action]
    return "\n".join(_bullets([*facts.summary.recommendations, *(a for a in actions if a)]))


def _join(*parts: list[str]) -> str:
    return "\n".join(line for part in parts for line in part)


def prefill(note_format: NoteFormat, facts: SessionFacts) -> dict[str, str]:
    """A draft of `note_format` from the session's summary, notes, progress and concerns."""
    summary = facts.summary
    presented = _join(
        _lines("Topics discussed", summary.key_topics),
        _lines("Emotional themes", summary.emotional_themes),
    )
    observed = _join(
        _bullets(_notes(facts, NoteCategory.observation)), _bullets(summary.progress_notes)
    )
    assessed = _join(
        _bullets(summary.insights),
        _bullets(_notes(facts, NoteCategory.insight, NoteCategory.concern)),
        _bullets(_concerns(facts)),
    )
    responded = _join(_bullets(_progress(facts)), _bullets(_notes(facts, NoteCategory.progress)))
    plan = _plan(facts)
    if note_format == NoteFormat.soap:
        values = {
            "subjective": presented,
            "objective": observed,
            "assessment": _join([assessed] if assessed else [], _bullets(_progress(facts))),
            "plan": plan,
        }
    elif note_format == NoteFormat.dap:
        values = {
            "data": _join([presented] if presented else [], [observed] if observed else []),
            "assessment": _join([assessed] if assessed else [], [responded] if responded else []),
            "plan": plan,
        }
    else:
        values = {
            "behavior": _join([presented] if presented else [], [observed] if observed else []),
            "intervention": _join(_bullets(summary.progress_notes)),
            "response": _join([responded] if responded else [], [assessed] if assessed else []),
            "plan": plan,
        }
    return {section.key: values[section.key] for section in FORMATS[note_format]}
