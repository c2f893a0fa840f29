"""The scale pages: one question per card with big buttons, the result with its band and, for item 9, the hotlines."""

from __future__ import annotations

import httpx

from tests.care.scales.conftest import Family, Ward
from tests.factories import browser_login, csrf_from_html


async def test_item_9_shows_the_hotlines_on_the_result(
    client: httpx.AsyncClient, family: Family, ward: Ward
) -> None:
    await browser_login(client, family.user.username)
    form = await client.get("/care/scales/phq9")
    assert form.status_code == 200
    assert form.text.count('class="card question"') == 9 and "几乎每天" in form.text
    assert 'id="crisis-now"' in form.text  # revealed at once by the page when item 9 is answered above 0
    data = {"csrf_token": csrf_from_html(form.text), **{f"item-{n}": "1" for n in range(1, 10)}}
    sent = await client.post("/care/scales/phq9", data=data)
    assert sent.status_code == 303
    result = await client.get(sent.headers["location"])
    assert "400-161-9995" in result.text and "010-82951332" in result.text and "12356" in result.text
    assert 'id="urgent-flag"' in result.text and "轻度抑郁" in result.text


async def test_a_calm_result_shows_the_band_without_hotlines(
    client: httpx.AsyncClient, family: Family
) -> None:
    await browser_login(client, family.user.username)
    form = await client.get("/care/scales/gad7")
    data = {"csrf_token": csrf_from_html(form.text), **{f"item-{n}": "2" for n in range(1, 8)}}
    result = await client.get((await client.post("/care/scales/gad7", data=data)).headers["location"])
    assert "14" in result.text and "中度焦虑" in result.text
    assert "400-161-9995" not in result.text


async def test_a_missing_answer_shows_the_form_again(client: httpx.AsyncClient, family: Family) -> None:
    await browser_login(client, family.user.username)
    form = await client.get("/care/scales/phq9")
    data = {"csrf_token": csrf_from_html(form.text), **{f"item-{n}": "1" for n in range(1, 9)}}
    refused = await client.post("/care/scales/phq9", data=data)
    assert refused.status_code == 422 and 'id="error"' in refused.text


async def test_a_doctor_takes_an_alert_on_from_the_alerts_page(
    client: httpx.AsyncClient, family: Family, ward: Ward
) -> None:
    await browser_login(client, family.user.username)
    form = await client.get("/care/scales/phq9")
    data = {"csrf_token": csrf_from_html(form.text), **{f"item-{n}": "0" for n in range(1, 9)}, "item-9": "2"}
    await client.post("/care/scales/phq9", data=data)
    client.cookies.clear()
    await browser_login(client, ward.psychiatrists[0].user.username)
    page = await client.get("/care/scales/alerts")
    assert 'data-status="raised"' in page.text
    alert_id = page.text.split('data-alert-id="')[1].split('"')[0]
    taken = await client.post(
        f"/care/scales/alerts/{alert_id}/acknowledge", data={"csrf_token": csrf_from_html(page.text)}
    )
    assert taken.headers["location"] == "/care/scales/alerts?notice=acknowledged"
    assert 'data-status="acknowledged"' in (await client.get(taken.headers["location"])).text
