"""Hume chats (many per session) and the metadata of received Hume webhooks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Hand-written, expand-only: the old single-chat columns `sessions.hume_chat_id` and
`sessions.hume_chat_group_id` stay (unused by this release) so pods of the previous release keep
working during a rolling upgrade; a later release drops them. Chats already bound through them are
copied into `hume_chats`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hume_chats",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("chat_id", sa.String(255), nullable=False),
        sa.Column("chat_group_id", sa.String(255), nullable=False),
        sa.Column(
            "session_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(64), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("chat_id", name="uq_hume_chats_chat_id"),
    )
    op.create_index("ix_hume_chats_chat_group_id", "hume_chats", ["chat_group_id"])
    op.create_index("ix_hume_chats_session_id", "hume_chats", ["session_id"])

    op.create_table(
        "hume_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("event_name", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(255), nullable=False),
        sa.Column("chat_group_id", sa.String(255), nullable=False),
        sa.Column(
            "session_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sessions.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(64), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("tool_call_id", sa.String(255), nullable=True),
        sa.Column("tool_name", sa.String(100), nullable=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_index("ix_hume_events_chat_id", "hume_events", ["chat_id"])
    op.create_index("ix_hume_events_session_id", "hume_events", ["session_id"])

    # The single chat each session had bound keeps routing its webhooks. Before this release a
    # chat group was optional; a missing one becomes the chat's own id, which no real group has.
    op.execute(
        """
        INSERT INTO hume_chats (id, chat_id, chat_group_id, session_id, duration_seconds)
        SELECT gen_random_uuid(), hume_chat_id, coalesce(hume_chat_group_id, hume_chat_id), id,
               duration_seconds
        FROM sessions
        WHERE hume_chat_id IS NOT NULL
        """
    )


def downgrade() -> None:
    # The previous release routes one chat per session: give it each session's latest chat.
    op.execute(
        """
        UPDATE sessions s SET hume_chat_id = c.chat_id, hume_chat_group_id = c.chat_group_id
        FROM (
            SELECT DISTINCT ON (session_id) session_id, chat_id, chat_group_id
            FROM hume_chats ORDER BY session_id, created_at DESC, id
        ) c
        WHERE s.id = c.session_id AND s.hume_chat_id IS NULL
        """
    )
    op.drop_table("hume_events")
    op.drop_table("hume_chats")
