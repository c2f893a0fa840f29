"""Holds, confirmation, cancellation, expiry, the waitlist, 加号, no-shows and leave, through the service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from regio.care.booking import errors, service
from regio.care.booking.handlers import handlers_for
from regio.care.booking.models import Appointment, NoShow, Slot, WaitlistEntry
from regio.care.booking.schemas import LeaveIn
from regio.config import Settings
from regio.core import outbox
from regio.core.db import Database, utcnow
from regio.core.errors import Forbidden
from tests.care.booking.conftest import MakePatients, MakeShift, PatientUser, World


async def book(db: Database, settings: Settings, person: PatientUser, slot_id: int, **kwargs: object):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await service.book(
            session=session,
            settings=settings,
            principal=person.principal,
            slot_id=slot_id,
            patient_id=person.patient_id,
            **kwargs,  # type: ignore[arg-type]
        )


async def slot_row(db: Database, slot_id: int) -> Slot:
    async with db.session() as session:
        slot = await session.get(Slot, slot_id)
        assert slot is not None
        return slot


async def deliver_all(db: Database, settings: Settings) -> None:
    await outbox.deliver_due(
        db=db, settings=settings, transport=outbox.MemoryTransport(), handlers=handlers_for(db)
    )


async def test_a_booking_is_a_hold_until_the_patient_confirms_it(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=2)
    [person] = await make_patients(1)
    held = await book(db, settings, person, shift.slots[0].id)
    assert held.status == "held" and held.hold_expires_at is not None
    assert held.hold_expires_at - utcnow() <= timedelta(minutes=settings.booking_hold_minutes)
    async with db.session() as session:
        confirmed = await service.confirm(session=session, principal=person.principal, appointment_id=held.id)
    assert confirmed.status == "confirmed" and confirmed.confirmed_at is not None
    assert (await slot_row(db, shift.slots[0].id)).booked == 1


async def test_an_unconfirmed_hold_expires_and_frees_its_place(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=1)
    first, second = await make_patients(2)
    held = await book(db, settings, first, shift.slots[0].id)
    with pytest.raises(errors.SlotFull):
        await book(db, settings, second, shift.slots[0].id)
    later = utcnow() + timedelta(minutes=settings.booking_hold_minutes + 1)
    assert await service.expire_holds(db=db, settings=settings, now=later) == 1
    assert (await slot_row(db, shift.slots[0].id)).booked == 0
    async with db.session() as session:
        with pytest.raises(errors.HoldExpired):
            await service.confirm(
                session=session, principal=first.principal, appointment_id=held.id, now=later
            )
    assert (await book(db, settings, second, shift.slots[0].id, now=later)).status == "held"
    await deliver_all(db, settings)
    async with db.session() as session:
        told = await service.notifications(session=session, principal=first.principal)
    assert [n.kind for n in told] == ["hold_expired"]


async def test_a_booking_of_a_full_slot_expires_stale_holds_inline(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=1)
    first, second = await make_patients(2)
    await book(db, settings, first, shift.slots[0].id)
    later = utcnow() + timedelta(minutes=settings.booking_hold_minutes + 1)
    # no expiry job has run: the booking itself expires the stale hold and takes the place
    assert (await book(db, settings, second, shift.slots[0].id, now=later)).status == "held"
    assert (await slot_row(db, shift.slots[0].id)).booked == 1


async def test_one_active_booking_per_patient_per_doctor_per_day(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=5)
    [person] = await make_patients(1)
    await book(db, settings, person, shift.slots[0].id)
    with pytest.raises(errors.OneBookingPerDoctorPerDay):
        await book(db, settings, person, shift.slots[1].id)
    # the refused attempt gave its place back: nothing half-written
    assert (await slot_row(db, shift.slots[1].id)).booked == 0


async def test_the_per_day_limit_is_configurable(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=5)
    [person] = await make_patients(1)
    two = settings.model_copy(update={"booking_max_per_doctor_per_day": 2})
    await book(db, two, person, shift.slots[0].id)
    await book(db, two, person, shift.slots[1].id)
    with pytest.raises(errors.OneBookingPerDoctorPerDay):
        await book(db, two, person, shift.slots[2].id)


async def test_cancelling_before_the_cutoff_frees_the_place_and_after_it_is_refused(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=1)
    first, second = await make_patients(2)
    slot = shift.slots[0]
    a = await book(db, settings, first, slot.id)
    async with db.session() as session:
        cancelled = await service.cancel(
            session=session, settings=settings, principal=first.principal, appointment_id=a.id
        )
    assert cancelled.status == "cancelled"
    assert (await slot_row(db, slot.id)).booked == 0
    b = await book(db, settings, second, slot.id)
    too_late = slot.start_at - timedelta(minutes=settings.booking_cancel_cutoff_minutes - 1)
    async with db.session() as session:
        with pytest.raises(errors.CancelCutoffPassed):
            await service.cancel(
                session=session,
                settings=settings,
                principal=second.principal,
                appointment_id=b.id,
                now=too_late,
            )
    assert (await slot_row(db, slot.id)).booked == 1


async def test_nobody_cancels_or_confirms_a_booking_of_a_patient_they_do_not_act_for(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=2)
    owner, stranger = await make_patients(2)
    a = await book(db, settings, owner, shift.slots[0].id)
    async with db.session() as session:
        with pytest.raises(errors.AppointmentNotFound):
            await service.cancel(
                session=session, settings=settings, principal=stranger.principal, appointment_id=a.id
            )
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.book(
                session=session,
                settings=settings,
                principal=stranger.principal,
                slot_id=shift.slots[1].id,
                patient_id=owner.patient_id,
            )


async def test_a_freed_place_is_offered_to_the_first_waiting_patient_and_passes_on_when_it_lapses(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=1)
    slot_id = shift.slots[0].id
    holder, first_waiting, second_waiting = await make_patients(3)
    a = await book(db, settings, holder, slot_id)
    for person in (first_waiting, second_waiting):
        async with db.session() as session:
            await service.join_waitlist(
                session=session, principal=person.principal, slot_id=slot_id, patient_id=person.patient_id
            )
    async with db.session() as session:
        await service.cancel(
            session=session, settings=settings, principal=holder.principal, appointment_id=a.id
        )
    async with db.session() as session:
        mine = await service.my_appointments(session=session, principal=first_waiting.principal)
    assert [(x.status, x.via_waitlist) for x in mine] == [("held", True)]
    assert (await slot_row(db, slot_id)).booked == 1
    await deliver_all(db, settings)
    async with db.session() as session:
        told = await service.notifications(session=session, principal=first_waiting.principal)
    assert told[0].kind == "waitlist_offer" and "候补成功" in told[0].text_zh

    lapse = utcnow() + timedelta(minutes=settings.booking_waitlist_offer_minutes + 1)
    assert await service.expire_holds(db=db, settings=settings, now=lapse) == 1
    async with db.session() as session:
        mine = await service.my_appointments(session=session, principal=second_waiting.principal)
    assert [(x.status, x.via_waitlist) for x in mine] == [("held", True)]
    assert (await slot_row(db, slot_id)).booked == 1


async def test_joining_the_waitlist_of_a_slot_with_places_or_twice_is_refused(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=1)
    slot_id = shift.slots[0].id
    holder, waiting = await make_patients(2)
    async with db.session() as session:
        with pytest.raises(errors.SlotHasPlaces):
            await service.join_waitlist(
                session=session, principal=waiting.principal, slot_id=slot_id, patient_id=waiting.patient_id
            )
    await book(db, settings, holder, slot_id)
    async with db.session() as session:
        entry = await service.join_waitlist(
            session=session, principal=waiting.principal, slot_id=slot_id, patient_id=waiting.patient_id
        )
    assert entry.position == 1
    async with db.session() as session:
        with pytest.raises(errors.AlreadyWaiting):
            await service.join_waitlist(
                session=session, principal=waiting.principal, slot_id=slot_id, patient_id=waiting.patient_id
            )


async def test_extra_places_from_the_doctor_are_counted_apart_audited_and_go_to_the_waitlist_first(
    db: Database, settings: Settings, world: World, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=1)
    slot_id = shift.slots[0].id
    holder, waiting, late = await make_patients(3)
    await book(db, settings, holder, slot_id)
    async with db.session() as session:
        await service.join_waitlist(
            session=session, principal=waiting.principal, slot_id=slot_id, patient_id=waiting.patient_id
        )
    async with db.session() as session:
        slot = await service.grant_extra(
            session=session,
            settings=settings,
            principal=world.doctor,
            slot_id=slot_id,
            places=2,
            reason="复诊患者",
        )
    assert (slot.capacity, slot.extra, slot.booked) == (1, 2, 2)
    async with db.session() as session:
        offered = await service.my_appointments(session=session, principal=waiting.principal)
    assert offered[0].is_extra and offered[0].via_waitlist
    extra = await book(db, settings, late, slot_id)
    assert extra.is_extra
    async with db.session() as session:
        from regio.core.audit import AuditEntry

        actions = (await session.execute(select(AuditEntry.action, AuditEntry.details))).all()
    grants = [details for action, details in actions if action == "slot.extra_grant"]
    assert grants == [{"places": 2, "extra_total": 2, "reason": "复诊患者"}]


async def test_a_patient_cannot_grant_extra_places(
    db: Database, settings: Settings, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    shift = await make_shift(capacity=1)
    [person] = await make_patients(1)
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.grant_extra(
                session=session,
                settings=settings,
                principal=person.principal,
                slot_id=shift.slots[0].id,
                places=1,
                reason="x",
            )
    assert (await slot_row(db, shift.slots[0].id)).extra == 0


async def test_three_no_shows_in_ninety_days_stop_booking_for_thirty_days(
    db: Database, settings: Settings, world: World, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    [person] = await make_patients(1)
    shifts = [await make_shift(capacity=1, day=world.tomorrow + timedelta(days=d)) for d in range(4)]
    result = None
    for shift in shifts[:3]:
        slot = shift.slots[0]
        a = await book(db, settings, person, slot.id)
        async with db.session() as session:
            await service.confirm(session=session, principal=person.principal, appointment_id=a.id)
        async with db.session() as session:
            with pytest.raises(errors.NoShowTooEarly):
                await service.mark_no_show(
                    session=session, settings=settings, principal=world.doctor, appointment_id=a.id
                )
        async with db.session() as session:
            result = await service.mark_no_show(
                session=session,
                settings=settings,
                principal=world.doctor,
                appointment_id=a.id,
                now=slot.start_at + timedelta(minutes=40),
            )
    assert result is not None and result.no_shows_in_window == 3 and result.banned_until is not None
    with pytest.raises(errors.BookingBanned) as refused:
        await book(db, settings, person, shifts[3].slots[0].id)
    assert refused.value.details["count"] == 3
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(NoShow)) == 3


async def test_leave_cancels_the_shifts_and_tells_booked_patients_with_alternatives(
    db: Database, settings: Settings, world: World, make_shift: MakeShift, make_patients: MakePatients
) -> None:
    from tests.care.registry.helpers import make_doctor

    shift = await make_shift(capacity=2)
    other_doctor = await make_doctor(db, world.hospital_id, department_codes=["respiratory"])
    other = await make_shift(capacity=2, doctor_id=other_doctor)
    first, second, waiting = await make_patients(3)
    await book(db, settings, first, shift.slots[0].id)
    await book(db, settings, second, shift.slots[0].id)
    async with db.session() as session:
        await service.join_waitlist(
            session=session,
            principal=waiting.principal,
            slot_id=shift.slots[0].id,
            patient_id=waiting.patient_id,
        )
    async with db.session() as session:
        leave = await service.record_leave(
            session=session,
            principal=world.doctor,
            data=LeaveIn(
                doctor_id=world.doctor_id, from_date=world.tomorrow, to_date=world.tomorrow, reason="病假"
            ),
        )
    assert (leave.shifts_cancelled, leave.appointments_cancelled) == (1, 2)
    async with db.session() as session:
        statuses = (await session.execute(select(Appointment.status))).scalars().all()
        waits = (await session.execute(select(WaitlistEntry.status))).scalars().all()
    assert sorted(statuses) == ["cancelled", "cancelled"] and waits == ["cancelled"]
    slot = await slot_row(db, shift.slots[0].id)
    assert slot.status == "cancelled"
    await deliver_all(db, settings)
    async with db.session() as session:
        told = await service.notifications(session=session, principal=first.principal)
    assert told[0].kind == "cancelled_by_hospital"
    assert told[0].data["alternative_slot_ids"] and set(told[0].data["alternative_slot_ids"]) <= {
        s.id for s in other.slots
    }
    async with db.session() as session:
        with pytest.raises(errors.SlotUnavailable):
            await service.book(
                session=session,
                settings=settings,
                principal=waiting.principal,
                slot_id=shift.slots[1].id,
                patient_id=waiting.patient_id,
            )


async def test_a_redelivered_outbox_message_writes_one_notification(
    db: Database, settings: Settings, make_patients: MakePatients
) -> None:
    [person] = await make_patients(1)
    message = outbox.Message(
        id=4242,
        topic=service.TOPIC_EXPIRED,
        payload={
            "user_id": person.user.id,
            "kind": "hold_expired",
            "appointment_id": None,
            "text_zh": "释放",
            "text_en": "released",
        },
        target_url=None,
        attempt=1,
        created_at=utcnow(),
        lease_token="t",
    )
    assert await service.store_notification(db=db, message=message)
    assert not await service.store_notification(db=db, message=message)
    async with db.session() as session:
        assert len(await service.notifications(session=session, principal=person.principal)) == 1


async def test_every_booking_topic_has_a_registered_handler() -> None:
    registered = outbox.registered_handlers()
    assert all(registered.get(topic) for topic in service.TOPICS)
