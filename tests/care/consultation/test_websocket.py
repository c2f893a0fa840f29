"""The chat WebSocket: stored before acknowledged, numbered per consultation, resumable with ?after=,
nothing lost or duplicated across dropped connections, resends stored once, read receipts, access."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from regio.care.consultation.enums import Status
from regio.care.consultation.models import Consultation, Message
from regio.config import Settings
from regio.core.db import Database, utcnow
from regio.core.identity import tokens
from tests.care.booking.conftest import World
from tests.care.consultation.conftest import Live, MakePatients, open_consultation

pytestmark = pytest.mark.slow


def token(settings: Settings, user_id: int) -> str:
    return tokens.issue_access_token(
        secret_key=settings.secret_key,
        subject=f"u:{user_id}",
        now=int(utcnow().timestamp()),
        ttl_seconds=3600,
    )


def room(live: Live, settings: Settings, user_id: int, consultation_id: int, after: int | None = None) -> Any:
    query = f"?after={after}" if after is not None else ""
    return connect(
        f"{live.ws}/ws/care/consultations/{consultation_id}{query}",
        subprotocols=["regio", f"bearer.{token(settings, user_id)}"],  # type: ignore[list-item]
    )


async def frames_until(ws: ClientConnection, predicate: Any, *, within: float = 10.0) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while True:
            frame = json.loads(await ws.recv())
            seen.append(frame)
            if predicate(frame, seen):
                return seen


def seqs(frames: list[dict[str, Any]]) -> list[int]:
    return [f["seq"] for f in frames if f["type"] == "message"]


@pytest.fixture
async def chat(db: Database, settings: Settings, world: World, make_patients: MakePatients) -> Any:
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient, status=Status.in_progress)
    return c, patient


async def test_messages_arrive_in_sequence_order_and_each_is_acknowledged_after_it_is_stored(
    live: Live, db: Database, settings: Settings, world: World, chat: Any
) -> None:
    c, patient = chat
    async with (
        room(live, settings, world.doctor_user.id, c.id) as doctor_ws,
        room(live, settings, patient.user.id, c.id) as patient_ws,
    ):
        assert patient_ws.subprotocol == "regio"
        hello = json.loads(await patient_ws.recv())
        assert hello["type"] == "hello" and hello["side"] == "patient"
        for n in range(20):
            await patient_ws.send(
                json.dumps({"type": "message", "body": f"第{n}条", "client_msg_id": f"p-{n}"})
            )
        acks = [
            f
            for f in await frames_until(patient_ws, lambda f, s: sum(x["type"] == "ack" for x in s) == 20)
            if f["type"] == "ack"
        ]
        got = await frames_until(doctor_ws, lambda f, s: f.get("seq") == 21)
    assert [a["seq"] for a in acks] == list(range(2, 22))  # seq 1 is the "consultation started" line
    assert seqs(got) == list(range(1, 22))
    assert [f["body"] for f in got if f["type"] == "message"][1:] == [f"第{n}条" for n in range(20)]
    async with db.session() as session:
        stored = (
            (
                await session.execute(
                    select(Message.seq).where(Message.consultation_id == c.id).order_by(Message.seq)
                )
            )
            .scalars()
            .all()
        )
    assert stored == list(range(1, 22))


async def test_a_client_resuming_with_after_gets_exactly_what_it_missed(
    live: Live, settings: Settings, world: World, chat: Any
) -> None:
    c, patient = chat
    async with room(live, settings, patient.user.id, c.id) as ws:
        await ws.recv()
        for n in range(10):
            await ws.send(json.dumps({"type": "message", "body": f"m{n}", "client_msg_id": f"r-{n}"}))
        await frames_until(ws, lambda f, s: f.get("type") == "ack" and f["seq"] == 11)
    async with room(live, settings, world.doctor_user.id, c.id, after=7) as ws:
        frames = await frames_until(ws, lambda f, s: f.get("seq") == 11)
        assert seqs(frames) == [8, 9, 10, 11]
        await ws.send(json.dumps({"type": "ping"}))
        pong = await frames_until(ws, lambda f, s: f["type"] == "pong")
        assert pong[-1]["last_seq"] == 11 and seqs(pong) == []


async def test_dropping_the_connection_mid_stream_loses_nothing_and_duplicates_nothing(
    live: Live, db: Database, settings: Settings, world: World, chat: Any
) -> None:
    c, patient = chat
    total = 150
    received: list[int] = []

    async def doctor_sends() -> None:
        async with room(live, settings, world.doctor_user.id, c.id) as ws:
            await ws.recv()
            for n in range(total):
                await ws.send(json.dumps({"type": "message", "body": f"d{n}", "client_msg_id": f"d-{n}"}))
                if n % 10 == 0:
                    await asyncio.sleep(0.01)
            await frames_until(ws, lambda f, s: sum(x["type"] == "ack" for x in s) == total, within=30)

    async def patient_listens_with_drops() -> None:
        last = 0
        drops = 0
        while last < total + 1:
            async with room(live, settings, patient.user.id, c.id, after=last) as ws:
                await ws.recv()  # hello
                async with asyncio.timeout(30):
                    while last < total + 1:
                        frame = json.loads(await ws.recv())
                        if frame["type"] != "message":
                            continue
                        received.append(frame["seq"])
                        last = frame["seq"]
                        if drops < 4 and len(received) in (20, 45, 80, 120):
                            drops += 1
                            break  # leave without a goodbye: the socket is dropped here
        assert drops == 4

    await asyncio.gather(doctor_sends(), patient_listens_with_drops())
    assert received == list(range(1, total + 2))  # in order, none twice, none missing
    async with db.session() as session:
        count = len((await session.execute(select(Message.id).where(Message.consultation_id == c.id))).all())
    assert count == total + 1


async def test_a_message_resent_after_a_reconnect_is_stored_once(
    live: Live, db: Database, settings: Settings, chat: Any
) -> None:
    c, patient = chat
    frame = json.dumps({"type": "message", "body": "我的药还剩两天", "client_msg_id": "resend-1"})
    async with room(live, settings, patient.user.id, c.id) as ws:
        await ws.recv()
        await ws.send(frame)
        first = (await frames_until(ws, lambda f, s: f["type"] == "ack"))[-1]
    async with room(live, settings, patient.user.id, c.id, after=first["seq"]) as ws:
        await ws.recv()
        await ws.send(frame)
        again = (await frames_until(ws, lambda f, s: f["type"] == "ack"))[-1]
    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["seq"] == first["seq"]
    async with db.session() as session:
        rows = (
            (await session.execute(select(Message).where(Message.client_msg_id == "resend-1")))
            .scalars()
            .all()
        )
    assert len(rows) == 1


async def test_the_same_client_id_sent_on_two_sockets_at_once_is_stored_once(
    live: Live, db: Database, settings: Settings, chat: Any
) -> None:
    c, patient = chat
    frame = json.dumps({"type": "message", "body": "同时发出", "client_msg_id": "twin"})

    async def send_once() -> dict[str, Any]:
        async with room(live, settings, patient.user.id, c.id) as ws:
            await ws.recv()
            await ws.send(frame)
            return (await frames_until(ws, lambda f, s: f["type"] == "ack"))[-1]

    acks = await asyncio.gather(*(send_once() for _ in range(5)))
    assert len({a["seq"] for a in acks}) == 1
    assert sum(not a["duplicate"] for a in acks) == 1
    async with db.session() as session:
        assert len((await session.execute(select(Message).where(Message.client_msg_id == "twin"))).all()) == 1


async def test_read_receipts_reach_the_other_side_and_only_move_forward(
    live: Live, db: Database, settings: Settings, world: World, chat: Any
) -> None:
    c, patient = chat
    async with (
        room(live, settings, patient.user.id, c.id) as p_ws,
        room(live, settings, world.doctor_user.id, c.id) as d_ws,
    ):
        await p_ws.recv()
        await d_ws.recv()
        await p_ws.send(json.dumps({"type": "message", "body": "您好", "client_msg_id": "hi"}))
        await frames_until(d_ws, lambda f, s: f.get("seq") == 2)
        await d_ws.send(json.dumps({"type": "read", "seq": 2}))
        receipt = (await frames_until(p_ws, lambda f, s: f["type"] == "read"))[-1]
        await d_ws.send(json.dumps({"type": "read", "seq": 1}))  # going back is ignored
        await d_ws.send(json.dumps({"type": "read", "seq": 99}))  # past the last message is ignored
        await d_ws.send(json.dumps({"type": "ping"}))
        await frames_until(d_ws, lambda f, s: f["type"] == "pong")
    assert receipt == {"type": "read", "side": "doctor", "seq": 2}
    async with db.session() as session:
        stored = await session.get(Consultation, c.id)
    assert stored is not None and stored.doctor_read_seq == 2


async def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(
    live: Live, settings: Settings, chat: Any
) -> None:
    c, patient = chat
    async with room(live, settings, patient.user.id, c.id) as ws:
        await ws.recv()
        await ws.send("not json")
        await ws.send(json.dumps({"type": "message", "body": "   ", "client_msg_id": "blank"}))
        await ws.send(json.dumps({"type": "launch"}))
        errors = [
            f
            for f in await frames_until(ws, lambda f, s: sum(x["type"] == "error" for x in s) == 3)
            if f["type"] == "error"
        ]
        assert [e["error"]["code"] for e in errors] == ["invalid_input", "empty_message", "invalid_input"]
        assert errors[1]["client_msg_id"] == "blank"
        assert errors[1]["error"]["message_zh"] and errors[1]["error"]["message_en"]
        await ws.send(json.dumps({"type": "ping"}))
        assert (await frames_until(ws, lambda f, s: f["type"] == "pong"))[-1]["type"] == "pong"


async def test_writing_to_a_completed_consultation_is_refused_but_it_can_still_be_read(
    live: Live, db: Database, settings: Settings, world: World, make_patients: MakePatients
) -> None:
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient, status=Status.completed)
    async with room(live, settings, patient.user.id, c.id) as ws:
        frames = await frames_until(ws, lambda f, s: f.get("seq") == 2)
        await ws.send(json.dumps({"type": "message", "body": "还有问题", "client_msg_id": "late"}))
        error = (await frames_until(ws, lambda f, s: f["type"] == "error"))[-1]
    assert seqs(frames) == [1, 2]
    assert error["error"]["code"] == "consultation_closed"


async def closed_code(url: str, **kwargs: Any) -> tuple[int | None, str | None]:
    try:
        async with connect(url, **kwargs) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), (closed.rcvd.reason if closed.rcvd else None)
    return None, None


async def test_only_the_two_sides_may_connect_others_are_closed_with_a_policy_code(
    live: Live, db: Database, settings: Settings, world: World, chat: Any, make_patients: MakePatients
) -> None:
    from tests.care.consultation.conftest import add_doctor

    c, _ = chat
    [stranger] = await make_patients(1)
    other_doctor = await add_doctor(db, world.hospital_id)
    url = f"{live.ws}/ws/care/consultations/{c.id}"
    assert await closed_code(url) == (1008, "not_authenticated")
    assert await closed_code(url + "?access_token=rt1.forged.token") == (1008, "invalid_token")
    assert await closed_code(url, subprotocols=[f"bearer.{token(settings, stranger.user.id)}"]) == (
        1008,
        "consultation_not_found",
    )
    assert await closed_code(url + f"?access_token={token(settings, other_doctor.user.id)}") == (
        1008,
        "consultation_not_found",
    )
    assert await closed_code(
        f"{live.ws}/ws/care/consultations/999999?access_token={token(settings, stranger.user.id)}"
    ) == (
        1008,
        "consultation_not_found",
    )


async def test_cookie_sign_in_counts_only_from_this_sites_own_pages(
    live: Live, settings: Settings, chat: Any
) -> None:
    from regio.core.identity import service as identity_service

    c, patient = chat
    async with live.app.state.db.session() as session:
        cookie = await identity_service.start_session(session=session, settings=settings, user=patient.user)
    headers = {"Cookie": f"{identity_service.SESSION_COOKIE}={cookie}"}
    url = f"{live.ws}/ws/care/consultations/{c.id}"
    assert await closed_code(url, additional_headers={**headers, "Origin": "https://evil.example"}) == (
        1008,
        "not_authenticated",
    )
    assert await closed_code(url, additional_headers=headers) == (1008, "not_authenticated")  # no Origin
    async with connect(url, additional_headers={**headers, "Origin": live.base}) as ws:
        hello = json.loads(await ws.recv())
    assert hello["side"] == "patient"


async def test_two_server_processes_share_the_room_through_redis(
    settings: Settings, db: Database, world: World, chat: Any
) -> None:
    """Scale-out: the patient on one server, the doctor on another; Redis pub/sub carries the frames."""
    import redis.asyncio as redis

    from tests.care.consultation.conftest import serve

    url = "redis://127.0.0.1:6379/0"
    probe = redis.Redis.from_url(url)
    try:
        await probe.ping()
    except Exception:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    finally:
        await probe.aclose()
    c, patient = chat
    scaled = settings.model_copy(update={"redis_url": url})
    async with serve(scaled, db) as one, serve(scaled, db) as two:
        async with (
            room(one, settings, patient.user.id, c.id) as p_ws,
            room(two, settings, world.doctor_user.id, c.id) as d_ws,
        ):
            await p_ws.recv()
            await d_ws.recv()
            for n in range(5):
                await p_ws.send(
                    json.dumps({"type": "message", "body": f"跨进程{n}", "client_msg_id": f"x-{n}"})
                )
            got = await frames_until(d_ws, lambda f, s: f.get("seq") == 6)
            await d_ws.send(json.dumps({"type": "read", "seq": 6}))
            receipt = (await frames_until(p_ws, lambda f, s: f["type"] == "read"))[-1]
    assert seqs(got) == [1, 2, 3, 4, 5, 6]
    assert receipt == {"type": "read", "side": "doctor", "seq": 6}


async def test_a_subscriber_that_falls_behind_rereads_from_the_database_and_misses_nothing(
    live: Live, settings: Settings, world: World, chat: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    from regio.core import events

    c, patient = chat
    monkeypatch.setattr(events, "QUEUE_LIMIT", 3)  # a tiny live queue: a burst overflows it
    headers = {"Authorization": f"Bearer {token(settings, world.doctor_user.id)}"}
    bus = live.app.state.events
    subscribing = bus.subscribe
    subscriptions: list[tuple[str, ...]] = []

    def counted(*channels: str) -> Any:
        subscriptions.append(channels)
        return subscribing(*channels)

    monkeypatch.setattr(bus, "subscribe", counted)
    async with room(live, settings, patient.user.id, c.id) as ws:
        await ws.recv()
        async with httpx.AsyncClient(base_url=live.base, headers=headers, timeout=30) as http:
            answers = await asyncio.gather(
                *(
                    http.post(
                        f"/api/care/consultations/{c.id}/messages",
                        json={"body": f"b{n}", "client_msg_id": f"b-{n}"},
                    )
                    for n in range(40)
                )
            )
        assert {a.status_code for a in answers} == {201}
        frames = await frames_until(ws, lambda f, s: len(seqs(s)) >= 41, within=20)
    assert seqs(frames) == list(range(1, 42))
    assert len(subscriptions) >= 2  # it fell behind, subscribed afresh and re-read the rest
