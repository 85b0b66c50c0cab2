from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.models.enums import UserRole
from app.schemas.common import ApiInput, ApiModel, Email, NonBlank

# Upper bound keeps argon2 work bounded for hostile input.
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]


class RegisterRequest(ApiInput):
    email: Email
    name: Annotated[NonBlank, StringConstraints(max_length=200)]
    password: Password
    # Accepted for compatibility and ignored: every registration is a therapist.
    role: UserRole | None = Field(default=None, exclude=True)


class LoginRequest(ApiInput):
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class TokenResponse(ApiModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int
    # Seconds until the absolute session maximum; a client re-authenticates by then.
    absolute_expires_in: int


class UserOut(ApiModel):
    id: uuid.UUID
    email: str
    name: str
    role: UserRole
    created_at: datetime


class MessageOut(ApiModel):
    detail: str
