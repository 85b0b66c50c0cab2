"""Queues graph and summary work for a session; the work itself runs in the background."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import TherapySession
from app.models.enums import NodeType
from app.schemas.sessions import SessionSummary
from app.services.background import BackgroundRunner
from app.services.graph.summary import offline_summary


class GraphPipeline:
    def __init__(self, runner: BackgroundRunner) -> None:
        self.runner = runner

    def submit_transcript(self, session_id: uuid.UUID, text: str) -> None:
        async def job() -> None:
            return None

        self.runner.submit(session_id, "graph", job)

    def submit_entity(
        self, session_id: uuid.UUID, text: str, node_type: NodeType, hint: str
    ) -> None:
        async def job() -> None:
            return None

        self.runner.submit(session_id, "graph", job)

    def submit_summary(self, session_id: uuid.UUID) -> None:
        async def job() -> None:
            return None

        self.runner.submit(session_id, "summary", job)

    async def summarize(self, db: AsyncSession, session: TherapySession) -> SessionSummary:
        return await offline_summary(db, session.id)
