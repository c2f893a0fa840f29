"""A visitor on a phone walks the portal, signs up, registers herself and her child, and sees both masked."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

import pytest

from regio.demo import demo_id_number

pytestmark = pytest.mark.browser


async def test_the_portal_lists_approved_hospitals_and_filters_by_city_and_department(
    live_server: str, phone: Any
) -> None:
    await phone.goto(f"{live_server}/")
    await phone.click("text=找医院")
    await phone.wait_for_url(re.compile(r"/portal"))
    cards = phone.locator("#hospital-results .hospital-card")
    everywhere = await cards.count()
    assert everywhere >= 10
    # the suspended and the expired demo hospitals are never listed
    names = " ".join(await cards.all_inner_texts())
    assert "示例康宁互联网医院" not in names and "示例安和互联网医院" not in names
    assert "浙江省人民医院" in names

    await phone.select_option("select[name=city]", "330200")  # 宁波市
    await phone.click("form[role=search] button[type=submit]")
    await phone.wait_for_url(re.compile(r"city=330200"))
    in_ningbo = await cards.count()
    assert 0 < in_ningbo < everywhere
    for text in await cards.all_inner_texts():
        assert "宁波" in text

    await phone.goto(f"{live_server}/portal?department=fever_clinic")
    with_fever_clinic = await cards.count()
    assert 0 < with_fever_clinic <= everywhere

    await cards.first.locator("a").click()
    await phone.wait_for_url(re.compile(r"/portal/hospitals/\d+"))
    assert await phone.locator("section.department").count() >= 1


async def test_a_new_user_registers_herself_and_her_child_and_sees_both_masked(
    live_server: str, phone: Any
) -> None:
    username = f"li{uuid.uuid4().hex[:8]}"
    mother_id = demo_id_number("330102", date(1990, 5, 20), "346")
    child_id = demo_id_number("330102", date(date.today().year - 3, 2, 14), "347")

    await phone.goto(f"{live_server}/")
    await phone.click("#nav-signup")
    await phone.fill("input[name=username]", username)
    await phone.fill("input[name=display_name]", "李女士")
    await phone.fill("input[name=password]", "a-long-passphrase")
    await phone.fill("input[name=confirm]", "a-long-passphrase")
    await phone.click("form[action='/signup'] button[type=submit]")
    await phone.wait_for_url(re.compile(r"/me$"))
    assert await phone.locator("#no-patients").is_visible()

    await phone.click("#add-self")
    await phone.fill("#patient-name", "李梅")
    await phone.fill("#patient-id-number", mother_id)
    await phone.fill("#patient-phone", "13912345678")
    await phone.click("#patient-submit")
    await phone.wait_for_url(re.compile(r"/me"))

    # a wrong check digit is refused next to the field, and nothing is registered
    await phone.click("#add-patient")
    await phone.select_option("#patient-relation", "child")
    await phone.fill("#patient-name", "李小米")
    wrong = child_id[:-1] + ("0" if child_id[-1] != "0" else "1")
    await phone.fill("#patient-id-number", wrong)
    await phone.fill("#patient-phone", "13912345678")
    await phone.click("#patient-submit")
    assert await phone.locator("#id_number-error").is_visible()

    await phone.fill("#patient-id-number", child_id)
    await phone.click("#patient-submit")
    await phone.wait_for_url(re.compile(r"/me"))

    patients = phone.locator("#my-patients .patient")
    assert await patients.count() == 2
    masked_ids = await phone.locator(".patient-id-number").all_inner_texts()
    assert sorted(masked_ids) == sorted(
        [mother_id[:6] + "*" * 8 + mother_id[-4:], child_id[:6] + "*" * 8 + child_id[-4:]]
    )
    assert await phone.locator(".patient-phone").all_inner_texts() == ["139****5678"] * 2
    html = await phone.content()
    assert mother_id not in html and child_id not in html and "13912345678" not in html
    child = phone.locator(".patient[data-relation=child]")
    assert await child.locator(".under-six").is_visible()

    # the page fits a phone: nothing scrolls sideways
    overflow = await phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
