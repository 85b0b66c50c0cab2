"""Patients of one therapist. Every query is scoped by therapist id."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Prepared
from app.models import Patient, TherapySession
from app.models.enums import SessionStatus
from app.schemas.patients import Demographics, PatientCreate, PatientPatch
from app.services import audit
from app.services.errors import ConflictError, NotFoundError

PATIENT_NOT_FOUND = "Patient not found"
DUPLICATE_EMAIL = "A patient with this email already exists"


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def get_owned(
    db: AsyncSession, therapist_id: uuid.UUID, patient_id: uuid.UUID, *, lock: bool = False
) -> Patient:
    query = select(Patient).where(Patient.id == patient_id, Patient.therapist_id == therapist_id)
    if lock:
        # Serialises session start and patient delete for one patient.
        query = query.with_for_update()
    patient = (await db.execute(query)).scalar_one_or_none()
    if patient is None:
        raise NotFoundError(PATIENT_NOT_FOUND)
    return patient


def _list_filter(search: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Patient.therapist_id == bindparam("therapist_id")]
    if search:
        pattern: BindParameter[str] = bindparam("pattern")
        conditions.append(
            or_(
                Patient.name.ilike(pattern, escape="\\"),
                Patient.email.ilike(pattern, escape="\\"),
                Patient.phone.ilike(pattern, escape="\\"),
            )
        )
    return conditions


def _list_page(search: bool) -> Select[Any]:
    columns = [column for column in Patient.__table__.columns if column.key != "therapist_id"]
    # count(*) OVER () is computed before LIMIT/OFFSET, so every row carries the full total.
    return (
        select(*columns, func.count().over().label("total"))
        .where(*_list_filter(search))
        .order_by(Patient.created_at.desc(), Patient.id.desc())
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )


# The authenticated list is the hottest read: compiled once, rows straight from the driver.
_LIST_PAGE = {search: Prepared.of(_list_page(search)) for search in (False, True)}
_LIST_COUNT = {
    search: Prepared.of(select(func.count()).select_from(Patient).where(*_list_filter(search)))
    for search in (False, True)
}


async def list_patients(
    db: AsyncSession, therapist_id: uuid.UUID, search: str | None, offset: int, limit: int
) -> tuple[list[Mapping[str, Any]], int]:
    """One page, newest first, as rows (every column but therapist_id) and the total."""
    term = search.strip() if search else ""
    values: dict[str, Any] = {"therapist_id": therapist_id, "offset": offset, "limit": limit}
    if term:
        values["pattern"] = f"%{_escape_like(term)}%"
    rows = await _LIST_PAGE[bool(term)].fetch(db, **values)
    if rows:
        return [dict(row) for row in rows], int(rows[0]["total"])
    # Past the end (or empty): the page has no row to carry the total, so count separately.
    counted = await _LIST_COUNT[bool(term)].fetchrow(db, **values)
    return [], int(counted[0]) if counted else 0


async def _flush_or_conflict(db: AsyncSession) -> None:
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise ConflictError(DUPLICATE_EMAIL) from None


def _demographics_json(demographics: Demographics) -> dict[str, object]:
    return demographics.model_dump(mode="json", by_alias=True, exclude_none=True)


async def create(
    db: AsyncSession, therapist_id: uuid.UUID, data: PatientCreate, ip: str | None
) -> Patient:
    patient = Patient(
        therapist_id=therapist_id,
        name=data.name,
        email=data.email,
        phone=data.phone,
        demographics=_demographics_json(data.demographics),
    )
    db.add(patient)
    await _flush_or_conflict(db)
    audit.record(
        db,
        "patient.create",
        actor_id=therapist_id,
        entity_type="patient",
        entity_id=patient.id,
        ip=ip,
    )
    await db.commit()
    await db.refresh(patient)
    return patient


async def replace(
    db: AsyncSession,
    therapist_id: uuid.UUID,
    patient_id: uuid.UUID,
    data: PatientCreate,
    ip: str | None,
) -> Patient:
    patient = await get_owned(db, therapist_id, patient_id)
    patient.name = data.name
    patient.email = data.email
    patient.phone = data.phone
    patient.demographics = _demographics_json(data.demographics)
    return await _save_update(
        db, therapist_id, patient, ["name", "email", "phone", "demographics"], ip
    )


async def patch(
    db: AsyncSession,
    therapist_id: uuid.UUID,
    patient_id: uuid.UUID,
    data: PatientPatch,
    ip: str | None,
) -> Patient:
    patient = await get_owned(db, therapist_id, patient_id)
    changed = sorted(data.model_fields_set)
    for field in changed:
        value = getattr(data, field)
        if field == "name" and value is None:
            continue  # name is required; null leaves it as it is
        if field == "demographics":
            value = _demographics_json(value) if value is not None else {}
        setattr(patient, field, value)
    return await _save_update(db, therapist_id, patient, changed, ip)


async def _save_update(
    db: AsyncSession, therapist_id: uuid.UUID, patient: Patient, fields: list[str], ip: str | None
) -> Patient:
    await _flush_or_conflict(db)
    audit.record(
        db,
        "patient.update",
        actor_id=therapist_id,
        entity_type="patient",
        entity_id=patient.id,
        ip=ip,
        details={"fields": fields},
    )
    await db.commit()
    await db.refresh(patient)
    return patient


async def delete(
    db: AsyncSession, therapist_id: uuid.UUID, patient_id: uuid.UUID, ip: str | None
) -> None:
    patient = await get_owned(db, therapist_id, patient_id, lock=True)
    active = (
        await db.execute(
            select(func.count()).where(
                TherapySession.patient_id == patient.id,
                TherapySession.status == SessionStatus.active,
            )
        )
    ).scalar_one()
    if active:
        raise ConflictError("Patient has an active session; end it first")
    await db.delete(patient)
    audit.record(
        db,
        "patient.delete",
        actor_id=therapist_id,
        entity_type="patient",
        entity_id=patient_id,
        ip=ip,
    )
    await db.commit()


@dataclass(frozen=True)
class PatientStats:
    total_sessions: int
    active_sessions: int
    last_session_at: datetime | None


async def stats(db: AsyncSession, patient_id: uuid.UUID) -> PatientStats:
    row = (
        await db.execute(
            select(
                func.count(),
                func.count().filter(TherapySession.status == SessionStatus.active),
                func.max(TherapySession.started_at),
            ).where(TherapySession.patient_id == patient_id)
        )
    ).one()
    return PatientStats(total_sessions=row[0], active_sessions=row[1], last_session_at=row[2])
