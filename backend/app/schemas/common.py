from __future__ import annotations

import re
from typing import Annotated, Any, Final, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

MAX_PAGE_SIZE = 100
# Pragmatic shape check (no network lookups): one @, a dot in the domain, no spaces.
_EMAIL_SHAPE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")


def _check_email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL_SHAPE.match(value):
        raise ValueError("is not a valid email address")
    return value


Email = Annotated[
    str, StringConstraints(max_length=320), AfterValidator(_check_email), Field(examples=["a@b.io"])
]
NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; readable from ORM objects."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


def reject_nul(value: object) -> object:
    """Postgres text cannot hold NUL characters: refuse them at the edge (422, not a DB error)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if isinstance(value, list | tuple):
        for item in value:
            reject_nul(item)
    if isinstance(value, dict):
        for key, item in value.items():
            reject_nul(key)
            reject_nul(item)
    return value


class ApiInput(ApiModel):
    # Unknown keys are a client bug worth reporting (422) rather than silently dropping.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_characters(cls, value: object, info: ValidationInfo) -> object:
        # Rows read back (an input model nested in an output one, e.g. a patient's demographics)
        # come from Postgres, whose text and jsonb refuse NUL: nothing to find, ~3% of the list.
        if info.context is READ_BACK:
            return value
        return reject_nul(value)


# Validation context for output built from database rows: model_validate(..., context=READ_BACK).
READ_BACK: Final[dict[str, Any]] = {"read_back": True}


T = TypeVar("T")


class Page(ApiModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
