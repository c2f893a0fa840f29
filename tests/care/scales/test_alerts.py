"""Urgent alerts: written with the response, routed to the psychiatrists on duty, escalated, acknowledged once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from regio.care.scales import errors, handlers, repository, service
from regio.care.scales.enums import AlertStatus
from regio.care.scales.models import ScaleAlert, ScaleAlertNotice, ScaleAlertRecipient, ScaleResponse
from regio.config import Settings
from regio.core import outbox
from regio.core.audit import AuditEntry
from regio.core.db import Database, utcnow
from tests.care.scales.conftest import Family, Ward, add_shift, build_ward, make_doctor_user
from tests.factories import token_headers

ITEM9 = [1, 0, 0, 0, 0, 0, 0, 0, 1]


async def raise_alert(db: Database, settings: Settings, family: Family, **kwargs: object) -> int:
    async with db.session() as session:
        result = await service.submit(
            session=session,
            settings=settings,
            principal=family.principal,
            scale_id="phq9",
            answers=ITEM9,
            **kwargs,  # type: ignore[arg-type]
        )
    assert result.urgent and result.alert_id is not None
    return result.alert_id


async def outbox_to(db: Database) -> list[dict[str, object]]:
    async with db.session() as session:
        rows = await session.execute(
            select(outbox.OutboxMessage.payload).where(outbox.OutboxMessage.topic == service.TOPIC_ALERT)
        )
        return list(rows.scalars())


async def recipients(db: Database, alert_id: int) -> dict[int, str]:
    async with db.session() as session:
        rows = await session.execute(
            select(ScaleAlertRecipient.user_id, ScaleAlertRecipient.reason).where(
                ScaleAlertRecipient.alert_id == alert_id
            )
        )
        return {int(user): str(reason) for user, reason in rows.all()}


async def alert_row(db: Database, alert_id: int) -> ScaleAlert:
    async with db.session() as session:
        row = await session.get(ScaleAlert, alert_id)
        assert row is not None
        return row


async def test_item_9_alerts_exactly_the_psychiatrists_on_duty_through_the_outbox(
    db: Database, settings: Settings, family: Family, ward: Ward
) -> None:
    alert_id = await raise_alert(db, settings, family)
    on_duty = {staff.user.id for staff in ward.psychiatrists}
    assert await recipients(db, alert_id) == {user: "on_duty" for user in on_duty}
    messages = await outbox_to(db)
    assert {message["user_id"] for message in messages} == on_duty
    assert all(message["alert_id"] == alert_id and "自伤" in str(message["text_zh"]) for message in messages)
    row = await alert_row(db, alert_id)
    assert row.status == AlertStatus.raised
    assert row.escalate_at - row.raised_at == timedelta(minutes=settings.scales_alert_escalate_minutes)


async def test_no_alert_and_no_message_without_item_9(
    db: Database, settings: Settings, family: Family, ward: Ward
) -> None:
    async with db.session() as session:
        result = await service.submit(
            session=session,
            settings=settings,
            principal=family.principal,
            scale_id="phq9",
            answers=[3] * 8 + [0],
        )
    assert result.urgent is False and result.alert_id is None
    assert await outbox_to(db) == []


async def test_the_alert_and_its_messages_share_the_responses_transaction(
    db: Database, settings: Settings, family: Family, ward: Ward, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> list[int]:
        raise RuntimeError("the database went away mid-write")

    monkeypatch.setattr(repository, "add_recipients", broken)
    with pytest.raises(RuntimeError):
        await raise_alert(db, settings, family)
    async with db.session() as session:
        assert (await session.execute(select(ScaleResponse))).first() is None
        assert (await session.execute(select(ScaleAlert))).first() is None
    assert await outbox_to(db) == []


async def test_delivered_messages_become_one_notice_each_even_when_redelivered(
    db: Database, settings: Settings, family: Family, ward: Ward
) -> None:
    await raise_alert(db, settings, family)
    handler = handlers.notice_handler(db)
    delivered = await outbox.deliver_due(
        db=db,
        settings=settings,
        transport=outbox.MemoryTransport(),
        handlers={service.TOPIC_ALERT: [handler]},
    )
    assert delivered == len(ward.psychiatrists)
    async with db.session() as session:
        first = (await session.execute(select(outbox.OutboxMessage))).scalars().first()
        assert first is not None
    message = outbox.Message(first.id, first.topic, first.payload, None, 2, first.created_at, "again")
    await handler(message)
    async with db.session() as session:
        notices = (await session.execute(select(ScaleAlertNotice.user_id))).scalars().all()
    assert sorted(notices) == sorted(staff.user.id for staff in ward.psychiatrists)
    async with db.session() as session:
        mine = await service.notices(session=session, principal=ward.psychiatrists[0].principal)
    assert len(mine) == 1 and "自伤" in mine[0].text


# ---- escalation ----------------------------------------------------------------------------------------


async def test_an_unacknowledged_alert_escalates_after_the_configured_minutes(
    db: Database, settings: Settings, family: Family, ward: Ward
) -> None:
    alert_id = await raise_alert(db, settings, family)
    raised = (await alert_row(db, alert_id)).raised_at
    minutes = settings.scales_alert_escalate_minutes
    assert (
        await service.escalate_due(
            db=db, settings=settings, now=raised + timedelta(minutes=minutes, seconds=-1)
        )
        == 0
    )
    assert await service.escalate_due(db=db, settings=settings, now=raised + timedelta(minutes=minutes)) == 1
    row = await alert_row(db, alert_id)
    assert row.status == AlertStatus.escalated and row.escalated_at is not None
    told = await recipients(db, alert_id)
    assert told[ward.admin.user.id] == "escalation"
    assert told[ward.respiratory.user.id] == "escalation"  # every doctor on duty in the hospital
    assert ward.off_duty.user.id not in told
    escalated = [m for m in await outbox_to(db) if m["kind"] == "escalated"]
    assert {m["user_id"] for m in escalated} == {ward.admin.user.id, ward.respiratory.user.id}
    async with db.session() as session:
        audited = (
            (
                await session.execute(
                    select(AuditEntry.actor_username).where(AuditEntry.action == "scale_alert.escalate")
                )
            )
            .scalars()
            .all()
        )
    assert audited == ["system"]
    # a second run finds nothing more to do
    assert (
        await service.escalate_due(db=db, settings=settings, now=raised + timedelta(minutes=minutes * 3)) == 0
    )


async def test_the_escalation_delay_is_a_setting(
    db: Database, settings: Settings, family: Family, ward: Ward
) -> None:
    quick = settings.model_copy(update={"scales_alert_escalate_minutes": 2})
    alert_id = await raise_alert(db, quick, family)
    raised = (await alert_row(db, alert_id)).raised_at
    assert await service.escalate_due(db=db, settings=quick, now=raised + timedelta(minutes=2)) == 1


async def test_an_acknowledged_alert_never_escalates(
    db: Database, settings: Settings, family: Family, ward: Ward
) -> None:
    alert_id = await raise_alert(db, settings, family)
    async with db.session() as session:
        await service.acknowledge(
            session=session, principal=ward.psychiatrists[0].principal, alert_id=alert_id
        )
    assert await service.escalate_due(db=db, settings=settings, now=utcnow() + timedelta(hours=1)) == 0
    assert (await alert_row(db, alert_id)).status == AlertStatus.acknowledged


async def test_with_no_psychiatrist_on_duty_the_alert_goes_to_the_admins_at_once(
    db: Database, settings: Settings, family: Family
) -> None:
    ward = await build_ward(db, psychiatrists_on_duty=0)
    alert_id = await raise_alert(db, settings, family)
    row = await alert_row(db, alert_id)
    assert row.escalate_at == row.raised_at
    assert await service.escalate_due(db=db, settings=settings) == 1
    assert ward.admin.user.id in await recipients(db, alert_id)


async def test_the_job_is_registered_and_runs(db: Database, settings: Settings, family: Family) -> None:
    from regio.core import jobs

    assert any(job.name == "care.scales.escalate_alerts" for job in jobs.default_registry.jobs())
    ward2 = await build_ward(db, psychiatrists_on_duty=0)
    alert_id = await raise_alert(db, settings, family)
    registry = jobs.JobRegistry()
    registry.register("care.scales.escalate_alerts", service.ESCALATE_EVERY_SECONDS, service.escalate_job)
    assert await jobs.run_due_jobs(db=db, settings=settings, registry=registry) == [
        "care.scales.escalate_alerts"
    ]
    assert (await alert_row(db, alert_id)).status == AlertStatus.escalated
    assert ward2.admin.user.id in await recipients(db, alert_id)


# ---- acknowledgement --------------------------------------------------------------------------------------


async def test_two_doctors_acknowledging_at_once_exactly_one_wins(
    db: Database, settings: Settings, family: Family, ward: Ward
) -> None:
    for _ in range(5):
        alert_id = await raise_alert(db, settings, family)

        async def press(staff_index: int) -> object:
            async with db.session() as session:  # each doctor on their own connection
                return await service.acknowledge(
                    session=session, principal=ward.psychiatrists[staff_index].principal, alert_id=alert_id
                )

        results = await asyncio.gather(press(0), press(1), return_exceptions=True)
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, BaseException)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0], errors.AlertAlreadyAcknowledged)
        row = await alert_row(db, alert_id)
        assert row.status == AlertStatus.acknowledged
        assert row.acknowledged_by_user_id == winners[0].acknowledged_by_user_id  # type: ignore[attr-defined]


async def test_only_a_doctor_the_alert_was_sent_to_may_acknowledge(
    db: Database, settings: Settings, family: Family, ward: Ward
) -> None:
    alert_id = await raise_alert(db, settings, family)
    async with db.session() as session:
        with pytest.raises(errors.AlertNotFound):
            await service.acknowledge(session=session, principal=ward.off_duty.principal, alert_id=alert_id)
        with pytest.raises(errors.AlertNotFound):
            await service.acknowledge(session=session, principal=family.principal, alert_id=alert_id)
    await service.escalate_due(db=db, settings=settings, now=utcnow() + timedelta(hours=1))
    async with db.session() as session:
        with pytest.raises(errors.NotADoctor):  # told on escalation, but admins dispatch, doctors take it on
            await service.acknowledge(session=session, principal=ward.admin.principal, alert_id=alert_id)
        done = await service.acknowledge(
            session=session, principal=ward.respiratory.principal, alert_id=alert_id
        )
    assert done.status == "acknowledged" and done.acknowledged_by_user_id == ward.respiratory.user.id


async def test_a_new_doctor_on_another_shift_is_not_told(
    db: Database, settings: Settings, family: Family, ward: Ward
) -> None:
    later = await make_doctor_user(db, ward.hospital_id, "psychiatry")
    await add_shift(
        db,
        hospital_id=ward.hospital_id,
        doctor_id=later.doctor_id or 0,
        department="psychiatry",
        start=utcnow() - timedelta(hours=6),
        hours=2,
    )
    alert_id = await raise_alert(db, settings, family)
    assert later.user.id not in await recipients(db, alert_id)


async def test_a_retried_submission_raises_no_second_alert(
    client: httpx.AsyncClient, db: Database, settings: Settings, family: Family, ward: Ward
) -> None:
    headers = {**token_headers(settings, family.user), "Idempotency-Key": "phq9-retry-1"}
    first = await client.post("/api/care/scales/phq9/responses", json={"answers": ITEM9}, headers=headers)
    again = await client.post("/api/care/scales/phq9/responses", json={"answers": ITEM9}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    async with db.session() as session:
        assert len((await session.execute(select(ScaleAlert))).all()) == 1
    assert len(await outbox_to(db)) == len(ward.psychiatrists)
    changed = await client.post("/api/care/scales/phq9/responses", json={"answers": [0] * 9}, headers=headers)
    assert changed.status_code == 422 and changed.json()["error"]["code"] == "idempotency_key_reused"
