"""Odd numbers in JSON (NaN, Infinity, overflowing floats, huge integers) get a 4xx with a stable code,
never a 500, and nothing is stored; production refuses an insecure TURN secret or S3 endpoint."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from regio.care.triage.models import TriageAssessment
from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from regio.core.errors import DomainError
from regio.risk.geography import hazards
from regio.risk.geography.errors import InvalidGeometry
from regio.risk.spillover import params
from regio.risk.spillover.enums import Model
from tests.care.triage.conftest import make_family
from tests.factories import make_user, token_headers
from tests.risk.spillover.conftest import hubei_bundle, loaded  # noqa: F401 (fixtures used by name)

ODD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", str(10**30), str(-(10**30))]


@pytest.mark.parametrize("field", ["temperature_c", "age_years", "fever_days", "spo2"])
@pytest.mark.parametrize("number", ODD_NUMBERS)
async def test_triage_answers_an_impossible_number_with_a_stable_code_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, settings: Settings, field: str, number: str
) -> None:
    family = await make_family(db, settings)
    raw = '{"sex": "female", "symptoms": [], ' + (
        f'"{field}": {number}}}' if field == "age_years" else f'"age_years": 30, "{field}": {number}}}'
    )
    response = await client.post(
        "/api/care/triage",
        content=raw.encode(),
        headers=token_headers(settings, family.user) | {"content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["code"] in ("triage_value_out_of_range", "invalid_input", "validation_error")
    assert error["message_zh"] and error["message_en"]
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(TriageAssessment))).scalar_one() == 0


PRODUCTION = {
    "environment": "production",
    "database_url": "sqlite+aiosqlite:///:memory:",
    "secret_key": "s" * 40,
    "data_key": "d" * 40,
    "webhook_secret": "w" * 40,
    "cookie_secure": True,
}


def test_production_refuses_a_turn_server_with_a_short_shared_secret() -> None:
    with pytest.raises(ValueError, match="REGIO_TURN_SECRET"):
        Settings(**PRODUCTION, turn_urls="turns:turn.example.org:5349", turn_secret="short")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="REGIO_TURN_SECRET"):
        Settings(**PRODUCTION, turn_urls="turns:turn.example.org:5349", turn_secret="")  # type: ignore[arg-type]
    ok = Settings(**PRODUCTION, turn_urls="turns:turn.example.org:5349", turn_secret="t" * 32)  # type: ignore[arg-type]
    assert ok.turn_secret == "t" * 32


def test_production_refuses_an_s3_endpoint_over_plain_http() -> None:
    with pytest.raises(ValueError, match="REGIO_S3_ENDPOINT"):
        Settings(**PRODUCTION, s3_endpoint="http://minio.internal:9000")  # type: ignore[arg-type]
    ok = Settings(**PRODUCTION, s3_endpoint="https://oss.example.org")  # type: ignore[arg-type]
    assert ok.s3_endpoint.startswith("https://")


def test_development_keeps_its_conveniences() -> None:
    dev = Settings(
        environment="development", s3_endpoint="http://127.0.0.1:9000", turn_urls="turn:x", turn_secret=""
    )
    assert dev.s3_endpoint.startswith("http://")


HUGE = "1" + "0" * 400  # a JSON integer no float can hold


async def test_spillover_refuses_a_parameter_too_big_for_a_float_with_a_stable_code(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    loaded: object,  # noqa: F811
) -> None:
    officer = await make_user(db, roles=[RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "420500")])
    headers = token_headers(settings, officer) | {"content-type": "application/json"}
    for model in Model:
        for name in params.NUMBERS.get(model, {}):
            raw = f'{{"model": "{model.value}", "origin": "420500", "{name}": {HUGE}}}'
            response = await client.post("/api/risk/spillover", content=raw.encode(), headers=headers)
            assert response.status_code == 422, (model, name, response.text)
            assert response.json()["error"]["code"] == "invalid_model_parameter"
    for geometry in (
        f'{{"type": "Point", "coordinates": [{HUGE}, 30]}}',
        f'{{"type": "Polygon", "coordinates": [[[111, 30], [{HUGE}, 30], [111, 31], [111, 30]]]}}',
    ):
        raw = f'{{"model": "overlap", "origin": "420500", "geometry": {geometry}}}'
        response = await client.post("/api/risk/spillover", content=raw.encode(), headers=headers)
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["error"]["code"] == "invalid_geometry"


@pytest.mark.parametrize(
    "hazard",
    [
        {"type": "Point", "coordinates": [10**400, 30]},
        {"type": "LineString", "coordinates": [[120, 30], [120, 10**400]]},
        {"type": "Polygon", "coordinates": [[[120, 30], [10**400, 30], [120, 31], [120, 30]]]},
    ],
    ids=["point", "line", "polygon"],
)
def test_a_hazard_area_with_a_coordinate_too_big_for_a_float_is_an_invalid_geometry(
    hazard: dict[str, object],
) -> None:
    with pytest.raises(InvalidGeometry):
        hazards.from_geojson(hazard)


@pytest.mark.parametrize("field", ["lat", "lon", "radius_km"])
def test_a_hazard_circle_with_a_number_too_big_for_a_float_is_refused(field: str) -> None:
    circle: dict[str, object] = {"lat": 30, "lon": 120, "radius_km": 5}
    circle[field] = 10**400
    with pytest.raises(DomainError):
        hazards.from_circle(circle)
