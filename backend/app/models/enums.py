"""Enumerations of the data model; values are the lowercase strings of the API."""

from __future__ import annotations

from enum import StrEnum


class UserRole(StrEnum):
    therapist = "therapist"
    admin = "admin"
    assistant = "assistant"


class SessionStatus(StrEnum):
    active = "active"
    completed = "completed"
    cancelled = "cancelled"


class Gender(StrEnum):
    male = "male"
    female = "female"
    non_binary = "non_binary"
    prefer_not_to_say = "prefer_not_to_say"
    other = "other"


class NoteCategory(StrEnum):
    insight = "insight"
    observation = "observation"
    concern = "concern"
    progress = "progress"


class Importance(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class ProgressType(StrEnum):
    emotional_regulation = "emotional_regulation"
    insight_gained = "insight_gained"
    behavioral_change = "behavioral_change"
    coping_skill = "coping_skill"


class ConcernType(StrEnum):
    emotional_distress = "emotional_distress"
    risk_behavior = "risk_behavior"
    deterioration = "deterioration"
    crisis_indicator = "crisis_indicator"


class Severity(StrEnum):
    moderate = "moderate"
    high = "high"
    urgent = "urgent"


class NodeType(StrEnum):
    topic = "topic"
    emotion = "emotion"


class Speaker(StrEnum):
    """Who said a transcript line; only the patient's lines feed the graph and the summary."""

    patient = "patient"
    therapist = "therapist"
    assistant = "assistant"


class NoteFormat(StrEnum):
    """Progress-note formats; their sections are declared in app.services.clinical_notes."""

    soap = "soap"
    dap = "dap"
    birp = "birp"
