"""The Markdown export of a session: summary and progress note, rendered without the database."""

from __future__ import annotations

import re

from app.models import ClinicalNoteVersion, TherapySession
from app.schemas.sessions import SessionSummary
from app.services.clinical_notes.formats import FORMAT_TITLES, FORMATS

_SUMMARY_PARTS = (
    ("Key topics", "key_topics"),
    ("Emotional themes", "emotional_themes"),
    ("Insights", "insights"),
    ("Recommendations", "recommendations"),
    ("Progress notes", "progress_notes"),
)
# Characters that would turn a patient's words into Markdown structure (headings, links, HTML).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _block(text: str) -> str:
    """A multi-line section body: each line escaped, list dashes kept as lists."""
    lines = []
    for line in text.splitlines():
        if line.startswith("- "):
            lines.append("- " + escape(line[2:]))
        else:
            lines.append(escape(line))
    return "\n".join(lines).strip() or "_(empty)_"


def render_markdown(
    session: TherapySession,
    patient_name: str,
    summary: SessionSummary | None,
    note: ClinicalNoteVersion | None,
) -> str:
    started = session.started_at.strftime("%Y-%m-%d %H:%M UTC")
    out = [f"# Session with {escape(patient_name)}", "", f"Started: {started}  "]
    if session.ended_at is not None:
        out.append(f"Ended: {session.ended_at.strftime('%Y-%m-%d %H:%M UTC')}  ")
    out += [f"Status: {session.status.value}", "", "## Summary", ""]
    if summary is None:
        out += ["_No summary yet._", ""]
    else:
        for title, field in _SUMMARY_PARTS:
            items: list[str] = getattr(summary, field)
            if items:
                out += [f"### {title}", "", *(f"- {escape(item)}" for item in items), ""]
    if note is None:
        out += ["## Progress note", "", "_No progress note saved yet._", ""]
        return "\n".join(out)
    saved = note.created_at.strftime("%Y-%m-%d %H:%M UTC")
    out += [
        f"## {FORMAT_TITLES[note.format]} progress note",
        "",
        f"Version {note.version}, saved {saved}",
        "",
    ]
    for section in FORMATS[note.format]:
        out += [f"### {section.title}", "", _block(note.sections.get(section.key, "")), ""]
    return "\n".join(out)
