"""The graph pipeline, off the request path.

transcript text -> entities (OpenAI or offline) -> embeddings (OpenAI or offline) -> nodes upserted
by (session, key) -> links where raw cosine >= SIMILARITY_THRESHOLD -> `graph_batch_update` to the
session room, with `processing_update` along the way; then graph metrics (scipy, on their own
one-thread executor; services/graph/metrics.py), coalesced per session (services/coalesce.py)
-> `metrics_updated`. Session end -> summary
(LLM or offline) -> `session_update`.

Transcript updates and summaries are durable (services/durable_jobs.py): recorded with the request,
resumed by any process after a crash or restart. Notes and metrics stay in-process: notes are
stored by their own request and metrics are recomputed on the next update.

Jobs of one session run in order (BackgroundRunner keys); across processes the database keeps
keys unique (upsert) and each undirected link single (canonical order + unique constraint).
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.metrics import graph_stage
from app.models import GraphEdge, GraphMention, GraphNode, PendingJob, TherapySession
from app.models.enums import SessionStatus
from app.schemas.events import (
    GraphBatchUpdate,
    MetricsUpdated,
    NodeMetrics,
    ProcessingStatus,
    ProcessingUpdate,
    SessionUpdate,
)
from app.schemas.sessions import SessionSummary
from app.services import durable_jobs
from app.services.background import BackgroundRunner
from app.services.coalesce import Coalescer
from app.services.events import Broadcaster
from app.services.graph.embed import Embedder, OfflineEmbedder, OpenAIEmbedder
from app.services.graph.extract import (
    Entity,
    Extractor,
    OfflineExtractor,
    OpenAIExtractor,
)
from app.services.graph.llm import llm_errors, llm_summary, openai_client
from app.services.graph.metrics import compute_metrics_async
from app.services.graph.store import link_out, node_out
from app.services.graph.summary import offline_summary

logger = logging.getLogger(__name__)

# Batches of one session arriving within this window share one metrics run (services/coalesce.py).
METRICS_COALESCE_SECONDS = 0.5


async def _metrics_window() -> None:
    await asyncio.sleep(METRICS_COALESCE_SECONDS)


@dataclass(frozen=True)
class StoredBatch:
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class GraphPipeline:
    def __init__(
        self,
        runner: BackgroundRunner,
        session_factory: async_sessionmaker[AsyncSession],
        broadcaster: Broadcaster,
        settings: Settings,
    ) -> None:
        self.runner = runner
        self._sessions = session_factory
        self._broadcaster = broadcaster
        self._threshold = settings.similarity_threshold
        self._llm = openai_client(settings)
        self._model = settings.gpt_model
        self._offline_extractor = OfflineExtractor()
        self._extractor: Extractor = (
            OpenAIExtractor(self._llm, settings.gpt_model) if self._llm else self._offline_extractor
        )
        self._embedder: Embedder = (
            OpenAIEmbedder(self._llm, settings.embedding_model) if self._llm else OfflineEmbedder()
        )
        self.metrics: Coalescer[uuid.UUID] = Coalescer(
            runner, "metrics", lambda session_id: self.update_metrics(session_id), _metrics_window
        )
        self.jobs = durable_jobs.DurableJobs(
            runner,
            session_factory,
            {"graph": self._graph_job, "summary": self._summary_job},
            settings.background_job_lease_seconds,
        )

    # -- queueing (called from requests; returns at once) -------------------------------------

    def submit_transcript(self, session_id: uuid.UUID, text: str) -> None:
        self.runner.submit(session_id, "graph", lambda: self.process_text(session_id, text))

    def submit_text(self, session_id: uuid.UUID, text: str) -> None:
        """Notes and concerns join the graph like transcript text."""
        self.submit_transcript(session_id, text)

    def record_transcript(self, db: AsyncSession, session_id: uuid.UUID, text: str) -> PendingJob:
        """Records the graph update in the transaction storing the text; start it after commit."""
        return durable_jobs.add(db, session_id, "graph", text)

    async def submit_summary(self, db: AsyncSession, session_id: uuid.UUID) -> None:
        # Same key as the graph jobs: the summary sees every transcript queued before the end.
        job = durable_jobs.add(db, session_id, "summary")
        await db.commit()
        self.jobs.start(job)

    async def _graph_job(self, session_id: uuid.UUID, text: str | None) -> None:
        await self.process_text(session_id, text or "")

    async def _summary_job(self, session_id: uuid.UUID, _: str | None) -> None:
        await self.write_summary(session_id)

    def submit_metrics(self, session_id: uuid.UUID) -> None:
        self.metrics.submit(session_id)

    # -- graph ---------------------------------------------------------------------------------

    async def _progress(
        self, session_id: uuid.UUID, status: ProcessingStatus, message: str
    ) -> None:
        await self._broadcaster.emit_to_session(
            session_id, ProcessingUpdate(session_id=session_id, status=status, message=message)
        )

    async def _extract(self, session_id: uuid.UUID, text: str) -> list[Entity]:
        try:
            return await self._extractor.extract(text)
        except llm_errors() as error:
            # The graph keeps growing without the LLM rather than losing this utterance.
            logger.warning(
                "LLM extraction failed (%s); using the offline extractor", type(error).__name__
            )
            await self._progress(
                session_id, "extracting", "Language model unavailable; using offline extraction"
            )
            return await self._offline_extractor.extract(text)

    async def process_text(self, session_id: uuid.UUID, text: str) -> None:
        try:
            await self._progress(session_id, "extracting", "Extracting topics and emotions")
            with graph_stage("extract"):
                entities = await self._extract(session_id, text)
            if not entities:
                await self._progress(session_id, "done", "No topics or emotions found")
                return
            await self._progress(session_id, "embedding", f"Embedding {len(entities)} entities")
            with graph_stage("embed"):
                vectors = await self._embedder.embed(entities)
            await self._progress(session_id, "linking", "Linking related entities")
            with graph_stage("link"):
                batch = await self._store(session_id, entities, vectors)
            if batch is None:
                return  # the session was deleted meanwhile
            await self._broadcaster.emit_to_session(
                session_id,
                GraphBatchUpdate(
                    session_id=session_id,
                    nodes=[node_out(node) for node in batch.nodes],
                    edges=[link_out(edge) for edge in batch.edges],
                    message=f"{len(batch.nodes)} entities, {len(batch.edges)} links",
                ),
            )
            await self._progress(session_id, "done", "Graph updated")
            self.submit_metrics(session_id)
        except Exception as error:
            await self._progress(
                session_id, "error", f"Could not process this text ({type(error).__name__})"
            )
            raise

    async def _store(
        self, session_id: uuid.UUID, entities: Sequence[Entity], vectors: Sequence[list[float]]
    ) -> StoredBatch | None:
        rows = [
            {
                "id": uuid.uuid4(),
                "session_id": session_id,
                "key": entity.key,
                "type": entity.type,
                "label": entity.label,
                "context": entity.context,
                "mention_count": 1,
                "embedding": vector,
                "weighted_degree": 0.0,
                "pagerank": 0.0,
                "betweenness": 0.0,
            }
            for entity, vector in zip(entities, vectors, strict=True)
        ]
        inserting = insert(GraphNode).values(rows)
        # A repeated mention raises mentionCount; concurrent writers agree on one row per key.
        statement = inserting.on_conflict_do_update(
            index_elements=["session_id", "key"],
            set_={
                "mention_count": GraphNode.mention_count + 1,
                "context": inserting.excluded.context,
                "updated_at": func.now(),
            },
        ).returning(GraphNode)
        async with self._sessions() as db:
            try:
                touched = list((await db.execute(statement)).scalars())
            except IntegrityError:
                await db.rollback()
                logger.info("graph batch dropped: session %s no longer exists", session_id)
                return None
            # Each node named by this batch gets a mention moment (processing time: a queued
            # batch is stamped a little after it was said) with its own sentence.
            contexts = {entity.key: entity.context for entity in entities}
            db.add_all(
                GraphMention(
                    session_id=session_id, node_id=node.id, context=contexts.get(node.key, "")
                )
                for node in touched
            )
            others = (
                await db.execute(
                    select(GraphNode.id, GraphNode.embedding).where(
                        GraphNode.session_id == session_id
                    )
                )
            ).all()
            pairs = await asyncio.to_thread(
                _similar_pairs,
                [(node.id, node.embedding) for node in touched],
                [(row.id, row.embedding) for row in others],
                self._threshold,
            )
            edges: list[GraphEdge] = []
            if pairs:
                inserting_edges = insert(GraphEdge).values(
                    [
                        {
                            "id": uuid.uuid4(),
                            "session_id": session_id,
                            "source_id": source,
                            "target_id": target,
                            "similarity": similarity,
                        }
                        for (source, target), similarity in pairs.items()
                    ]
                )
                edge_statement = inserting_edges.on_conflict_do_update(
                    index_elements=["session_id", "source_id", "target_id"],
                    set_={"similarity": inserting_edges.excluded.similarity},
                ).returning(GraphEdge)
                edges = list((await db.execute(edge_statement)).scalars())
            await db.commit()
        return StoredBatch(nodes=touched, edges=edges)

    # -- metrics -------------------------------------------------------------------------------

    async def update_metrics(self, session_id: uuid.UUID) -> None:
        """One coalesced run (self.metrics): reads the session's graph as it is now."""
        async with self._sessions() as db:
            node_ids = list(
                (
                    await db.execute(select(GraphNode.id).where(GraphNode.session_id == session_id))
                ).scalars()
            )
            edges = [
                (row.source_id, row.target_id, row.similarity)
                for row in (
                    await db.execute(
                        select(
                            GraphEdge.source_id, GraphEdge.target_id, GraphEdge.similarity
                        ).where(GraphEdge.session_id == session_id)
                    )
                ).all()
            ]
        # No connection held while computing: its own one-thread executor, not the default pool.
        with graph_stage("metrics"):
            metrics = await compute_metrics_async(node_ids, edges)
        if not metrics:
            return
        async with self._sessions() as db:
            await db.execute(
                update(GraphNode),
                [
                    {
                        "id": node_id,
                        "weighted_degree": value.weighted_degree,
                        "pagerank": value.pagerank,
                        "betweenness": value.betweenness,
                    }
                    for node_id, value in metrics.items()
                ],
            )
            await db.commit()
        await self._broadcaster.emit_to_session(
            session_id,
            MetricsUpdated(
                session_id=session_id,
                nodes=[
                    NodeMetrics(
                        id=node_id,
                        pagerank=value.pagerank,
                        betweenness=value.betweenness,
                        weighted_degree=value.weighted_degree,
                    )
                    for node_id, value in metrics.items()
                ],
            ),
        )

    # -- summary -------------------------------------------------------------------------------

    async def summarize(self, db: AsyncSession, session: TherapySession) -> SessionSummary:
        facts = await offline_summary(db, session.id)
        if self._llm is None:
            return facts
        try:
            return await llm_summary(self._llm, self._model, session.transcript, facts)
        except llm_errors() as error:
            logger.warning(
                "LLM summary failed (%s); using the offline summary", type(error).__name__
            )
            return facts

    async def write_summary(self, session_id: uuid.UUID) -> None:
        async with self._sessions() as db:
            session = await db.get(TherapySession, session_id)
            if session is None or session.status != SessionStatus.completed:
                return
            with graph_stage("summary"):
                summary = await self.summarize(db, session)
            session.summary = summary.model_dump(mode="json", by_alias=True)
            status = session.status.value
            await db.commit()
        await self._broadcaster.emit_to_session(
            session_id, SessionUpdate(session_id=session_id, status=status, summary_ready=True)
        )


def _sparse(vector: Sequence[float]) -> tuple[dict[int, float], float]:
    """Non-zero entries and the norm. Offline vectors have a few dozen non-zeros out of 512,
    so sparse dot products are an order of magnitude cheaper in pure Python."""
    entries = {index: value for index, value in enumerate(vector) if value}
    return entries, math.sqrt(sum(value * value for value in entries.values()))


def _similar_pairs(
    touched: Sequence[tuple[uuid.UUID, list[float] | None]],
    candidates: Sequence[tuple[uuid.UUID, list[float] | None]],
    threshold: float,
) -> dict[tuple[uuid.UUID, uuid.UUID], float]:
    """Undirected pairs (smaller id first) of touched nodes and any node at raw cosine >=
    threshold. Runs in a worker thread."""
    prepared = [
        (node_id, len(vector), *_sparse(vector)) for node_id, vector in candidates if vector
    ]
    pairs: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
    for node_id, vector in touched:
        if not vector:
            continue
        entries, norm = _sparse(vector)
        if not norm:
            continue
        for other_id, dimensions, other_entries, other_norm in prepared:
            if other_id == node_id or dimensions != len(vector) or not other_norm:
                continue
            key = (node_id, other_id) if node_id < other_id else (other_id, node_id)
            if key in pairs:
                continue
            small, large = (
                (entries, other_entries)
                if len(entries) <= len(other_entries)
                else (other_entries, entries)
            )
            dot = sum(value * large.get(index, 0.0) for index, value in small.items())
            similarity = dot / (norm * other_norm)
            if similarity >= threshold:
                pairs[key] = round(similarity, 6)
    return pairs
