"""The /me pages: register myself and family through forms, masked everywhere, CSRF, consent by button."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest

from regio.core.db import Database
from tests.care.patients.conftest import row_counts
from tests.care.patients.idgen import make_id_number, years_ago
from tests.factories import browser_login, csrf_from_html, make_user

ID = make_id_number(area="330108", birth=date(1979, 11, 30), sequence="71", sex_digit=4)
CHILD_ID = make_id_number(area="330108", birth=years_ago(2), sequence="72", sex_digit=3)
PHONE = "15912345678"
HTML = {"Accept": "text/html"}


@pytest.fixture
async def signed_in(client: httpx.AsyncClient, db: Database) -> httpx.AsyncClient:
    user = await make_user(db, roles=["patient"])
    await browser_login(client, user.username)
    return client


async def form_token(client: httpx.AsyncClient, path: str = "/me/patients/new") -> str:
    page = await client.get(path, headers=HTML)
    assert page.status_code == 200, page.text
    return csrf_from_html(page.text)


async def submit(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    data = {
        "csrf_token": await form_token(client),
        "relation": "self",
        "name": "赵六",
        "phone": PHONE,
        **fields,
    }
    return await client.post("/me/patients/new", data=data, headers=HTML)


async def test_me_needs_sign_in(client: httpx.AsyncClient, db: Database) -> None:
    response = await client.get("/me", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_an_empty_me_page_invites_registering_oneself(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/me", headers=HTML)
    assert page.status_code == 200
    assert 'id="no-patients"' in page.text
    assert 'id="add-self"' in page.text
    assert "我的就诊人" in page.text  # Chinese first


async def test_registering_myself_and_a_child_shows_both_masked_on_me(signed_in: httpx.AsyncClient) -> None:
    response = await submit(signed_in, id_number=ID)
    assert response.status_code == 303
    assert response.headers["location"] == "/me?notice=registered"
    response = await submit(signed_in, id_number=CHILD_ID.lower(), relation="child", name="赵小七")
    assert response.status_code == 303
    page = await signed_in.get("/me?notice=registered", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert 'id="notice"' in text
    for clear in (ID, CHILD_ID, PHONE):
        assert clear not in text and clear.lower() not in text
    assert ID[:6] + "********" + ID[-4:] in text
    assert CHILD_ID[:6] + "********" + CHILD_ID[-4:] in text
    assert "159****5678" in text
    assert text.count('class="card stack patient"') == 2
    assert "赵六" in text and "赵小七" in text
    assert 'class="badge warn under-six"' in text
    assert 'id="add-self"' not in text


async def test_form_errors_are_shown_beside_each_field_and_nothing_is_written(
    signed_in: httpx.AsyncClient, db: Database
) -> None:
    response = await submit(signed_in, id_number="33010819791130714", phone="123", name="")
    assert response.status_code == 422
    text = response.text
    for field in ("name", "id_number", "phone"):
        assert f'id="{field}-error"' in text
    assert "身份证号码应为 18 位" in text
    assert "请输入以 1 开头的 11 位中国大陆手机号码" in text
    assert 'value="33010819791130714"' in text  # the input is kept for correction
    assert await row_counts(db) == (0, 0)


async def test_the_error_language_follows_the_switch(signed_in: httpx.AsyncClient) -> None:
    data = {
        "csrf_token": await form_token(signed_in),
        "relation": "self",
        "name": "赵六",
        "phone": PHONE,
        "id_number": ID[:-1] + ("0" if ID[-1] != "0" else "1"),
    }
    response = await signed_in.post("/me/patients/new?lang=en", data=data, headers=HTML)
    assert response.status_code == 422
    assert "check character does not match" in response.text


async def test_a_registered_person_gets_an_offer_to_send_a_binding_request(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_user(db, roles=["patient"])
    relative = await make_user(db, roles=["patient"])
    await browser_login(client, owner.username)
    assert (await submit(client, id_number=ID)).status_code == 303

    client.cookies.clear()
    await browser_login(client, relative.username)
    offered = await submit(client, id_number=ID, relation="spouse")
    assert offered.status_code == 409
    assert 'id="binding-request-form"' in offered.text and 'id="send-binding-request"' in offered.text
    sent = await client.post(
        "/me/bindings/new",
        data={"csrf_token": csrf_from_html(offered.text), "id_number": ID, "relation": "spouse"},
        headers=HTML,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/me?notice=requested"
    assert 'id="outgoing-requests"' in (await client.get("/me", headers=HTML)).text

    client.cookies.clear()
    await browser_login(client, owner.username)
    page = (await client.get("/me", headers=HTML)).text
    assert 'id="incoming-requests"' in page
    binding_id = re.search(r'id="accept-(\d+)"', page)
    assert binding_id is not None
    accepted = await client.post(
        f"/me/bindings/{binding_id.group(1)}/accept", data={"csrf_token": csrf_from_html(page)}, headers=HTML
    )
    assert accepted.status_code == 303

    client.cookies.clear()
    await browser_login(client, relative.username)
    page = (await client.get("/me", headers=HTML)).text
    assert page.count('class="card stack patient"') == 1
    assert ID[:6] + "********" + ID[-4:] in page and ID not in page


async def test_a_form_without_its_csrf_token_is_refused(signed_in: httpx.AsyncClient, db: Database) -> None:
    response = await signed_in.post(
        "/me/patients/new",
        data={"relation": "self", "name": "赵六", "id_number": ID, "phone": PHONE},
        headers=HTML,
    )
    assert response.status_code == 403
    assert await row_counts(db) == (0, 0)


async def test_the_reveal_button_shows_my_own_numbers_uncached(signed_in: httpx.AsyncClient) -> None:
    await submit(signed_in, id_number=ID)
    page = (await signed_in.get("/me", headers=HTML)).text
    patient_id = re.search(r'id="reveal-(\d+)"', page)
    assert patient_id is not None
    revealed = await signed_in.post(
        f"/me/patients/{patient_id.group(1)}/reveal", data={"csrf_token": csrf_from_html(page)}, headers=HTML
    )
    assert revealed.status_code == 200
    assert ID in revealed.text and PHONE in revealed.text
    assert revealed.headers["cache-control"] == "no-store"
