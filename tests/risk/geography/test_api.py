"""The geography API: jurisdictions, neighbours, matching and its refusals, on both databases."""

from __future__ import annotations

import httpx
import pytest
import shapely

from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from regio.risk.geography.hazards import GEOD
from tests.factories import make_user, token_headers

HANGZHOU_NEIGHBOURS = {"湖州市", "嘉兴市", "绍兴市", "金华市", "衢州市", "黄山市", "宣城市"}
WEST_LAKE = [120.14, 30.245]

HZ_OFFICER = RoleGrant(Role.city_officer, ScopeKind.jurisdiction, "330100")


@pytest.fixture
async def headers(db: Database, settings: Settings) -> dict[str, str]:
    user = await make_user(db, roles=[HZ_OFFICER])
    return token_headers(settings, user)


async def test_the_prefecture_neighbours_of_hangzhou_are_exactly_the_seven_known_ones(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    response = await client.get("/api/risk/jurisdictions/330100/neighbors", headers=headers)
    assert response.status_code == 200, response.text
    found = response.json()["jurisdictions"]
    assert {j["name"] for j in found} == HANGZHOU_NEIGHBOURS
    assert {j["level"] for j in found} == {"prefecture"}


async def test_neighbours_are_mutual_and_never_across_a_gap(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    ningbo = await client.get("/api/risk/jurisdictions/330200/neighbors", headers=headers)
    names = {j["name"] for j in ningbo.json()["jurisdictions"]}
    assert "杭州市" not in names and "绍兴市" in names  # Hangzhou Bay lies between them
    huangshan = await client.get("/api/risk/jurisdictions/341000/neighbors", headers=headers)
    assert "杭州市" in {j["name"] for j in huangshan.json()["jurisdictions"]}


async def test_province_neighbours_of_shanghai_are_jiangsu_and_zhejiang(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    response = await client.get("/api/risk/jurisdictions/310000/neighbors", headers=headers)
    assert [(j["adcode"], j["level"]) for j in response.json()["jurisdictions"]] == [
        ("320000", "province"),
        ("330000", "province"),
    ]


async def test_neighbours_at_another_level_are_the_counties_across_hangzhous_border(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    response = await client.get("/api/risk/jurisdictions/330100/neighbors?level=county", headers=headers)
    adcodes = {j["adcode"] for j in response.json()["jurisdictions"]}
    assert {"330521", "330523", "330681", "341021"} <= adcodes  # 德清, 安吉, 诸暨, 歙县
    assert not any(code.startswith("3301") for code in adcodes)


async def test_a_jurisdiction_reads_with_its_level_and_an_unknown_adcode_is_404(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    ok = await client.get("/api/risk/jurisdictions/330106", headers=headers)
    assert ok.json()["jurisdictions"][0] | {"label": None, "bbox": None, "area_km2": None} == {
        "adcode": "330106",
        "name": "西湖区",
        "level": "county",
        "parent_adcode": "330100",
        "province_adcode": "330000",
        "label": None,
        "bbox": None,
        "area_km2": None,
    }
    missing = await client.get("/api/risk/jurisdictions/999999", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_jurisdiction"
    malformed = await client.get("/api/risk/jurisdictions/33010x", headers=headers)
    assert malformed.status_code == 422


async def test_geography_needs_a_signed_in_principal(client: httpx.AsyncClient, loaded) -> None:
    assert (await client.get("/api/risk/jurisdictions/330100")).status_code == 401
    response = await client.post(
        "/api/risk/match", json={"geometry": {"type": "Point", "coordinates": WEST_LAKE}}
    )
    assert response.status_code == 401


async def test_a_point_matches_the_one_county_prefecture_and_province_containing_it(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    found = {}
    for level in ("county", "prefecture", "province"):
        response = await client.post(
            "/api/risk/match",
            json={"geometry": {"type": "Point", "coordinates": WEST_LAKE}, "level": level},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        found[level] = response.json()["jurisdictions"]
    assert found["county"] == [{"adcode": "330106", "name": "西湖区", "level": "county", "distance_km": 0.0}]
    assert [j["adcode"] for j in found["prefecture"]] == ["330100"]
    assert [j["adcode"] for j in found["province"]] == ["330000"]


async def test_buffer_distances_are_geodesic_km_to_the_nearest_boundary(
    client: httpx.AsyncClient, loaded, headers, yrd_index
) -> None:
    response = await client.post(
        "/api/risk/match",
        json={
            "geometry": {"type": "Point", "coordinates": WEST_LAKE},
            "level": "prefecture",
            "buffer_km": 40,
        },
        headers=headers,
    )
    results = {j["adcode"]: j["distance_km"] for j in response.json()["jurisdictions"]}
    assert results["330100"] == 0.0
    # brute force: the geodesic distance to the nearest boundary vertex bounds the true distance from above
    shaoxing = yrd_index.geometry("prefecture", "330600")
    xy = shapely.get_coordinates(shaoxing)
    _, _, metres = GEOD.inv([WEST_LAKE[0]] * len(xy), [WEST_LAKE[1]] * len(xy), xy[:, 0], xy[:, 1])
    nearest_vertex_km = min(metres) / 1000
    assert 0 < results["330600"] <= nearest_vertex_km + 0.01
    assert nearest_vertex_km - results["330600"] < 0.3  # vertices lie tens of metres apart
    assert all(0 < km <= 40 for code, km in results.items() if code != "330100")
    assert "330700" not in results or results["330700"] <= 40  # nothing beyond the buffer


async def test_a_circle_radius_is_geodesic_and_overlap_is_the_share_covered(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    response = await client.post(
        "/api/risk/match",
        json={
            "circle": {"lat": 30.245, "lon": 120.14, "radius_km": 15},
            "level": "prefecture",
            "overlap": True,
        },
        headers=headers,
    )
    [hangzhou] = response.json()["jurisdictions"]
    # pi * 15^2 = 706.9 km² of Hangzhou's ~16,850 km²
    assert hangzhou["adcode"] == "330100"
    assert hangzhou["overlap_fraction"] == pytest.approx(706.9 / 16_850, rel=0.05)
    without = await client.post(
        "/api/risk/match", json={"circle": {"lat": 30.245, "lon": 120.14, "radius_km": 20}}, headers=headers
    )
    assert all("overlap_fraction" not in j for j in without.json()["jurisdictions"])
    assert len(without.json()["jurisdictions"]) > 3  # several of Hangzhou's districts


async def test_a_cap_polygon_and_whole_adcodes_match_too(client: httpx.AsyncClient, loaded, headers) -> None:
    cap = "30.1,120.0 30.4,120.0 30.4,120.4 30.1,120.0"
    response = await client.post(
        "/api/risk/match", json={"cap_polygon": cap, "level": "prefecture"}, headers=headers
    )
    assert {j["adcode"] for j in response.json()["jurisdictions"]} == {"330100", "330400"}
    by_adcode = await client.post(
        "/api/risk/match", json={"adcodes": ["330100"], "level": "county", "overlap": True}, headers=headers
    )
    counties = by_adcode.json()["jurisdictions"]
    assert counties and all(j["adcode"].startswith("3301") for j in counties)
    assert all(j["overlap_fraction"] == 1.0 for j in counties)
    province = await client.post(
        "/api/risk/match", json={"adcodes": ["330100"], "level": "province", "overlap": True}, headers=headers
    )
    [zhejiang] = province.json()["jurisdictions"]
    assert zhejiang["adcode"] == "330000" and 0.14 < zhejiang["overlap_fraction"] < 0.18


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[120, 30], [121, 31], [121, 30], [120, 31], [120, 30]]],
                }
            },
            422,
            "self_intersecting_geometry",
        ),
        (
            {"geometry": {"type": "Polygon", "coordinates": [[[120, 30], [121, 30], [121, 31], [120, 31]]]}},
            422,
            "unclosed_ring",
        ),
        ({"geometry": {"type": "Point", "coordinates": [120, 95]}}, 422, "coordinates_out_of_range"),
        ({"geometry": {"type": "Point", "coordinates": [181, 30]}}, 422, "coordinates_out_of_range"),
        (
            {"geometry": {"type": "LineString", "coordinates": [[120, 30], [121, 30]]}},
            422,
            "invalid_geometry",
        ),
        ({"geometry": {"type": "Point", "coordinates": "here"}}, 422, "invalid_geometry"),
        ({"circle": {"lat": 30, "lon": 120, "radius_km": -5}}, 422, "invalid_circle"),
        ({"circle": {"lat": 30, "lon": 120}}, 422, "invalid_circle"),
        ({"cap_polygon": "30,120 31,120 31,121"}, 422, "unclosed_ring"),
        ({"cap_polygon": "30;120 31,120 31,121 30;120"}, 422, "invalid_cap_polygon"),
        ({"cap_polygon": "30,120 31,120 31,121 30,120", "adcodes": ["330100"]}, 422, "one_hazard_field"),
        ({"level": "county"}, 422, "one_hazard_field"),
        ({"adcodes": ["999999"]}, 404, "unknown_jurisdiction"),
        ({"adcodes": ["330100"], "level": "city"}, 422, "validation_error"),
        ({"adcodes": ["330100"], "buffer_km": -1}, 422, "validation_error"),
    ],
)
async def test_bad_hazards_get_a_clear_4xx_naming_the_problem(
    client: httpx.AsyncClient, loaded, headers, body, status, code
) -> None:
    response = await client.post("/api/risk/match", json=body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message_zh"] and error["message_en"] and "{" not in error["message_en"]


async def test_matching_before_any_load_says_geography_is_not_loaded(
    client: httpx.AsyncClient, headers
) -> None:
    response = await client.post(
        "/api/risk/match", json={"geometry": {"type": "Point", "coordinates": WEST_LAKE}}, headers=headers
    )
    assert response.status_code == 503 and response.json()["error"]["code"] == "geography_not_loaded"


async def test_the_map_layer_is_geojson_of_simplified_boundaries_within_a_box(
    client: httpx.AsyncClient, loaded, headers
) -> None:
    response = await client.get(
        "/api/risk/map/layer?level=county&detail=fine&bbox=120.0,30.1,120.3,30.4", headers=headers
    )
    assert response.status_code == 200
    layer = response.json()
    names = {f["properties"]["name"] for f in layer["features"]}
    assert "西湖区" in names and "海曙区" not in names
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in layer["features"])
    bad = await client.get("/api/risk/map/layer?bbox=1,2,3", headers=headers)
    assert bad.status_code == 422
