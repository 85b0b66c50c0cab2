"""Initial schema: users, patients, sessions and their records, graph, tool calls, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Hand-written. Enumerations are text columns with CHECK constraints rather than Postgres ENUM types,
so adding a value later is a constraint swap instead of an ALTER TYPE.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[object]:
    return sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True)


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def _updated_at() -> sa.Column[object]:
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def _session_fk() -> sa.Column[object]:
    return sa.Column(
        "session_id",
        postgresql.UUID(as_uuid=True),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    )


def _one_of(column: str, values: Sequence[str], name: str) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("failed_login_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        _updated_at(),
        _one_of("role", ["therapist", "admin", "assistant"], "user_role"),
    )
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)

    op.create_table(
        "patients",
        _id(),
        sa.Column(
            "therapist_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("phone", sa.String(50), nullable=True),
        sa.Column(
            "demographics",
            postgresql.JSONB(),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        _created_at(),
        _updated_at(),
    )
    op.create_index(
        "uq_patients_therapist_email",
        "patients",
        ["therapist_id", sa.text("lower(email)")],
        unique=True,
        postgresql_where=sa.text("email IS NOT NULL"),
    )
    op.create_index("ix_patients_therapist_created", "patients", ["therapist_id", "created_at"])

    op.create_table(
        "sessions",
        _id(),
        sa.Column(
            "patient_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("patients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "therapist_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transcript", sa.Text(), server_default="", nullable=False),
        sa.Column("summary", postgresql.JSONB(), nullable=True),
        sa.Column("hume_chat_id", sa.String(255), nullable=True),
        sa.Column("hume_chat_group_id", sa.String(255), nullable=True),
        sa.Column("end_reason", sa.String(255), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        _created_at(),
        _updated_at(),
        _one_of("status", ["active", "completed", "cancelled"], "session_status"),
        sa.UniqueConstraint("hume_chat_id"),
    )
    op.create_index(
        "uq_sessions_one_active_per_patient",
        "sessions",
        ["patient_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index("ix_sessions_therapist_created", "sessions", ["therapist_id", "created_at"])
    op.create_index("ix_sessions_patient_created", "sessions", ["patient_id", "created_at"])

    op.create_table(
        "session_notes",
        _id(),
        _session_fk(),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("importance", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        _created_at(),
        _one_of("category", ["insight", "observation", "concern", "progress"], "note_category"),
        _one_of("importance", ["low", "medium", "high", "critical"], "importance"),
    )
    op.create_index("ix_session_notes_session_id", "session_notes", ["session_id"])

    op.create_table(
        "session_progress",
        _id(),
        _session_fk(),
        sa.Column("progress_type", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        _created_at(),
        _one_of(
            "progress_type",
            ["emotional_regulation", "insight_gained", "behavioral_change", "coping_skill"],
            "progress_type",
        ),
    )
    op.create_index("ix_session_progress_session_id", "session_progress", ["session_id"])

    op.create_table(
        "session_concerns",
        _id(),
        _session_fk(),
        sa.Column("concern_type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("recommended_action", sa.Text(), nullable=True),
        _created_at(),
        _one_of(
            "concern_type",
            ["emotional_distress", "risk_behavior", "deterioration", "crisis_indicator"],
            "concern_type",
        ),
        _one_of("severity", ["moderate", "high", "urgent"], "severity"),
    )
    op.create_index("ix_session_concerns_session_id", "session_concerns", ["session_id"])

    op.create_table(
        "graph_nodes",
        _id(),
        _session_fk(),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("context", sa.Text(), server_default="", nullable=False),
        sa.Column("mention_count", sa.Integer(), nullable=False),
        sa.Column("embedding", postgresql.ARRAY(postgresql.DOUBLE_PRECISION()), nullable=True),
        sa.Column("weighted_degree", sa.Float(), nullable=False),
        sa.Column("pagerank", sa.Float(), nullable=False),
        sa.Column("betweenness", sa.Float(), nullable=False),
        _created_at(),
        _updated_at(),
        sa.UniqueConstraint("session_id", "key"),
        _one_of("type", ["topic", "emotion"], "node_type"),
    )

    op.create_table(
        "graph_edges",
        _id(),
        _session_fk(),
        sa.Column(
            "source_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("graph_nodes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "target_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("graph_nodes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("similarity", sa.Float(), nullable=False),
        _created_at(),
        _updated_at(),
        sa.UniqueConstraint("session_id", "source_id", "target_id"),
        sa.CheckConstraint("source_id < target_id", name="canonical_direction"),
    )
    op.create_index("ix_graph_edges_source_id", "graph_edges", ["source_id"])
    op.create_index("ix_graph_edges_target_id", "graph_edges", ["target_id"])

    op.create_table(
        "tool_calls",
        _id(),
        _session_fk(),
        sa.Column("tool_call_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("parameters", postgresql.JSONB(), nullable=False),
        sa.Column("result", postgresql.JSONB(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("tool_call_id"),
    )
    op.create_index("ix_tool_calls_session_id", "tool_calls", ["session_id"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "actor_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=True),
        sa.Column("entity_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "details", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("ip", sa.String(64), nullable=True),
        _created_at(),
    )
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor_id"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])

    op.create_table(
        "login_attempt_windows",
        sa.Column("ip", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )

    op.create_table(
        "realtime_payloads",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("payload", sa.Text(), nullable=False),
        _created_at(),
    )


def downgrade() -> None:
    for table in (
        "realtime_payloads",
        "login_attempt_windows",
        "audit_log",
        "tool_calls",
        "graph_edges",
        "graph_nodes",
        "session_concerns",
        "session_progress",
        "session_notes",
        "sessions",
        "patients",
        "users",
    ):
        op.drop_table(table)
