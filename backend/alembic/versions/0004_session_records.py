"""Session records: transcript lines with speaker and time, versioned progress notes.

Revision ID: 0004_session_records
Revises: 0003
Create Date: 2026-12-02

Expand-only: two new tables that older pods simply do not use (they keep appending to
sessions.transcript, which stays). Existing transcripts are copied in as the patient's lines,
timed at the session's start (their real times were never stored).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_session_records"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _one_of(column: str, values: Sequence[str], name: str) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


def upgrade() -> None:
    op.create_table(
        "transcript_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "session_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("speaker", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "spoken_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        _one_of("speaker", ["patient", "therapist", "assistant"], "speaker"),
    )
    op.create_index(
        "ix_transcript_entries_session_id_id", "transcript_entries", ["session_id", "id"]
    )
    op.create_index(
        "ix_transcript_entries_search",
        "transcript_entries",
        [sa.text("to_tsvector('english'::regconfig, text)")],
        postgresql_using="gin",
    )
    op.execute(
        """
        INSERT INTO transcript_entries (session_id, speaker, text, spoken_at)
        SELECT s.id, 'patient', t.line, s.started_at
        FROM sessions s,
             unnest(string_to_array(s.transcript, E'\\n')) WITH ORDINALITY AS t(line, n)
        WHERE s.transcript <> '' AND t.line <> ''
        ORDER BY s.started_at, s.id, t.n
        """
    )
    op.create_table(
        "clinical_note_versions",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "session_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "author_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("sections", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        _one_of("format", ["soap", "dap", "birp"], "note_format"),
        sa.UniqueConstraint("session_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("clinical_note_versions")
    op.drop_index("ix_transcript_entries_search", table_name="transcript_entries")
    op.drop_index("ix_transcript_entries_session_id_id", table_name="transcript_entries")
    op.drop_table("transcript_entries")
