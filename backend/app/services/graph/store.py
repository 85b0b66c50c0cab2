"""Reading a session's graph from Postgres."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import GraphEdge, GraphMention, GraphNode
from app.schemas.sessions import (
    GraphLinkOut,
    GraphNodeOut,
    GraphOut,
    InsightsOut,
    MentionOut,
    NodeMentionsOut,
    RankedEntity,
)
from app.services.errors import NotFoundError

INSIGHTS_PER_METRIC = 5


async def nodes_of(db: AsyncSession, session_id: uuid.UUID) -> Sequence[GraphNode]:
    rows = await db.execute(
        select(GraphNode).where(GraphNode.session_id == session_id).order_by(GraphNode.created_at)
    )
    return rows.scalars().all()


async def edges_of(db: AsyncSession, session_id: uuid.UUID) -> Sequence[GraphEdge]:
    rows = await db.execute(select(GraphEdge).where(GraphEdge.session_id == session_id))
    return rows.scalars().all()


def node_out(node: GraphNode) -> GraphNodeOut:
    return GraphNodeOut.model_validate(node)


def link_out(edge: GraphEdge) -> GraphLinkOut:
    return GraphLinkOut(source=edge.source_id, target=edge.target_id, value=edge.similarity)


async def graph_of(db: AsyncSession, session_id: uuid.UUID) -> GraphOut:
    # Edges are stored once per undirected pair (source < target), so each link appears once.
    return GraphOut(
        nodes=[node_out(node) for node in await nodes_of(db, session_id)],
        links=[link_out(edge) for edge in await edges_of(db, session_id)],
    )


async def mentions_of(
    db: AsyncSession, session_id: uuid.UUID, node_id: uuid.UUID
) -> NodeMentionsOut:
    """The moments a node of this session was mentioned, oldest first."""
    node = await db.scalar(
        select(GraphNode.id).where(GraphNode.id == node_id, GraphNode.session_id == session_id)
    )
    if node is None:
        raise NotFoundError("Graph node not found")
    rows = await db.execute(
        select(GraphMention.created_at, GraphMention.context)
        .where(GraphMention.node_id == node_id)
        .order_by(GraphMention.created_at, GraphMention.id)
    )
    return NodeMentionsOut(
        node_id=node_id,
        mentions=[MentionOut(at=row.created_at, context=row.context) for row in rows],
    )


def _ranked(nodes: Sequence[GraphNode], metric: str) -> list[RankedEntity]:
    ordered = sorted(nodes, key=lambda node: (-float(getattr(node, metric)), node.label))
    return [
        RankedEntity(id=node.id, label=node.label, type=node.type, value=getattr(node, metric))
        for node in ordered[:INSIGHTS_PER_METRIC]
    ]


async def insights_of(db: AsyncSession, session_id: uuid.UUID) -> InsightsOut:
    nodes = await nodes_of(db, session_id)
    return InsightsOut(
        top_by_weighted_degree=_ranked(nodes, "weighted_degree"),
        top_by_pagerank=_ranked(nodes, "pagerank"),
        top_by_betweenness=_ranked(nodes, "betweenness"),
    )
