"""POST /api/risk/spillover runs one model on demand; every bad input is a 4xx with a stable code."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.factories import make_user, token_headers

YICHANG_OFFICER = RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "420500")
WUHAN_POINT = {"type": "Point", "coordinates": [114.30, 30.59]}


@pytest.fixture
async def headers(db: Database, settings: Settings) -> dict[str, str]:
    user = await make_user(db, roles=[YICHANG_OFFICER])
    return token_headers(settings, user)


async def post(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/risk/spillover", json=body, headers=headers)


async def test_the_river_model_lists_downstream_cities_in_order_without_the_origin(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    response = await post(client, headers, {"model": "river", "origin": "420500"})
    assert response.status_code == 200, response.text
    affected = response.json()["affected"]
    codes = [a["adcode"] for a in affected]
    assert codes.index("421000") < codes.index("430600") < codes.index("420100")
    assert "420500" not in codes and "500000" not in codes
    first = affected[0]
    assert set(first) >= {"adcode", "name", "level", "reason", "eta_hours", "confidence"}
    assert first["name"] == "荆州市" and first["reason"] == "river.downstream" and first["reason_zh"]


async def test_the_overlap_model_with_a_buffer_finds_the_neighbours(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    near = await post(
        client, headers, {"model": "overlap", "origin": "420100", "geometry": WUHAN_POINT, "buffer_km": 0}
    )
    assert near.json()["affected"] == []  # the point lies in Wuhan, the origin
    wide = await post(
        client, headers, {"model": "overlap", "origin": "420100", "geometry": WUHAN_POINT, "buffer_km": 60}
    )
    found = {a["adcode"]: a for a in wide.json()["affected"]}
    assert "420700" in found and found["420700"]["reason"] == "overlap.buffer"
    assert 0 < found["420700"]["confidence"] < 0.8
    assert "420100" not in found


async def test_a_geometry_alone_is_enough_and_then_nothing_is_excluded(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    response = await post(client, headers, {"model": "overlap", "geometry": WUHAN_POINT})
    assert [a["adcode"] for a in response.json()["affected"]] == ["420100"]


async def test_the_plume_model_takes_wind_and_source_parameters(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    body = {
        "model": "plume",
        "origin": "420100",
        "geometry": WUHAN_POINT,
        "wind_speed_ms": 3,
        "wind_from_deg": 270,
        "source_g_s": 5000,
        "stability": "d",
        "threshold_mg_m3": 1,
    }
    response = await post(client, headers, body)
    assert response.status_code == 200, response.text
    found = {a["adcode"]: a for a in response.json()["affected"]}
    assert found["420700"]["reason"] == "plume.extrapolated" and "420900" not in found


async def test_the_epidemic_model_answers_by_city_and_day(client: httpx.AsyncClient, loaded, headers) -> None:
    response = await post(
        client, headers, {"model": "epidemic", "origin": "420100", "days": 30, "initial_cases": 100}
    )
    found = {a["adcode"]: a for a in response.json()["affected"]}
    assert found["420900"]["eta_hours"] % 24 == 0 and found["420900"]["eta_hours"] <= 30 * 24
    assert "420100" not in found


async def test_province_level_answers(client: httpx.AsyncClient, loaded, headers) -> None:
    response = await post(client, headers, {"model": "river", "origin": "420500", "level": "province"})
    codes = [a["adcode"] for a in response.json()["affected"]]
    assert codes[0] == "430000" and "420000" not in codes  # Hunan (Yueyang); Hubei contains the origin


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "river", "origin": "999999"}, 404, "unknown_origin"),
        ({"model": "river"}, 422, "origin_required"),
        ({"model": "wave", "origin": "420500"}, 422, "validation_error"),
        ({"model": "river", "origin": "42050x"}, 422, "validation_error"),
        ({"model": "plume", "origin": "420100", "wind_speed_ms": 0}, 422, "invalid_model_parameter"),
        ({"model": "plume", "origin": "420100", "wind_speed_ms": -3}, 422, "invalid_model_parameter"),
        ({"model": "plume", "origin": "420100", "wind_from_deg": 400}, 422, "invalid_model_parameter"),
        ({"model": "plume", "origin": "420100", "stability": "G"}, 422, "invalid_model_parameter"),
        ({"model": "plume", "origin": "420100", "source_g_s": "lots"}, 422, "invalid_model_parameter"),
        ({"model": "plume", "origin": "420100", "threshold_mg_m3": 0}, 422, "invalid_model_parameter"),
        ({"model": "epidemic", "origin": "420100", "days": 10_000}, 422, "invalid_model_parameter"),
        ({"model": "epidemic", "origin": "420100", "r0": True}, 422, "invalid_model_parameter"),
        ({"model": "epidemic", "origin": "420000"}, 422, "epidemic_needs_a_city"),
        ({"model": "river", "origin": "420500", "wind_speed_ms": 3}, 422, "invalid_model_parameter"),
        ({"model": "river", "origin": "420500", "max_hours": 0}, 422, "invalid_model_parameter"),
        ({"model": "overlap", "origin": "420100", "buffer_km": 1e9}, 422, "invalid_model_parameter"),
        (
            {"model": "overlap", "geometry": {"type": "Point", "coordinates": [500, 30]}},
            422,
            "coordinates_out_of_range",
        ),
        (
            {"model": "overlap", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0]]]}},
            422,
            "unclosed_ring",
        ),
        (
            {"model": "overlap", "geometry": {"type": "LineString", "coordinates": []}},
            422,
            "invalid_geometry",
        ),
        ({"model": "river", "origin": "420500", "severity_rank": 9}, 422, "validation_error"),
    ],
)
async def test_bad_input_is_refused_with_a_stable_code_in_both_languages(
    client: httpx.AsyncClient, loaded, headers, body: dict[str, Any], status: int, code: str
) -> None:
    response = await post(client, headers, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message_zh"] and error["message_en"] and error["message_zh"] != error["message_en"]


async def test_a_model_needing_boundaries_answers_503_until_they_are_loaded(
    client: httpx.AsyncClient, headers
) -> None:
    response = await post(client, headers, {"model": "plume", "geometry": WUHAN_POINT})
    assert response.status_code == 503 and response.json()["error"]["code"] == "geography_not_loaded"
    river = await post(client, headers, {"model": "river", "origin": "420500"})
    assert river.status_code == 200 and river.json()["affected"][0]["adcode"] == "421000"


async def test_spillover_needs_a_signed_in_risk_role(
    client: httpx.AsyncClient, loaded, db: Database, settings: Settings
) -> None:
    anonymous = await client.post("/api/risk/spillover", json={"model": "river", "origin": "420500"})
    assert anonymous.status_code == 401
    patient = token_headers(settings, await make_user(db, roles=[Role.patient]))
    refused = await post(client, patient, {"model": "river", "origin": "420500"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert (await client.get("/api/risk/rivers", headers=patient)).status_code == 403


async def test_the_river_network_lists_its_reaches(client: httpx.AsyncClient, headers) -> None:
    response = await client.get("/api/risk/rivers", headers=headers)
    assert response.status_code == 200
    reaches = response.json()["reaches"]
    yichang = next(r for r in reaches if r["from_node"] == "yichang")
    assert yichang["to_node"] == "jingzhou" and yichang["length_km"] == 148
    assert yichang["adcodes"] == ["420500", "421000"] and yichang["network"] == "shipped"


async def test_an_origin_outside_the_loaded_boundaries_still_follows_its_river(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    # only Hubei is loaded; Nanjing is known from the shipped data
    response = await post(client, headers, {"model": "river", "origin": "320100"})
    assert response.status_code == 200, response.text
    codes = [a["adcode"] for a in response.json()["affected"]]
    assert codes[:2] == ["321000", "321100"] and "320100" not in codes  # Yangzhou, Zhenjiang
    assert response.json()["affected"][0]["name"] == "扬州市"
