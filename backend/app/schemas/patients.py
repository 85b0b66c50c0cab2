from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.models.enums import Gender
from app.schemas.common import ApiInput, ApiModel, Email, NonBlank

PatientName = Annotated[NonBlank, StringConstraints(max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class Demographics(ApiInput):
    age: Annotated[int, Field(ge=0, le=150)] | None = None
    gender: Gender | None = None
    occupation: ShortText | None = None
    referral_source: ShortText | None = None
    initial_concerns: Annotated[list[ShortText], Field(max_length=10)] | None = None


class PatientCreate(ApiInput):
    name: PatientName
    email: Email | None = None
    phone: Phone | None = None
    demographics: Demographics = Demographics()


class PatientPatch(ApiInput):
    name: PatientName | None = None
    email: Email | None = None
    phone: Phone | None = None
    demographics: Demographics | None = None


class PatientOut(ApiModel):
    id: uuid.UUID
    name: str
    email: str | None
    phone: str | None
    demographics: Demographics
    created_at: datetime
    updated_at: datetime


class PatientStats(ApiModel):
    total_sessions: int
    active_sessions: int
    last_session_at: datetime | None


class PatientDetail(PatientOut):
    stats: PatientStats
