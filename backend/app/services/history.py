"""A patient's sessions over time: summaries, top themes per session, and a trend across them."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import GraphNode, TherapySession
from app.models.enums import NodeType
from app.services import patients

# The history covers the latest sessions only: a page a therapist can read, a bounded query.
HISTORY_SESSIONS = 50
THEMES_PER_SESSION = 5
TREND_TOPICS = 5
TREND_EMOTIONS = 3


@dataclass(frozen=True)
class Theme:
    key: str
    label: str
    type: NodeType
    mentions: int
    pagerank: float


@dataclass(frozen=True)
class TrendSeries:
    key: str
    label: str
    type: NodeType
    # Mentions per session, in the order of `PatientHistory.sessions` (oldest first).
    mentions: list[int]


@dataclass
class PatientHistory:
    sessions: list[TherapySession]
    themes: dict[uuid.UUID, list[Theme]] = field(default_factory=dict)
    trend: list[TrendSeries] = field(default_factory=list)


def top_themes(themes: Sequence[Theme], limit: int = THEMES_PER_SESSION) -> list[Theme]:
    """The session's most central entities (PageRank, then mentions)."""
    return sorted(themes, key=lambda t: (-t.pagerank, -t.mentions, t.label))[:limit]


def trend(sessions: Sequence[uuid.UUID], themes: dict[uuid.UUID, list[Theme]]) -> list[TrendSeries]:
    """Mentions per session of the patient's most mentioned topics and emotions overall."""
    totals: dict[str, int] = defaultdict(int)
    labels: dict[str, Theme] = {}
    for session_themes in themes.values():
        for theme in session_themes:
            totals[theme.key] += theme.mentions
            labels.setdefault(theme.key, theme)
    series: list[TrendSeries] = []
    for node_type, limit in ((NodeType.topic, TREND_TOPICS), (NodeType.emotion, TREND_EMOTIONS)):
        keys = sorted(
            (key for key, theme in labels.items() if theme.type == node_type),
            key=lambda key: (-totals[key], key),
        )[:limit]
        for key in keys:
            per_session = {
                session_id: sum(t.mentions for t in themes.get(session_id, []) if t.key == key)
                for session_id in sessions
            }
            series.append(
                TrendSeries(
                    key=key,
                    label=labels[key].label,
                    type=node_type,
                    mentions=[per_session[session_id] for session_id in sessions],
                )
            )
    return series


async def patient_history(
    db: AsyncSession, therapist_id: uuid.UUID, patient_id: uuid.UUID
) -> PatientHistory:
    await patients.get_owned(db, therapist_id, patient_id)
    latest = (
        (
            await db.execute(
                select(TherapySession)
                .where(
                    TherapySession.patient_id == patient_id,
                    TherapySession.therapist_id == therapist_id,
                )
                .order_by(TherapySession.started_at.desc(), TherapySession.id.desc())
                .limit(HISTORY_SESSIONS)
            )
        )
        .scalars()
        .all()
    )
    sessions = list(reversed(latest))  # oldest first: the trend reads left to right
    ids = [session.id for session in sessions]
    rows = await db.execute(
        select(
            GraphNode.session_id,
            GraphNode.key,
            GraphNode.label,
            GraphNode.type,
            GraphNode.mention_count,
            GraphNode.pagerank,
        ).where(GraphNode.session_id.in_(ids))
    )
    all_themes: dict[uuid.UUID, list[Theme]] = defaultdict(list)
    for session_id, key, label, node_type, mentions, pagerank in rows.all():
        all_themes[session_id].append(Theme(key, label, node_type, mentions, pagerank))
    return PatientHistory(
        sessions=sessions,
        themes={sid: top_themes(all_themes.get(sid, [])) for sid in ids},
        trend=trend(ids, all_themes),
    )
