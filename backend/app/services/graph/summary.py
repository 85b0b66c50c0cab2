"""Session summaries: {keyTopics, emotionalThemes, insights, recommendations, progressNotes}.

The offline summary is built from the session's graph, notes, progress and concerns; with an
OpenAI key the LLM writes it from the transcript and those same facts (see `llm.py`).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import GraphNode, SessionConcern, SessionNote, SessionProgress
from app.models.enums import NodeType
from app.schemas.sessions import SessionSummary

TOP_ENTITIES = 5


async def offline_summary(db: AsyncSession, session_id: uuid.UUID) -> SessionSummary:
    nodes = (
        (
            await db.execute(
                select(GraphNode)
                .where(GraphNode.session_id == session_id)
                .order_by(
                    GraphNode.pagerank.desc(), GraphNode.mention_count.desc(), GraphNode.label
                )
            )
        )
        .scalars()
        .all()
    )
    notes = (
        (
            await db.execute(
                select(SessionNote)
                .where(SessionNote.session_id == session_id)
                .order_by(SessionNote.created_at)
            )
        )
        .scalars()
        .all()
    )
    progress = (
        (
            await db.execute(
                select(SessionProgress)
                .where(SessionProgress.session_id == session_id)
                .order_by(SessionProgress.created_at)
            )
        )
        .scalars()
        .all()
    )
    concerns = (
        (
            await db.execute(
                select(SessionConcern)
                .where(SessionConcern.session_id == session_id)
                .order_by(SessionConcern.created_at)
            )
        )
        .scalars()
        .all()
    )

    topics = [node.label for node in nodes if node.type == NodeType.topic][:TOP_ENTITIES]
    emotions = [node.label for node in nodes if node.type == NodeType.emotion][:TOP_ENTITIES]
    recommendations = [
        concern.recommended_action
        or f"Follow up on {concern.concern_type.value.replace('_', ' ')}"
        f" ({concern.severity.value}): {concern.description}"
        for concern in concerns
    ]
    if topics and not recommendations:
        recommendations.append(f"Continue exploring {topics[0]} in the next session.")
    return SessionSummary(
        key_topics=topics,
        emotional_themes=emotions,
        insights=[
            note.content for note in notes if note.category.value in ("insight", "observation")
        ],
        recommendations=recommendations,
        progress_notes=[
            f"{item.progress_type.value.replace('_', ' ')}: {item.description}" for item in progress
        ],
    )
