from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from app.core import passwords
from app.models.enums import UserRole
from app.schemas.common import ApiInput, ApiModel, Email, NonBlank

# Upper bound keeps argon2 work bounded for hostile input.
Password = Annotated[str, StringConstraints(min_length=passwords.MIN_LENGTH, max_length=1024)]


class RegisterRequest(ApiInput):
    email: Email
    name: Annotated[NonBlank, StringConstraints(max_length=200)]
    password: Password
    # Accepted for compatibility and ignored: every registration is a therapist.
    role: UserRole | None = Field(default=None, exclude=True)

    @field_validator("password")
    @classmethod
    def _password_rule(cls, password: str, info: ValidationInfo) -> str:
        # email and name are declared first, so they are validated (or missing) by now.
        problem = passwords.problem_with(
            password, info.data.get("email", ""), info.data.get("name", "")
        )
        if problem is not None:
            # A 422 on `password`; the error handler never echoes the input.
            raise ValueError(f"Password {problem}")
        return password


class LoginRequest(ApiInput):
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class TokenResponse(ApiModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int
    # Seconds until the session ends however often it is renewed (POST /api/auth/refresh).
    absolute_expires_in: int


class UserOut(ApiModel):
    id: uuid.UUID
    email: str
    name: str
    role: UserRole
    created_at: datetime


class MessageOut(ApiModel):
    detail: str


# The same answer whether or not the email already had an account (OWASP Authentication Cheat
# Sheet, "Authentication and Error Messages"): registration does not reveal who uses Dimini.
REGISTRATION_RECEIVED = MessageOut(
    detail="Registration received. Sign in with this email and password; if the email already "
    "had an account, sign in with that account's password."
)
