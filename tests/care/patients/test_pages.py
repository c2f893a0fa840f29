"""The /me pages: register myself and family through forms, masked everywhere, CSRF, consent by button."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest

from regio.core.db import Database
from regio.core.sms import MemorySmsGateway
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


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, name
    return found.group(1)


async def test_a_registered_person_gets_an_offer_to_send_a_binding_request_without_their_numbers(
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
    assert offered.headers["cache-control"] == "no-store"
    assert 'id="binding-request-form"' in offered.text and 'id="send-binding-request"' in offered.text
    # neither the number nor the phone comes back, visible or hidden; a signed token stands in
    for clear in (ID, ID.lower(), PHONE):
        assert clear not in offered.text
    token = _hidden(offered.text, "form_token")
    sent = await client.post(
        "/me/bindings/new",
        data={"csrf_token": csrf_from_html(offered.text), "form_token": token, "relation": "spouse"},
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


async def test_a_form_token_works_only_for_its_user_and_only_unaltered(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await make_user(db, roles=["patient"])
    relative = await make_user(db, roles=["patient"])
    other = await make_user(db, roles=["patient"])
    await browser_login(client, owner.username)
    await submit(client, id_number=ID)
    client.cookies.clear()
    await browser_login(client, relative.username)
    token = _hidden((await submit(client, id_number=ID, relation="spouse")).text, "form_token")
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
    refused = await client.post(
        "/me/bindings/new",
        data={"csrf_token": await form_token(client), "form_token": tampered, "relation": "spouse"},
        headers=HTML,
    )
    assert refused.status_code == 422 and "表单已过期" in refused.text
    client.cookies.clear()
    await browser_login(client, other.username)
    stolen = await client.post(
        "/me/bindings/new",
        data={"csrf_token": await form_token(client), "form_token": token, "relation": "spouse"},
        headers=HTML,
    )
    assert stolen.status_code == 422
    assert await row_counts(db) == (1, 1)


async def test_every_patients_page_is_marked_no_store(signed_in: httpx.AsyncClient) -> None:
    pages = [
        await signed_in.get("/me", headers=HTML),
        await signed_in.get("/me/patients/new", headers=HTML),
        await signed_in.get("/me/claims/new", headers=HTML),
        await signed_in.get("/me/claims/1?to=138****5678", headers=HTML),
        await submit(signed_in, id_number="33010819791130714"),  # a 422 that shows the input back
        await submit(signed_in, id_number=ID),  # a redirect
    ]
    assert [page.status_code for page in pages] == [200, 200, 200, 200, 422, 303]
    assert all(page.headers["cache-control"] == "no-store" for page in pages)


async def test_claiming_my_record_by_text_message_on_the_pages(
    client: httpx.AsyncClient, db: Database, app_sms: MemorySmsGateway
) -> None:
    daughter = await make_user(db, roles=["patient"])
    father = await make_user(db, roles=["patient"])
    await browser_login(client, daughter.username)
    registered = await submit(client, id_number=ID, relation="parent")
    assert registered.status_code == 303 and registered.headers["location"].startswith("/me/claims/")
    code_page = await client.get(registered.headers["location"], headers=HTML)
    assert "159****5678" in code_page.text and PHONE not in code_page.text

    client.cookies.clear()
    await browser_login(client, father.username)
    mine = await submit(client, id_number=ID, relation="self")
    assert mine.status_code == 409 and 'id="claim-form"' in mine.text and ID not in mine.text
    started = await client.post(
        "/me/claims/new",
        data={"csrf_token": csrf_from_html(mine.text), "form_token": _hidden(mine.text, "form_token")},
        headers=HTML,
    )
    assert started.status_code == 303
    page = await client.get(started.headers["location"], headers=HTML)
    assert 'id="code-sent"' in page.text
    wrong = await client.post(
        started.headers["location"].split("?")[0] + "/confirm",
        data={"csrf_token": csrf_from_html(page.text), "code": "000000"},
        headers=HTML,
    )
    if wrong.status_code != 303:  # 000000 could, once in a million, be the code
        assert wrong.status_code == 422 and 'id="code-error"' in wrong.text
        done = await client.post(
            started.headers["location"].split("?")[0] + "/confirm",
            data={"csrf_token": csrf_from_html(page.text), "code": app_sms.last_code(PHONE) or ""},
            headers=HTML,
        )
        assert done.status_code == 303 and done.headers["location"] == "/me?notice=claimed"
    me = (await client.get("/me", headers=HTML)).text
    assert 'data-relation="self"' in me and ID not in me


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
