"""`python -m app.seed`: demo data (a therapist, patients, a finished session with its graph).

Idempotent: the demo therapist is created once; running again changes nothing. The password comes
from DEMO_PASSWORD (default `dimini-demo-password` — for local demos only).
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.core.config import load_settings_or_exit
from app.core.db import create_engine, create_session_factory
from app.core.logging import configure_logging
from app.core.security import hash_password
from app.models import (
    GraphEdge,
    GraphNode,
    Patient,
    SessionConcern,
    SessionNote,
    SessionProgress,
    TherapySession,
    User,
)
from app.models.enums import (
    ConcernType,
    Importance,
    NodeType,
    NoteCategory,
    ProgressType,
    SessionStatus,
    Severity,
    UserRole,
)

DEMO_EMAIL = "demo@dimini.local"
logger = logging.getLogger("app.seed")

PATIENTS = [
    (
        "Alex Morgan",
        "alex.morgan@example.org",
        {
            "age": 34,
            "gender": "non_binary",
            "occupation": "Software engineer",
            "initialConcerns": ["work stress", "sleep"],
        },
    ),
    (
        "Sam Rivera",
        "sam.rivera@example.org",
        {"age": 27, "gender": "female", "occupation": "Nurse", "initialConcerns": ["anxiety"]},
    ),
    ("Jordan Lee", None, {"age": 45, "gender": "male", "referralSource": "GP"}),
]

GRAPH = [
    ("work-stress", NodeType.topic, "work stress", 3),
    ("sleep", NodeType.topic, "sleep", 2),
    ("deadlines", NodeType.topic, "deadlines", 1),
    ("anxiety", NodeType.emotion, "anxiety", 2),
    ("exhaustion", NodeType.emotion, "exhaustion", 1),
]
LINKS = [
    ("work-stress", "deadlines", 0.86),
    ("work-stress", "anxiety", 0.79),
    ("sleep", "exhaustion", 0.83),
    ("anxiety", "sleep", 0.76),
]


async def seed() -> bool:
    """Returns False when the demo data already exists."""
    settings = load_settings_or_exit()
    configure_logging(settings.log_level, settings.secret_values())
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as db:
            exists = await db.scalar(select(func.count()).where(User.email == DEMO_EMAIL))
            if exists:
                logger.info("demo data already present")
                return False
            password = os.environ.get("DEMO_PASSWORD", "dimini-demo-password")
            therapist = User(
                email=DEMO_EMAIL,
                name="Dr Demo",
                role=UserRole.therapist,
                password_hash=await hash_password(password),
                token_version=0,
                failed_login_attempts=0,
            )
            db.add(therapist)
            await db.flush()
            patients = [
                Patient(
                    therapist_id=therapist.id, name=name, email=email, demographics=demographics
                )
                for name, email, demographics in PATIENTS
            ]
            db.add_all(patients)
            await db.flush()
            started = datetime.now(UTC) - timedelta(days=2)
            session = TherapySession(
                patient_id=patients[0].id,
                therapist_id=therapist.id,
                status=SessionStatus.completed,
                started_at=started,
                ended_at=started + timedelta(minutes=50),
                end_reason="ended_by_therapist",
                transcript="Work has been overwhelming with all the deadlines. "
                "I lie awake worrying and feel exhausted in the morning.",
                summary={
                    "keyTopics": ["work stress", "sleep"],
                    "emotionalThemes": ["anxiety", "exhaustion"],
                    "insights": ["Connects poor sleep to worrying about deadlines"],
                    "recommendations": ["Try a wind-down routine before bed"],
                    "progressNotes": ["coping skill: practised box breathing"],
                },
            )
            db.add(session)
            await db.flush()
            nodes = {
                key: GraphNode(
                    session_id=session.id,
                    key=key,
                    type=node_type,
                    label=label,
                    mention_count=mentions,
                )
                for key, node_type, label, mentions in GRAPH
            }
            db.add_all(nodes.values())
            await db.flush()
            for left, right, similarity in LINKS:
                source, target = sorted((nodes[left].id, nodes[right].id))
                db.add(
                    GraphEdge(
                        session_id=session.id,
                        source_id=source,
                        target_id=target,
                        similarity=similarity,
                    )
                )
            db.add(
                SessionNote(
                    session_id=session.id,
                    category=NoteCategory.insight,
                    importance=Importance.high,
                    source="voice_agent",
                    content="Connects poor sleep to worrying about deadlines",
                )
            )
            db.add(
                SessionProgress(
                    session_id=session.id,
                    progress_type=ProgressType.coping_skill,
                    description="Practised box breathing",
                )
            )
            db.add(
                SessionConcern(
                    session_id=session.id,
                    concern_type=ConcernType.emotional_distress,
                    severity=Severity.moderate,
                    description="Persistent exhaustion",
                    recommended_action="Review sleep hygiene next session",
                )
            )
            await db.commit()
            logger.info("demo data created", extra={"email": DEMO_EMAIL})
            return True
    finally:
        await engine.dispose()


def main() -> None:
    asyncio.run(seed())


if __name__ == "__main__":
    main()
