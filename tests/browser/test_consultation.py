"""Two Chromium pages, the demo patient and the demo doctor, in one consultation room: they chat with
read receipts, and a video call connects a WebRTC peer connection with a remote video track
(fake camera and microphone)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from regio.demo import DEMO_PASSWORD
from tests.browser.conftest import CHROMIUM_ARGS
from tests.browser.demo_api import token

pytestmark = pytest.mark.browser

MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # Host candidates as plain addresses: both pages run on this machine, with no STUN server.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@pytest.fixture(scope="module")
def consultation_id(live_server: str) -> int:
    """A video consultation in progress between 张伟's mother and 陈医生, made through the public API."""
    patient = token(live_server, "zhangwei")
    doctor = token(live_server, "dr_chen")
    doctor_id = httpx.get(f"{live_server}/api/care/consultations/queue", headers=doctor, timeout=30).json()[
        "doctor_id"
    ]
    people = httpx.get(f"{live_server}/api/care/patients", headers=patient, timeout=30).json()["items"]
    family = [p for p in people if p["binding"]["relation"] != "self" and p["binding"]["status"] == "active"]
    patient_id = family[0]["patient"]["id"]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    slot = None
    for ahead in range(6, 0, -1):  # the last days first: other browser tests book the first ones
        slots = httpx.get(
            f"{live_server}/api/care/slots",
            params={
                "doctor_id": doctor_id,
                "date": (today + timedelta(days=ahead)).isoformat(),
                "available_only": "true",
                "limit": 200,
            },
            headers=patient,
            timeout=30,
        ).json()
        free = [s for s in slots if s["booked"] == 0 and "video" in s["modes"]]
        if free:
            slot = free[-1]
            break
    assert slot is not None, "no free video slot of the demo doctor"
    held = httpx.post(
        f"{live_server}/api/care/appointments",
        json={"slot_id": slot["id"], "patient_id": patient_id, "mode": "video"},
        headers=patient,
        timeout=30,
    )
    assert held.status_code == 201, held.text
    confirmed = httpx.post(
        f"{live_server}/api/care/appointments/{held.json()['id']}/confirm", headers=patient, timeout=30
    )
    assert confirmed.status_code == 200, confirmed.text
    opened = httpx.post(
        f"{live_server}/api/care/consultations",
        json={"appointment_id": held.json()["id"]},
        headers=patient,
        timeout=30,
    )
    assert opened.status_code == 201, opened.text
    started = httpx.post(
        f"{live_server}/api/care/consultations/{opened.json()['id']}/start", headers=doctor, timeout=30
    )
    assert started.status_code == 200, started.text
    return int(opened.json()["id"])


@pytest.fixture
async def media_browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS + MEDIA_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def _signed_in(browser: Any, base: str, username: str, *, phone: bool) -> Any:
    options: dict[str, Any] = {"locale": "zh-CN"}
    if phone:
        options.update(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context = await browser.new_context(**options)
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("form button[type=submit]")
    await page.wait_for_load_state()
    return page


async def _room(page: Any, base: str, consultation_id: int) -> None:
    await page.goto(f"{base}/care/consultations/{consultation_id}")
    await page.wait_for_function("document.getElementById('link').textContent === '已连接'")


async def test_patient_and_doctor_chat_with_read_receipts(
    live_server: str, media_browser: Any, consultation_id: int
) -> None:
    patient = await _signed_in(media_browser, live_server, "zhangwei", phone=True)
    doctor = await _signed_in(media_browser, live_server, "dr_chen", phone=False)
    await _room(patient, live_server, consultation_id)
    await _room(doctor, live_server, consultation_id)

    await patient.fill("#body", "医生您好，我母亲血压这两天偏高")
    await patient.click("#send")
    await doctor.wait_for_selector("#log li.theirs:has-text('我母亲血压这两天偏高')")
    # The doctor's page saw it while visible: the patient's page shows it as read.
    await patient.wait_for_selector("#log li.mine.read:has-text('我母亲血压这两天偏高')")

    await doctor.fill("#body", "请每天早晚各测一次并记录")
    await doctor.click("#send")
    await patient.wait_for_selector("#log li.theirs:has-text('请每天早晚各测一次并记录')")

    # A reload resumes from the stored messages: each once, in order.
    await patient.reload()
    await patient.wait_for_selector("#log li:has-text('请每天早晚各测一次并记录')")
    texts = await patient.locator("#log li:not(.system)").all_inner_texts()
    assert sum("我母亲血压" in t for t in texts) == 1 and sum("早晚各测" in t for t in texts) == 1
    seqs = await patient.eval_on_selector_all("#log li", "els => els.map(e => Number(e.dataset.seq))")
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_a_video_call_connects_the_two_browsers_with_a_remote_video_track(
    live_server: str, media_browser: Any, consultation_id: int
) -> None:
    patient = await _signed_in(media_browser, live_server, "zhangwei", phone=True)
    doctor = await _signed_in(media_browser, live_server, "dr_chen", phone=False)
    await _room(patient, live_server, consultation_id)
    await _room(doctor, live_server, consultation_id)

    await doctor.click("#call-video")
    await patient.wait_for_selector("#answer:not([hidden])")
    await patient.click("#answer")

    connected = "window.regioRoom.pc && window.regioRoom.pc.connectionState === 'connected'"
    await doctor.wait_for_function(connected, timeout=20000)
    await patient.wait_for_function(connected, timeout=20000)
    has_video = """() => {
        const stream = document.getElementById('remote-video').srcObject;
        const v = document.getElementById('remote-video');
        return !!stream && stream.getVideoTracks().length > 0
            && stream.getVideoTracks()[0].readyState === 'live' && v.videoWidth > 0;
    }"""
    await patient.wait_for_function(has_video, timeout=20000)
    await doctor.wait_for_function(has_video, timeout=20000)

    await doctor.click("#hangup")
    await patient.wait_for_selector("#log li.system:has-text('视频通话结束')")
    await patient.wait_for_function("window.regioRoom.pc === null")
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        answer = await http.get(
            f"/api/care/consultations/{consultation_id}/calls", headers=token(live_server, "dr_chen")
        )
    calls = answer.json()
    assert calls[-1]["status"] == "ended" and calls[-1]["connected_at"] is not None
    assert calls[-1]["duration_seconds"] is not None
