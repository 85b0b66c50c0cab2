"""The moments each graph node was mentioned (time and context), for the node details.

Revision ID: 0005_graph_mentions
Revises: 0004_session_records
Create Date: 2026-12-02

Expand-only: a new table that older pods simply do not use (their nodes get no mention rows, so
the details of such a node list no moments).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_graph_mentions"
down_revision: str | None = "0004_session_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "graph_mentions",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "session_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "node_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("graph_nodes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("context", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_index("ix_graph_mentions_node_id", "graph_mentions", ["node_id"])


def downgrade() -> None:
    op.drop_index("ix_graph_mentions_node_id", table_name="graph_mentions")
    op.drop_table("graph_mentions")
