"""Patient routes: CRUD, search, pagination, validation, uniqueness, stats, audit."""

from __future__ import annotations

import uuid

import asyncpg  # type: ignore[import-untyped]
import httpx
import pydantic
import pytest
from app.api.routes import patients as patient_routes
from app.core.config import Settings
from app.core.db import create_engine, create_read_session_factory
from app.schemas.common import READ_BACK, Page
from app.schemas.patients import Demographics, PatientOut
from app.services import patients
from fastapi.routing import APIRoute, serialize_response

from tests.backend.helpers import create_patient, register_therapist, start_session
from tests.support.postgres import PostgresServer


async def test_create_get_and_list_newest_first(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    first = await create_patient(
        client,
        therapist,
        name="Ada First",
        email="Ada@Example.org",
        phone="+44 1234",
        demographics={
            "age": 34,
            "gender": "female",
            "occupation": "engineer",
            "referralSource": "GP",
            "initialConcerns": ["sleep", "work stress"],
        },
    )
    second = await create_patient(client, therapist, name="Bob Second")
    assert first["email"] == "ada@example.org"
    assert first["demographics"]["referralSource"] == "GP"
    assert first["stats"] == {"totalSessions": 0, "activeSessions": 0, "lastSessionAt": None}

    listing = await client.get("/api/patients", headers=therapist.headers)
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == 2
    assert body["page"] == 1
    assert body["pageSize"] == 20
    assert [item["id"] for item in body["items"]] == [second["id"], first["id"]]

    detail = await client.get(f"/api/patients/{first['id']}", headers=therapist.headers)
    assert detail.status_code == 200
    assert detail.json()["name"] == "Ada First"


async def test_search_matches_name_email_and_phone(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    await create_patient(client, therapist, name="Carla Search", email="carla@example.org")
    await create_patient(client, therapist, name="Dan Other", phone="555-0199")
    await create_patient(client, therapist, name="Eve 100%_literal")

    async def search(term: str) -> list[str]:
        response = await client.get(
            "/api/patients", params={"search": term}, headers=therapist.headers
        )
        assert response.status_code == 200
        return [item["name"] for item in response.json()["items"]]

    assert await search("carla") == ["Carla Search"]
    assert await search("CARLA@EXAMPLE") == ["Carla Search"]
    assert await search("0199") == ["Dan Other"]
    assert await search("%_") == ["Eve 100%_literal"]  # wildcards are literal
    assert await search("nobody") == []


async def test_pagination_bounds(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    for index in range(3):
        await create_patient(client, therapist, name=f"Page {index}")
    page = await client.get(
        "/api/patients", params={"page": 2, "pageSize": 2}, headers=therapist.headers
    )
    assert page.status_code == 200
    assert page.json()["total"] == 3
    assert len(page.json()["items"]) == 1
    for params in ({"pageSize": 101}, {"pageSize": 0}, {"page": 0}, {"page": "x"}):
        response = await client.get("/api/patients", params=params, headers=therapist.headers)
        assert response.status_code == 422, params


async def test_validation_errors_are_422(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    bad_bodies = [
        {},
        {"name": ""},
        {"name": "x" * 201},
        {"name": "ok", "phone": "1" * 51},
        {"name": "ok", "email": "nope"},
        {"name": "ok", "demographics": {"age": 151}},
        {"name": "ok", "demographics": {"gender": "robot"}},
        {"name": "ok", "demographics": {"initialConcerns": ["c"] * 11}},
        {"name": "ok", "unknownField": 1},
    ]
    for body in bad_bodies:
        response = await client.post("/api/patients", json=body, headers=therapist.headers)
        assert response.status_code == 422, body
    bad_id = await client.get("/api/patients/not-a-uuid", headers=therapist.headers)
    assert bad_id.status_code == 422


async def test_email_is_unique_per_therapist_only(client: httpx.AsyncClient) -> None:
    first = await register_therapist(client, "First")
    second = await register_therapist(client, "Second")
    await create_patient(client, first, name="A", email="same@example.org")
    duplicate = await client.post(
        "/api/patients", json={"name": "B", "email": "SAME@example.org"}, headers=first.headers
    )
    assert duplicate.status_code == 409
    await create_patient(client, second, name="C", email="same@example.org")


async def test_put_replaces_and_patch_updates_only_given_fields(
    client: httpx.AsyncClient,
) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(
        client,
        therapist,
        name="Before",
        email="b@example.org",
        phone="123",
        demographics={"age": 40},
    )
    url = f"/api/patients/{patient['id']}"
    patched = await client.patch(url, json={"phone": "999"}, headers=therapist.headers)
    assert patched.status_code == 200
    assert patched.json()["phone"] == "999"
    assert patched.json()["email"] == "b@example.org"
    assert patched.json()["demographics"]["age"] == 40

    replaced = await client.put(url, json={"name": "After"}, headers=therapist.headers)
    assert replaced.status_code == 200
    assert replaced.json()["name"] == "After"
    assert replaced.json()["email"] is None
    assert set(replaced.json()["demographics"].values()) == {None}

    other = await create_patient(client, therapist, name="Other", email="taken@example.org")
    clash = await client.patch(url, json={"email": "taken@example.org"}, headers=therapist.headers)
    assert clash.status_code == 409
    assert other["id"] != patient["id"]
    assert (await client.put(url, json={}, headers=therapist.headers)).status_code == 422


async def test_delete_is_refused_while_a_session_is_active(
    client: httpx.AsyncClient, postgres: PostgresServer, migrated_url: str
) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    session = await start_session(client, therapist, patient["id"])
    url = f"/api/patients/{patient['id']}"
    assert (await client.delete(url, headers=therapist.headers)).status_code == 409
    detail = await client.get(url, headers=therapist.headers)
    assert detail.json()["stats"]["activeSessions"] == 1
    assert detail.json()["stats"]["totalSessions"] == 1
    assert detail.json()["stats"]["lastSessionAt"] is not None

    ended = await client.post(f"/api/sessions/{session['id']}/end", headers=therapist.headers)
    assert ended.status_code == 200
    assert (await client.delete(url, headers=therapist.headers)).status_code == 204
    assert (await client.get(url, headers=therapist.headers)).status_code == 404
    assert (await client.delete(url, headers=therapist.headers)).status_code == 404

    database = migrated_url.rsplit("/", 1)[1]
    audit_query = "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE entity_id = "
    actions = postgres.psql(audit_query + f"'{uuid.UUID(patient['id'])}'", database)
    assert actions == "patient.create,patient.delete"


async def test_patient_sessions_list(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist)
    first = await start_session(client, therapist, patient["id"])
    second = await start_session(client, therapist, patient["id"])
    response = await client.get(
        f"/api/patients/{patient['id']}/sessions", headers=therapist.headers
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["id"] for item in items] == [second["id"], first["id"]]
    assert [item["status"] for item in items] == ["active", "completed"]


async def test_patient_routes_require_authentication(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/patients")).status_code == 401
    assert (await client.post("/api/patients", json={"name": "x"})).status_code == 401


async def test_nul_characters_are_refused_with_422(client: httpx.AsyncClient) -> None:
    therapist = await register_therapist(client)
    create = await client.post("/api/patients", json={"name": "a\x00b"}, headers=therapist.headers)
    assert create.status_code == 422
    search = await client.get(
        "/api/patients", params={"search": "a\x00"}, headers=therapist.headers
    )
    assert search.status_code == 422
    token = await client.post("/api/auth/token", data={"username": "a\x00b", "password": "x"})
    assert token.status_code == 422
    assert isinstance(token.json()["detail"], list)  # FastAPI's validation-error shape


async def test_list_items_are_the_detail_responses_on_every_page_and_search(
    client: httpx.AsyncClient,
) -> None:
    """The list reads rows straight from the driver; the detail goes through the ORM. Both must
    serialise a patient identically, and the total must hold past the last page too."""
    therapist = await register_therapist(client)
    created = [
        await create_patient(
            client,
            therapist,
            name=f"Listed {index}",
            email=f"listed{index}@example.org",
            demographics={"age": 30 + index, "initialConcerns": ["sleep"]},
        )
        for index in range(3)
    ]
    await create_patient(client, therapist, name="Other")  # no email, empty demographics
    details = {}
    listing = (await client.get("/api/patients", headers=therapist.headers)).json()
    for item in listing["items"]:
        detail = (await client.get(f"/api/patients/{item['id']}", headers=therapist.headers)).json()
        detail.pop("stats")
        details[item["id"]] = detail
        assert item == detail
    assert listing["total"] == 4
    searched = await client.get(
        "/api/patients",
        params={"search": "listed", "pageSize": 2, "page": 2},
        headers=therapist.headers,
    )
    assert searched.json() == {
        "items": [details[created[0]["id"]]],
        "total": 3,
        "page": 2,
        "pageSize": 2,
    }
    past_the_end = await client.get(
        "/api/patients", params={"search": "listed", "page": 9}, headers=therapist.headers
    )
    assert past_the_end.json() == {"items": [], "total": 3, "page": 9, "pageSize": 20}


# Text JSON writers disagree on: non-ASCII, astral characters, HTML, quotes and backslashes, the
# JavaScript line separators, control characters.
AWKWARD_TEXTS = [
    "Zoë Ångström",
    "李小龙 🙂",
    '</script><b>"q"</b> \\ back',
    "line\u2028sep\u2029para",
    "tab\there\nnewline \x7f\x1f",
]


async def test_the_list_is_the_bytes_fastapi_renders_for_its_response_model(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """The route writes its page itself. FastAPI's own rendering of the page the route returned
    before (items validated one by one, then the page validated against response_model and
    dumped) must give the same bytes, for every page and search."""
    therapist = await register_therapist(client)
    for index, text in enumerate(AWKWARD_TEXTS):
        await create_patient(
            client,
            therapist,
            name=text,
            email=f"awkward{index}@example.org",
            phone=f" +44 (0)20 {index} ",
            demographics={
                "age": index,
                "gender": "female",
                "occupation": text,
                "referralSource": text,
                "initialConcerns": [text, "sleep"],
            },
        )
    await create_patient(client, therapist, name="Bare")  # no email, phone or demographics
    user_id = uuid.UUID((await client.get("/api/auth/me", headers=therapist.headers)).json()["id"])
    route = next(
        route
        for route in patient_routes.router.routes
        if isinstance(route, APIRoute)
        and route.path == "/api/patients"
        and "GET" in (route.methods or ())
    )
    engine = create_engine(settings)
    try:
        reads = create_read_session_factory(engine)
        pages: list[dict[str, str | int]] = [
            {},
            {"pageSize": 2, "page": 2},
            {"search": "ö"},
            {"page": 9},
        ]
        for params in pages:
            listed = await client.get("/api/patients", params=params, headers=therapist.headers)
            assert listed.status_code == 200
            assert listed.headers["content-type"] == "application/json"
            page, size = int(params.get("page", 1)), int(params.get("pageSize", 20))
            async with reads() as db:
                items, total = await patients.list_patients(
                    db, user_id, str(params.get("search", "")) or None, (page - 1) * size, size
                )
            before = Page[PatientOut](
                items=[PatientOut.model_validate(item) for item in items],
                total=total,
                page=page,
                page_size=size,
            )
            rendered = await serialize_response(
                field=route.response_field, response_content=before, dump_json=True
            )
            assert listed.content == rendered, params
            assert int(listed.headers["content-length"]) == len(rendered)
    finally:
        await engine.dispose()


async def test_rows_read_back_skip_the_nul_check_because_postgres_cannot_hold_nul(
    client: httpx.AsyncClient, migrated_url: str
) -> None:
    """The list validates its rows with READ_BACK, which skips the input models' NUL check: safe
    only while Postgres refuses NUL in the columns the rows come from, and input still checks."""
    therapist = await register_therapist(client)
    patient = await create_patient(client, therapist, demographics={"occupation": "teacher"})
    refused = await client.post(
        "/api/patients",
        json={"name": "Nul", "demographics": {"occupation": "a\x00b"}},
        headers=therapist.headers,
    )
    assert refused.status_code == 422
    with pytest.raises(pydantic.ValidationError):
        Demographics.model_validate({"occupation": "a\x00b"}, context={"read_back": True})
    assert Demographics.model_validate({"occupation": "a\x00b"}, context=READ_BACK)
    connection = await asyncpg.connect(
        migrated_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        for statement in (
            "UPDATE patients SET demographics = $2::jsonb WHERE id = $1",
            "UPDATE patients SET name = $2 WHERE id = $1",
            "UPDATE patients SET email = $2 WHERE id = $1",
            "UPDATE patients SET phone = $2 WHERE id = $1",
        ):
            value = '{"occupation": "a\\u0000b"}' if "jsonb" in statement else "a\x00b"
            with pytest.raises(asyncpg.exceptions.DataError):
                await connection.execute(statement, uuid.UUID(patient["id"]), value)
    finally:
        await connection.close()
