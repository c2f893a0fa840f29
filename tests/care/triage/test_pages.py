"""The triage page: a phone form in Chinese, a result card, the red banner, and onward links."""

from __future__ import annotations

import httpx

from tests.care.triage.conftest import Family
from tests.factories import browser_login, csrf_from_html


async def test_a_red_flag_shows_the_emergency_banner_and_no_online_links(
    client: httpx.AsyncClient, family: Family
) -> None:
    await browser_login(client, family.user.username)
    form = await client.get("/care/triage")
    assert form.status_code == 200
    assert "精神萎靡、嗜睡、难以唤醒" in form.text and 'name="viewport"' in form.text
    assert f'value="{family.child_id}"' in form.text  # the child can be chosen
    sent = await client.post(
        "/care/triage",
        data={
            "csrf_token": csrf_from_html(form.text),
            "patient_id": str(family.child_id),
            "age": "4",
            "age_unit": "years",
            "sex": "female",
            "temperature_c": "36.8",
            "fever_days": "2",
            "spo2": "",
            "symptoms": ["lethargy"],
        },
    )
    assert sent.status_code == 303
    result = await client.get(sent.headers["location"])
    assert 'id="go-offline"' in result.text and "立即前往急诊" in result.text
    assert "儿科" in result.text
    assert 'id="to-booking"' not in result.text and 'id="no-online"' in result.text


async def test_an_ordinary_result_links_to_booking_by_department_and_to_quick_questions(
    client: httpx.AsyncClient, family: Family
) -> None:
    await browser_login(client, family.user.username)
    form = await client.get("/care/triage")
    sent = await client.post(
        "/care/triage",
        data={
            "csrf_token": csrf_from_html(form.text),
            "age": "34",
            "sex": "male",
            "temperature_c": "38.8",
            "fever_days": "4",
            "symptoms": ["fever", "cough"],
        },
    )
    result = await client.get(sent.headers["location"])
    assert 'id="go-offline"' not in result.text
    assert 'href="/booking?department=fever_clinic"' in result.text
    assert "/care/consultations/quick?department=fever_clinic" in result.text
    assert "今天到医院当面就诊" in result.text
    english = await client.get(sent.headers["location"] + "?lang=en")
    assert "Fever clinic" in english.text and "see a doctor in person today" in english.text


async def test_a_contradiction_shows_the_form_again_with_the_reason(
    client: httpx.AsyncClient, family: Family
) -> None:
    await browser_login(client, family.user.username)
    form = await client.get("/care/triage")
    refused = await client.post(
        "/care/triage",
        data={
            "csrf_token": csrf_from_html(form.text),
            "age": "30",
            "sex": "male",
            "pregnant": "yes",
            "temperature_c": "abc",
        },
    )
    assert refused.status_code == 422 and 'id="error"' in refused.text
    contradictory = await client.post(
        "/care/triage",
        data={"csrf_token": csrf_from_html(form.text), "age": "30", "sex": "male", "pregnant": "yes"},
    )
    assert contradictory.status_code == 422 and "相互矛盾" in contradictory.text


async def test_the_page_asks_visitors_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/care/triage", headers={"accept": "text/html"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
