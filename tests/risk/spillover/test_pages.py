"""The spill-over page: a form that runs a model and lists who else is affected, Chinese first."""

from __future__ import annotations

import httpx
import pytest

from regio.config import Settings
from regio.core.access import Role, RoleGrant, ScopeKind
from regio.core.db import Database
from tests.factories import make_user, token_headers


@pytest.fixture
async def headers(db: Database, settings: Settings) -> dict[str, str]:
    user = await make_user(db, roles=[RoleGrant(Role.coordinator, ScopeKind.coordination_body, "x")])
    return token_headers(settings, user)


async def test_the_page_lists_downstream_cities_in_order(client: httpx.AsyncClient, headers) -> None:
    response = await client.get("/risk/spillover?model=river&origin=420500&level=prefecture", headers=headers)
    assert response.status_code == 200, response.text
    html = response.text
    assert "谁会受到波及" in html and 'name="viewport"' in html
    assert html.index("荆州市") < html.index("岳阳市") < html.index("武汉市")
    assert 'data-adcode="420500"' not in html and 'data-adcode="500000"' not in html


async def test_the_page_speaks_english_on_request(client: httpx.AsyncClient, headers) -> None:
    response = await client.get("/risk/spillover?model=river&origin=420500&lang=en", headers=headers)
    assert "Who else is affected" in response.text and "flood wave arrives" in response.text


async def test_the_empty_form_and_a_refusal_explain_themselves(client: httpx.AsyncClient, headers) -> None:
    empty = await client.get("/risk/spillover", headers=headers)
    assert empty.status_code == 200 and 'id="affected"' not in empty.text
    unknown = await client.get("/risk/spillover?model=river&origin=999999", headers=headers)
    assert unknown.status_code == 404 and "999999" in unknown.text and 'role="alert"' in unknown.text
    bad = await client.get("/risk/spillover?model=plume&origin=420100&wind_speed_ms=0", headers=headers)
    assert bad.status_code == 422 and "wind_speed_ms" in bad.text


async def test_the_page_needs_a_signed_in_risk_role(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    anonymous = await client.get("/risk/spillover?model=river&origin=420500")
    assert anonymous.status_code in (303, 307, 401)
    patient = token_headers(settings, await make_user(db, roles=[Role.patient]))
    refused = await client.get("/risk/spillover?model=river&origin=420500", headers=patient)
    assert refused.status_code == 403 and "荆州市" not in refused.text
