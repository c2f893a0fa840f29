"""The one error shape: every refusal reads the same to a program and to a person."""

from __future__ import annotations

import httpx


async def test_unknown_api_path_is_a_404_in_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/no-such-thing")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["message"] == error["message_zh"]
    assert error["message_en"] == "Not found."


async def test_english_is_chosen_from_accept_language(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/no-such-thing", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert response.json()["error"]["message"] == "Not found."


async def test_healthz_answers_with_the_database_dialect(client: httpx.AsyncClient, backend: str) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == backend


async def test_the_api_reference_is_served_without_any_outside_host(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    script = await client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "Regio"


async def test_a_json_body_that_is_not_utf8_is_400_malformed_body_in_both_languages(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/auth/token",
        content=b'{"username": "\xff", "password": "secret-secret"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "malformed_body"
    assert error["message_en"].startswith("The request body could not be read")
    assert error["message_zh"].startswith("无法解析请求内容")


async def test_a_visitor_sent_to_sign_in_comes_back_to_the_page_and_query_asked_for(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/account?tab=roles&x=a b", headers={"Accept": "text/html"})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location == "/login?next=%2Faccount%3Ftab%3Droles%26x%3Da%2520b"
    # The sign-in page hands the decoded target to its form, query intact.
    page = await client.get(location, headers={"Accept": "text/html"})
    assert 'value="/account?tab=roles&amp;x=a%20b"' in page.text
