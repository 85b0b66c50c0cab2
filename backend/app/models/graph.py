"""The knowledge graph of a session, stored in Postgres."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, Timestamps, UUIDPrimaryKey, enum_type
from app.models.enums import NodeType


class GraphNode(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "graph_nodes"
    __table_args__ = (UniqueConstraint("session_id", "key"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    type: Mapped[NodeType] = mapped_column(enum_type(NodeType, "node_type"))
    label: Mapped[str] = mapped_column(String(200))
    context: Mapped[str] = mapped_column(Text, server_default="")
    mention_count: Mapped[int] = mapped_column(default=1)
    embedding: Mapped[list[float] | None] = mapped_column(ARRAY(DOUBLE_PRECISION))
    weighted_degree: Mapped[float] = mapped_column(Float, default=0.0)
    pagerank: Mapped[float] = mapped_column(Float, default=0.0)
    betweenness: Mapped[float] = mapped_column(Float, default=0.0)


class GraphEdge(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "graph_edges"
    __table_args__ = (
        UniqueConstraint("session_id", "source_id", "target_id"),
        # Undirected: stored once, with the smaller node id as source.
        CheckConstraint("source_id < target_id", name="canonical_direction"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    source_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("graph_nodes.id", ondelete="CASCADE"), index=True
    )
    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("graph_nodes.id", ondelete="CASCADE"), index=True
    )
    similarity: Mapped[float] = mapped_column(Float)


class GraphMention(UUIDPrimaryKey, CreatedAt, Base):
    """One moment a node came up (a transcript batch naming it), with the words around it."""

    __tablename__ = "graph_mentions"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    node_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("graph_nodes.id", ondelete="CASCADE"), index=True
    )
    context: Mapped[str] = mapped_column(Text, server_default="")
