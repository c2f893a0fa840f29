"""Calls record start, end and duration; ICE servers come from settings; chat outlives 3 years only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from regio.care.consultation import errors, service
from regio.care.consultation.enums import Status
from regio.care.consultation.models import Call, Message
from regio.config import Settings
from regio.core.access import SYSTEM
from regio.core.db import Database, utcnow
from regio.core.errors import Forbidden
from tests.care.booking.conftest import World
from tests.care.consultation.conftest import MakePatients, bearer, open_consultation


async def test_a_video_call_records_start_connection_end_and_duration(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient, status=Status.in_progress, mode="video")
    async with db.session() as session:
        ringing = await service.start_call(
            session=session, principal=world.doctor, consultation_id=c.id, mode="video"
        )
    async with db.session() as session:
        with pytest.raises(errors.CallInProgress):
            await service.start_call(
                session=session, principal=patient.principal, consultation_id=c.id, mode="voice"
            )
    async with db.session() as session:
        answered = await service.answer_call(
            session=session, principal=patient.principal, consultation_id=c.id
        )
    # Pretend the call connected 95 seconds ago.
    async with db.session() as session, session.begin():
        call = await session.get(Call, answered.id)
        assert call is not None
        call.connected_at = utcnow() - timedelta(seconds=95)
    async with db.session() as session:
        ended = await service.end_call(session=session, principal=patient.principal, consultation_id=c.id)
    assert ringing.status == "ringing" and answered.status == "connected" and ended.status == "ended"
    assert ended.duration_seconds is not None and 95 <= ended.duration_seconds <= 97
    async with db.session() as session:
        line = (await session.execute(select(Message).where(Message.kind == "call"))).scalar_one()
        with pytest.raises(errors.NoOpenCall):
            await service.end_call(session=session, principal=patient.principal, consultation_id=c.id)
    assert line.body.startswith("视频通话结束，时长 1:3")


async def test_a_text_consultation_or_a_waiting_one_cannot_call(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    first, second = await make_patients(2)
    text_only = await open_consultation(db, settings, world, first, status=Status.in_progress, mode="text")
    waiting = await open_consultation(db, settings, world, second, mode="video")
    for c in (text_only, waiting):
        async with db.session() as session:
            with pytest.raises(errors.CallNotAllowed):
                await service.start_call(
                    session=session, principal=world.doctor, consultation_id=c.id, mode="video"
                )


async def test_completing_ends_an_open_call(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient, status=Status.in_progress)
    async with db.session() as session:
        await service.start_call(
            session=session, principal=patient.principal, consultation_id=c.id, mode="voice"
        )
    async with db.session() as session:
        await service.move(
            session=session, principal=world.doctor, consultation_id=c.id, target=Status.completed
        )
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Call).where(Call.status != "ended")) == 0


async def test_ice_servers_give_stun_and_time_limited_turn_credentials(
    app: Any, client: httpx.AsyncClient, settings: Settings, world: World
) -> None:
    app.state.settings = settings.model_copy(
        update={
            "ice_stun_urls": "stun:stun.example.cn:3478, http://not-ice",
            "turn_urls": "turn:turn.example.cn:3478?transport=udp,turns:turn.example.cn:5349",
            "turn_secret": "coturn-shared-secret",
            "turn_ttl_seconds": 600,
        }
    )
    before = int(utcnow().timestamp())
    answer = (await client.get("/api/care/ice-servers", headers=bearer(settings, world.doctor_user))).json()
    stun, turn = answer["ice_servers"]
    assert stun == {"urls": ["stun:stun.example.cn:3478"], "username": None, "credential": None}
    assert turn["urls"] == ["turn:turn.example.cn:3478?transport=udp", "turns:turn.example.cn:5349"]
    expiry, user = turn["username"].split(":")
    assert user == str(world.doctor_user.id)
    assert before + 600 <= int(expiry) <= before + 602 and answer["expires_at"] == int(expiry)
    assert (await client.get("/api/care/ice-servers")).status_code == 401


async def test_chat_cannot_be_deleted_before_three_years_and_only_by_the_platform(
    db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient, status=Status.completed)
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.purge_chat(session=session, principal=world.doctor, consultation_id=c.id)
    async with db.session() as session:
        with pytest.raises(errors.RetentionNotElapsed) as refused:
            await service.purge_chat(session=session, principal=SYSTEM, consultation_id=c.id)
    assert refused.value.code == "retention_not_elapsed"
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 2
    later = (utcnow() + timedelta(days=3 * 366)).date()
    async with db.session() as session:
        assert (
            await service.purge_chat(session=session, principal=SYSTEM, consultation_id=c.id, today=later)
            == 2
        )


async def test_the_http_chat_stores_resends_once_and_refuses_strangers(
    client: httpx.AsyncClient, db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    patient, stranger = await make_patients(2)
    c = await open_consultation(db, settings, world, patient, status=Status.in_progress)
    url = f"/api/care/consultations/{c.id}/messages"
    first = await client.post(
        url, json={"body": "血压 150/95", "client_msg_id": "bp-1"}, headers=bearer(settings, patient.user)
    )
    again = await client.post(
        url, json={"body": "血压 150/95", "client_msg_id": "bp-1"}, headers=bearer(settings, patient.user)
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["seq"] == again.json()["seq"] == 2
    listed = await client.get(url + "?after=1", headers=bearer(settings, world.doctor_user))
    assert [m["body"] for m in listed.json()] == ["血压 150/95"]
    refused = await client.get(url, headers=bearer(settings, stranger.user))
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "consultation_not_found"
    bad = await client.post(
        url, json={"body": "", "client_msg_id": "x"}, headers=bearer(settings, patient.user)
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "empty_message"
    wrong = await client.post(
        url, json={"body": "x", "client_msg_id": "has space"}, headers=bearer(settings, patient.user)
    )
    assert wrong.status_code == 422
    receipt = await client.post(
        f"/api/care/consultations/{c.id}/read", json={"seq": 2}, headers=bearer(settings, world.doctor_user)
    )
    assert receipt.json() == {"read_seq": 2}
    view = await client.get(f"/api/care/consultations/{c.id}", headers=bearer(settings, patient.user))
    assert view.json()["doctor_read_seq"] == 2 and view.json()["my_side"] == "patient"
