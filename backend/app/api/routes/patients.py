from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import AUTHENTICATED_RESPONSES, ClientIpDep, CurrentUser, DbDep, PaginationDep
from app.models import Patient
from app.schemas.common import READ_BACK, Page
from app.schemas.patients import (
    PatientCreate,
    PatientDetail,
    PatientOut,
    PatientPatch,
    PatientStats,
)
from app.schemas.sessions import SessionOut
from app.services import patients, therapy_sessions

# Postgres text cannot hold NUL characters.
NO_NUL_PATTERN = r"^[^\x00]*$"

router = APIRouter(prefix="/api/patients", tags=["patients"], responses=AUTHENTICATED_RESPONSES)

NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "Patient not found"}}
CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"description": "A patient with this email already exists"}
}


async def _detail(db: DbDep, patient: Patient) -> PatientDetail:
    stats = PatientStats.model_validate(await patients.stats(db, patient.id))
    return PatientDetail(**dict(PatientOut.model_validate(patient)), stats=stats)


PatientPage = Page[PatientOut]


@router.get("", response_model=PatientPage)
async def list_patients(
    user: CurrentUser,
    db: DbDep,
    page: PaginationDep,
    search: Annotated[str | None, Query(max_length=200, pattern=NO_NUL_PATTERN)] = None,
) -> Response:
    """Newest first; `search` matches name, email or phone (case-insensitive substring)."""
    items, total = await patients.list_patients(db, user.id, search, page.offset, page.page_size)
    # Validated once here and written as JSON: FastAPI would validate the page a second time
    # against response_model before serialising it (the same JSON; test_patients checks).
    body = PatientPage.model_validate(
        {"items": items, "total": total, "page": page.page, "page_size": page.page_size},
        context=READ_BACK,
    )
    return Response(body.model_dump_json(by_alias=True), media_type="application/json")


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=PatientDetail, responses=CONFLICT
)
async def create_patient(
    body: PatientCreate, user: CurrentUser, db: DbDep, ip: ClientIpDep
) -> PatientDetail:
    return await _detail(db, await patients.create(db, user.id, body, ip))


@router.get("/{patient_id}", response_model=PatientDetail, responses=NOT_FOUND)
async def get_patient(patient_id: uuid.UUID, user: CurrentUser, db: DbDep) -> PatientDetail:
    return await _detail(db, await patients.get_owned(db, user.id, patient_id))


@router.put("/{patient_id}", response_model=PatientDetail, responses={**NOT_FOUND, **CONFLICT})
async def replace_patient(
    patient_id: uuid.UUID, body: PatientCreate, user: CurrentUser, db: DbDep, ip: ClientIpDep
) -> PatientDetail:
    return await _detail(db, await patients.replace(db, user.id, patient_id, body, ip))


@router.patch("/{patient_id}", response_model=PatientDetail, responses={**NOT_FOUND, **CONFLICT})
async def patch_patient(
    patient_id: uuid.UUID, body: PatientPatch, user: CurrentUser, db: DbDep, ip: ClientIpDep
) -> PatientDetail:
    return await _detail(db, await patients.patch(db, user.id, patient_id, body, ip))


@router.delete(
    "/{patient_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_FOUND, 409: {"description": "The patient has an active session"}},
)
async def delete_patient(
    patient_id: uuid.UUID, user: CurrentUser, db: DbDep, ip: ClientIpDep
) -> Response:
    await patients.delete(db, user.id, patient_id, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{patient_id}/sessions", response_model=Page[SessionOut], responses=NOT_FOUND)
async def list_patient_sessions(
    patient_id: uuid.UUID, user: CurrentUser, db: DbDep, page: PaginationDep
) -> Page[SessionOut]:
    await patients.get_owned(db, user.id, patient_id)
    items, total = await therapy_sessions.list_sessions(
        db, user.id, patient_id=patient_id, status=None, offset=page.offset, limit=page.page_size
    )
    return Page[SessionOut](
        items=[SessionOut.model_validate(item) for item in items],
        total=total,
        page=page.page,
        page_size=page.page_size,
    )
