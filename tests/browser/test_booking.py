"""On a phone, the demo patient books for the family, finds a slot full, waits, and is promoted when a place frees."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from regio.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def _open_slot(live_server: str) -> dict[str, Any]:
    token = httpx.post(
        f"{live_server}/api/auth/token", json={"username": "zhangwei", "password": DEMO_PASSWORD}, timeout=30
    ).json()["access_token"]
    slots = httpx.get(
        f"{live_server}/api/care/slots",
        params={"available_only": "true", "limit": 200},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    # a slot nobody has touched, with the demo's two places
    return next(slot for slot in slots if slot["booked"] == 0 and slot["capacity"] == 2)


async def _book(phone: Any, slot_id: int, patient: str, button: str) -> None:
    card = phone.locator(f"#slots article.slot[data-slot-id='{slot_id}']")
    await card.locator("select[name=patient_id]").select_option(label=patient)
    await card.locator(button).click()
    await phone.wait_for_load_state()


async def test_book_cancel_and_waitlist_promotion(live_server: str, phone: Any) -> None:
    slot = _open_slot(live_server)
    await phone.goto(f"{live_server}/login")
    await phone.fill("input[name=username]", "zhangwei")
    await phone.fill("input[name=password]", DEMO_PASSWORD)
    await phone.click("form button[type=submit]")
    await phone.wait_for_load_state()
    listing = f"{live_server}/booking?department={slot['department_code']}&day={slot['local_date']}"

    await phone.goto(listing)
    assert await phone.locator("#suggested article.slot").count() >= 1
    await _book(phone, slot["id"], "张伟", "button.book")
    assert "已为您保留号源" in await phone.inner_text("#notice")
    await phone.goto(listing)
    await _book(phone, slot["id"], "李秀英", "button.book")
    assert await phone.locator("#my-bookings .booking[data-status='held']").count() == 2

    # the slot is full now: the card offers the waitlist instead
    await phone.goto(listing)
    await _book(phone, slot["id"], "张小宝", "button.waitlist")
    assert "已加入候补" in await phone.inner_text("#notice")
    assert await phone.locator("#my-waitlist .waitlist-entry").count() == 1

    # 张伟 cancels: the freed place goes to the first waiting patient as a hold
    mine = phone.locator("#my-bookings .booking[data-status='held']", has_text="张伟")
    await mine.locator("button.cancel").click()
    await phone.wait_for_load_state()
    assert "预约已取消" in await phone.inner_text("#notice")
    promoted = phone.locator("#my-bookings .booking[data-status='held']", has_text="张小宝")
    assert await promoted.count() == 1
    assert "候补" in await promoted.inner_text()
    assert await phone.locator("#my-waitlist .waitlist-entry").count() == 0

    await promoted.locator("button.confirm").click()
    await phone.wait_for_load_state()
    assert re.search("预约已确认", await phone.inner_text("#notice"))
