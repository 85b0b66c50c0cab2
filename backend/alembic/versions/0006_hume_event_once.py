"""A Hume webhook is recorded once: a replay or a redelivery of the same event adds no row.

Revision ID: 0006_hume_event_once
Revises: 0005_graph_mentions
Create Date: 2026-12-07

One row per (event, chat, tool call); NULLS NOT DISTINCT (Postgres 15) makes a chat's one start
and one end unique too. Duplicates already stored are dropped, keeping the first. An older pod
that receives a replay after this fails that one request instead of recording it twice.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_hume_event_once"
down_revision: str | None = "0005_graph_mentions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_hume_events_delivery"


def upgrade() -> None:
    op.execute(
        "DELETE FROM hume_events later USING hume_events first "
        "WHERE later.event_name = first.event_name AND later.chat_id = first.chat_id "
        "AND later.tool_call_id IS NOT DISTINCT FROM first.tool_call_id AND later.id > first.id"
    )
    op.create_index(
        INDEX,
        "hume_events",
        ["event_name", "chat_id", "tool_call_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="hume_events")
