"""Races the database decides (two signatures, two amendments, two first writes) and the decision the
prescription subdomain will ask for (`prescribing_allowed`), including the under-6 rule."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import func, select

from regio.care.records import errors, service
from regio.care.records.enums import VisitType
from regio.care.records.models import ClinicalRecord, RecordVersion
from regio.care.records.schemas import AttendanceIn, DraftIn
from regio.core.db import Database
from regio.core.errors import DomainError
from tests.care.booking.conftest import World
from tests.care.patients.idgen import years_ago
from tests.care.records.conftest import MakeConsultation, MakePatient, PatientUser, add_hospital_record


async def _as_doctor(db: Database, world: World, call, **kwargs):  # type: ignore[no-untyped-def]
    """Calls a service function as the doctor on a session (a connection) of its own."""
    async with db.session() as session:
        try:
            return await call(session=session, principal=world.doctor, **kwargs)
        except DomainError as error:
            return error


async def test_two_signatures_at_once_one_wins_and_the_other_is_refused(
    db: Database, world: World, patient: PatientUser, make_consultation: MakeConsultation
) -> None:
    for _ in range(3):
        cid = await make_consultation(patient)
        await _as_doctor(db, world, service.save_draft, consultation_id=cid, data=DraftIn(notes="签名竞争"))
        results = await asyncio.gather(
            *(_as_doctor(db, world, service.sign, consultation_id=cid) for _ in range(2))
        )
        signed = [r for r in results if not isinstance(r, Exception)]
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(signed) == 1 and len(refused) == 1, results
        assert isinstance(refused[0], errors.RecordSigned)
        async with db.session() as session:
            rows = (
                (
                    await session.execute(
                        select(RecordVersion)
                        .join(ClinicalRecord)
                        .where(ClinicalRecord.consultation_id == cid)
                    )
                )
                .scalars()
                .all()
            )
        assert len(rows) == 1 and rows[0].content_hash == signed[0].versions[0].content_hash


async def test_an_edit_racing_a_signature_never_changes_what_was_signed(
    db: Database, world: World, patient: PatientUser, make_consultation: MakeConsultation
) -> None:
    cid = await make_consultation(patient)
    await _as_doctor(db, world, service.save_draft, consultation_id=cid, data=DraftIn(notes="原文"))
    results = await asyncio.gather(
        _as_doctor(db, world, service.sign, consultation_id=cid),
        _as_doctor(db, world, service.save_draft, consultation_id=cid, data=DraftIn(notes="改动")),
    )
    async with db.session() as session:
        record = await service.get_record(session=session, principal=world.doctor, consultation_id=cid)
    version = record.versions[0]
    assert version.signed
    if isinstance(results[1], Exception):  # the signature came first: the edit was refused
        assert isinstance(results[1], errors.RecordSigned) and version.notes == "原文"
    else:  # the edit came first: the signature covers the edited text
        assert version.notes == "改动"
    # either way the stored hash is the hash of the stored text
    async with db.session() as session:
        row = (await session.execute(select(RecordVersion))).scalar_one()
        rec = (await session.execute(select(ClinicalRecord))).scalar_one()
        assert row.signed_at is not None and row.signed_by_user_id is not None
        expected = service.content_hash(
            rec, row, previous_hash="", signed_at=row.signed_at, user_id=row.signed_by_user_id
        )
    assert row.content_hash == expected


async def test_two_amendments_at_once_make_one_new_version(
    db: Database, world: World, patient: PatientUser, make_consultation: MakeConsultation
) -> None:
    cid = await make_consultation(patient)
    await _as_doctor(db, world, service.save_draft, consultation_id=cid, data=DraftIn(notes="一版"))
    await _as_doctor(db, world, service.sign, consultation_id=cid)
    results = await asyncio.gather(
        *(_as_doctor(db, world, service.amend, consultation_id=cid, reason=f"更正{i}") for i in range(3))
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(
        isinstance(r, errors.NothingToAmend | errors.RecordChanged)
        for r in results
        if isinstance(r, Exception)
    )
    async with db.session() as session:
        count = await session.scalar(select(func.count()).select_from(RecordVersion))
    assert count == 2


async def test_two_first_writes_at_once_open_one_record(
    db: Database, world: World, patient: PatientUser, make_consultation: MakeConsultation
) -> None:
    cid = await make_consultation(patient)
    results = await asyncio.gather(
        *(
            _as_doctor(db, world, service.save_draft, consultation_id=cid, data=DraftIn(notes=f"首写{i}"))
            for i in range(4)
        )
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ClinicalRecord)) == 1
        assert await session.scalar(select(func.count()).select_from(RecordVersion)) == 1


# ---- prescribing_allowed ---------------------------------------------------------------------------------


async def _decision(db: Database, cid: int) -> service.Decision:
    async with db.session() as session, session.begin():
        return await service.prescribing_allowed(session, consultation_id=cid)


async def test_a_follow_up_for_an_adult_may_be_prescribed(
    db: Database, world: World, patient: PatientUser, make_consultation: MakeConsultation
) -> None:
    await add_hospital_record(db, world, patient.patient_id, "E11")
    cid = await make_consultation(patient)
    assert [r.code for r in (await _decision(db, cid)).reasons] == ["no_diagnosis"]
    await _as_doctor(db, world, service.add_diagnosis, consultation_id=cid, code="E11.9")
    decision = await _decision(db, cid)
    assert decision.allowed and decision.visit_type is VisitType.follow_up


async def test_a_child_under_six_is_prescribed_for_only_with_guardian_and_specialist_present(
    db: Database,
    world: World,
    patient: PatientUser,
    make_patient: MakePatient,
    make_consultation: MakeConsultation,
) -> None:
    child = await make_patient(born=years_ago(4), child_of=patient)
    await add_hospital_record(db, world, child.patient_id, "J45")
    cid = await make_consultation(child)
    await _as_doctor(db, world, service.add_diagnosis, consultation_id=cid, code="J45.9")
    before = await _decision(db, cid)
    assert not before.allowed
    assert [r.code for r in before.reasons] == ["guardian_absent", "specialist_absent"]
    await _as_doctor(
        db,
        world,
        service.set_attendance,
        consultation_id=cid,
        data=AttendanceIn(guardian_present=True, specialist_present=False),
    )
    assert [r.code for r in (await _decision(db, cid)).reasons] == ["specialist_absent"]
    record = await _as_doctor(
        db,
        world,
        service.set_attendance,
        consultation_id=cid,
        data=AttendanceIn(guardian_present=True, specialist_present=True, specialist_name="儿科 王医生"),
    )
    assert record.patient_under_six and record.specialist_name == "儿科 王医生"
    assert (await _decision(db, cid)).allowed


async def test_a_six_year_old_needs_no_attendance_record(
    db: Database,
    world: World,
    patient: PatientUser,
    make_patient: MakePatient,
    make_consultation: MakeConsultation,
) -> None:
    child = await make_patient(born=years_ago(6), child_of=patient)
    await add_hospital_record(db, world, child.patient_id, "J45")
    cid = await make_consultation(child)
    await _as_doctor(db, world, service.add_diagnosis, consultation_id=cid, code="J45.9")
    assert (await _decision(db, cid)).allowed


async def test_a_diagnosis_made_under_a_policy_that_has_since_ended_no_longer_allows_a_prescription(
    db: Database, world: World, patient: PatientUser, make_consultation: MakeConsultation
) -> None:
    from regio.care.records.schemas import PolicyIn
    from tests.care.registry.helpers import health_admin

    today = service.today()
    base = {
        "key": "zj-rx-test",
        "region_adcode": "330000",
        "name_zh": "测试政策",
        "source": "测试",
        "valid_from": today - timedelta(days=5),
        "valid_to": today,
        "icd10_categories": ["R50"],
    }
    async with db.session() as session:
        await service.save_policy(session=session, principal=health_admin(), data=PolicyIn(**base))
    cid = await make_consultation(patient)
    await _as_doctor(db, world, service.add_diagnosis, consultation_id=cid, code="R50.9")
    assert (await _decision(db, cid)).allowed
    async with db.session() as session:
        await service.save_policy(
            session=session,
            principal=health_admin(),
            data=PolicyIn(**{**base, "valid_to": today - timedelta(days=1)}),
        )
    after = await _decision(db, cid)
    assert not after.allowed and after.reasons[-1].code == "no_first_visit_policy"


def test_retention_of_chat_audio_and_video_is_three_years() -> None:
    from datetime import UTC, datetime

    from regio.care.records.enums import RetentionKind

    # 20:00 UTC on 31 March is 1 April in Shanghai: the day counted is the Chinese one.
    completed = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)
    assert service.earliest_deletion(RetentionKind.communication, completed) == date(2029, 4, 1)
    assert service.earliest_deletion(RetentionKind.medical_record, completed) == date(2041, 4, 1)
