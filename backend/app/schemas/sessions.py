from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.models.enums import (
    ConcernType,
    Importance,
    NodeType,
    NoteCategory,
    ProgressType,
    SessionStatus,
    Severity,
    Speaker,
)
from app.schemas.common import ApiInput, ApiModel


class SessionStart(ApiInput):
    patient_id: uuid.UUID


class SessionSummary(ApiModel):
    key_topics: list[str] = Field(default_factory=list)
    emotional_themes: list[str] = Field(default_factory=list)
    insights: list[str] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    progress_notes: list[str] = Field(default_factory=list)


class SessionOut(ApiModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    therapist_id: uuid.UUID
    status: SessionStatus
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    duration_seconds: int | None
    created_at: datetime
    updated_at: datetime


class SessionDetail(SessionOut):
    transcript: str
    summary: SessionSummary | None


class TranscriptIn(ApiInput):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
    # Only the patient's lines feed the graph and the summary; every line shows in the transcript.
    speaker: Speaker = Speaker.patient


class TranscriptAccepted(ApiModel):
    session_id: uuid.UUID
    status: Literal["queued"] = "queued"


class GraphNodeOut(ApiModel):
    id: uuid.UUID
    label: str
    type: NodeType
    mention_count: int
    weighted_degree: float
    pagerank: float
    betweenness: float


class GraphLinkOut(ApiModel):
    source: uuid.UUID
    target: uuid.UUID
    value: float


class GraphOut(ApiModel):
    nodes: list[GraphNodeOut]
    links: list[GraphLinkOut]


class MentionOut(ApiModel):
    at: datetime
    context: str


class NodeMentionsOut(ApiModel):
    node_id: uuid.UUID
    mentions: list[MentionOut]


class RankedEntity(ApiModel):
    id: uuid.UUID
    label: str
    type: NodeType
    value: float


class InsightsOut(ApiModel):
    top_by_weighted_degree: list[RankedEntity]
    top_by_pagerank: list[RankedEntity]
    top_by_betweenness: list[RankedEntity]


class NoteOut(ApiModel):
    id: uuid.UUID
    content: str
    category: NoteCategory
    importance: Importance
    source: str
    created_at: datetime


class ProgressOut(ApiModel):
    id: uuid.UUID
    progress_type: ProgressType
    description: str
    evidence: str | None
    created_at: datetime


class ConcernOut(ApiModel):
    id: uuid.UUID
    concern_type: ConcernType
    severity: Severity
    description: str
    recommended_action: str | None
    created_at: datetime


class SummaryOut(ApiModel):
    session_id: uuid.UUID
    status: SessionStatus
    # null until the session has ended and the summary has been written.
    summary: SessionSummary | None
