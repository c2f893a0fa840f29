"""Binding family members (就诊人): consent, guardians, history, races, acting for and reveal."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import select

from regio.care.patients import service
from regio.care.patients.errors import (
    BindingAlreadyEnded,
    BindingExists,
    BindingNotFound,
    BindingNotPending,
    NotBoundToPatient,
    PatientExists,
    PatientNotFound,
    SelfBindingPermanent,
)
from regio.care.patients.models import BindingStatus, EndReason, Patient, PatientBinding, Relation
from regio.config import Settings
from regio.core.access import Principal, Role
from regio.core.db import Database
from regio.core.errors import Forbidden
from tests.care.patients.conftest import AuditLog, MakePerson, Person, grant_for, row_counts
from tests.care.patients.idgen import make_id_number, years_ago

ADULT_ID = make_id_number(area="330106", birth=date(1985, 5, 20), sequence="21", sex_digit=2)
OTHER_ADULT_ID = make_id_number(area="330102", birth=date(1960, 3, 3), sequence="31", sex_digit=1)
CHILD_ID = make_id_number(area="330106", birth=years_ago(4), sequence="41", sex_digit=1)
TEEN_ID = make_id_number(area="330106", birth=years_ago(15), sequence="51", sex_digit=2)


async def register(
    db: Database, settings: Settings, person: Person, id_number: str, relation: Relation = Relation.self_
) -> int:
    async with db.session() as session:
        answer = await service.register_patient(
            session=session,
            settings=settings,
            principal=person.principal,
            name="李四",
            id_number=id_number,
            phone="13900001111",
            relation=relation,
        )
    return answer.patient.id


async def request(db: Database, settings: Settings, person: Person, id_number: str, relation: Relation):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await service.request_binding(
            session=session,
            settings=settings,
            principal=person.principal,
            id_number=id_number,
            relation=relation,
        )


async def accept(db: Database, person: Person, binding_id: int):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await service.accept_binding(
            session=session, principal=person.principal, binding_id=binding_id
        )


async def decline(db: Database, person: Person, binding_id: int):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await service.decline_binding(
            session=session, principal=person.principal, binding_id=binding_id
        )


async def unbind(db: Database, person: Person, binding_id: int):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await service.end_binding(session=session, principal=person.principal, binding_id=binding_id)


async def actable(db: Database, person: Person) -> frozenset[int]:
    async with db.session() as session:
        return await service.actable_patient_ids(session=session, principal=person.principal)


async def reveal(db: Database, settings: Settings, person: Person, patient_id: int):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await service.reveal_patient(
            session=session, settings=settings, principal=person.principal, patient_id=patient_id
        )


async def test_binding_an_adult_with_an_account_waits_for_their_consent(
    db: Database, settings: Settings, make_person: MakePerson, audit_log: AuditLog
) -> None:
    mother, son = await make_person(), await make_person()
    mother_patient = await register(db, settings, mother, ADULT_ID)
    before = await row_counts(db)
    pending = await request(db, settings, son, ADULT_ID, Relation.parent)
    assert pending.binding.status is BindingStatus.pending
    assert pending.awaiting == "the_person"
    assert pending.binding.patient_id == mother_patient
    assert await row_counts(db) == (before[0], before[1] + 1)  # never a second patient record
    assert mother_patient not in await actable(db, son)

    accepted = await accept(db, mother, pending.binding.id)
    assert accepted.status is BindingStatus.active
    assert accepted.accepted_by_user_id == mother.id
    assert mother_patient in await actable(db, son)
    assert {"patient_binding.request", "patient_binding.accept"} <= set(audit_log.actions())


async def test_the_requester_cannot_accept_their_own_request(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son = await make_person(), await make_person()
    await register(db, settings, mother, ADULT_ID)
    pending = await request(db, settings, son, ADULT_ID, Relation.parent)
    with pytest.raises(Forbidden):
        await accept(db, son, pending.binding.id)


async def test_a_stranger_cannot_see_or_answer_someone_elses_request(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son, stranger = await make_person(), await make_person(), await make_person()
    await register(db, settings, mother, ADULT_ID)
    pending = await request(db, settings, son, ADULT_ID, Relation.parent)
    with pytest.raises(BindingNotFound):
        await accept(db, stranger, pending.binding.id)
    with pytest.raises(BindingNotFound):
        await unbind(db, stranger, pending.binding.id)


async def test_an_adult_without_an_account_cannot_be_bound_by_whoever_registered_them(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    daughter, nephew = await make_person(), await make_person()
    await register(db, settings, daughter, OTHER_ADULT_ID, Relation.parent)
    pending = await request(db, settings, nephew, OTHER_ADULT_ID, Relation.other)
    assert pending.awaiting == "the_person_to_sign_up"
    with pytest.raises(Forbidden):
        await accept(db, daughter, pending.binding.id)


async def test_an_adult_claims_their_record_and_then_decides_who_is_bound(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    daughter, father, nephew = await make_person(), await make_person(), await make_person()
    patient_id = await register(db, settings, daughter, OTHER_ADULT_ID, Relation.parent)
    nephews = await request(db, settings, nephew, OTHER_ADULT_ID, Relation.other)
    with pytest.raises(PatientExists):
        await register(db, settings, father, OTHER_ADULT_ID)
    claim = await request(db, settings, father, OTHER_ADULT_ID, Relation.self_)
    assert claim.awaiting == "family"
    await accept(db, daughter, claim.binding.id)
    async with db.session() as session:
        patient = await session.get(Patient, patient_id)
        assert patient is not None and patient.user_id == father.id
    assert (await reveal(db, settings, father, patient_id)).id_number == OTHER_ADULT_ID
    # now the father, not his daughter, answers the nephew's request
    with pytest.raises(Forbidden):
        await accept(db, daughter, nephews.binding.id)
    await decline(db, father, nephews.binding.id)
    assert patient_id not in await actable(db, nephew)
    # and may remove his daughter's access to him
    async with db.session() as session:
        daughters = (
            await session.execute(select(PatientBinding).where(PatientBinding.user_id == daughter.id))
        ).scalar_one()
    ended = await unbind(db, father, daughters.id)
    assert ended.status is BindingStatus.ended and ended.ended_by_user_id == father.id


async def test_a_minors_guardian_answers_for_the_minor(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, father, stranger = await make_person(), await make_person(), await make_person()
    child_id = await register(db, settings, mother, CHILD_ID, Relation.child)
    pending = await request(db, settings, father, CHILD_ID, Relation.child)
    assert pending.awaiting == "guardian"
    assert pending.binding.is_guardian is True  # a parent binding a minor will manage the record too
    with pytest.raises(BindingNotFound):
        await accept(db, stranger, pending.binding.id)
    await accept(db, mother, pending.binding.id)
    assert child_id in await actable(db, father)
    assert (await reveal(db, settings, father, child_id)).id_number == CHILD_ID


async def test_a_teenager_with_an_account_cannot_remove_a_guardian_but_may_remove_others(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, teen, aunt = await make_person(), await make_person(), await make_person()
    teen_id = await register(db, settings, mother, TEEN_ID, Relation.child)
    claim = await request(db, settings, teen, TEEN_ID, Relation.self_)
    await accept(db, mother, claim.binding.id)
    aunts = await request(db, settings, aunt, TEEN_ID, Relation.other)
    await accept(db, mother, aunts.binding.id)  # guardians decide for a minor
    async with db.session() as session:
        mothers = (
            await session.execute(select(PatientBinding).where(PatientBinding.user_id == mother.id))
        ).scalar_one()
    with pytest.raises(Forbidden):
        await unbind(db, teen, mothers.id)
    await unbind(db, teen, aunts.binding.id)
    assert teen_id not in await actable(db, aunt)


async def test_declining_ends_the_request_and_keeps_it_as_history(
    db: Database, settings: Settings, make_person: MakePerson, audit_log: AuditLog
) -> None:
    mother, son = await make_person(), await make_person()
    await register(db, settings, mother, ADULT_ID)
    pending = await request(db, settings, son, ADULT_ID, Relation.parent)
    declined = await decline(db, mother, pending.binding.id)
    assert declined.status is BindingStatus.ended
    assert declined.end_reason is EndReason.declined
    with pytest.raises(BindingNotPending):
        await accept(db, mother, pending.binding.id)
    # a new request may be made after a refusal; the old row stays
    again = await request(db, settings, son, ADULT_ID, Relation.parent)
    assert again.binding.id != pending.binding.id
    assert "patient_binding.decline" in audit_log.actions()


async def test_a_second_open_request_for_the_same_person_is_refused(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son = await make_person(), await make_person()
    await register(db, settings, mother, ADULT_ID)
    await request(db, settings, son, ADULT_ID, Relation.parent)
    before = await row_counts(db)
    with pytest.raises(BindingExists):
        await request(db, settings, son, ADULT_ID, Relation.parent)
    assert await row_counts(db) == before


async def test_concurrent_requests_for_one_person_open_exactly_one(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son = await make_person(), await make_person()
    await register(db, settings, mother, ADULT_ID)
    results = await asyncio.gather(
        *(request(db, settings, son, ADULT_ID, Relation.parent) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, BindingExists) for r in results if isinstance(r, BaseException)), results


async def test_an_accept_racing_a_decline_has_exactly_one_winner(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son = await make_person(), await make_person()
    patient_id = await register(db, settings, mother, ADULT_ID)
    pending = await request(db, settings, son, ADULT_ID, Relation.parent)
    results = await asyncio.gather(
        accept(db, mother, pending.binding.id),
        decline(db, mother, pending.binding.id),
        accept(db, mother, pending.binding.id),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert all(isinstance(r, BindingNotPending) for r in results if isinstance(r, BaseException)), results
    assert (patient_id in await actable(db, son)) == (winners[0].status is BindingStatus.active)


async def test_binding_an_unregistered_number_is_not_found_and_a_bad_number_is_invalid(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    son = await make_person()
    with pytest.raises(PatientNotFound):
        await request(db, settings, son, ADULT_ID, Relation.parent)
    from regio.care.patients.errors import InvalidIdNumber

    with pytest.raises(InvalidIdNumber):
        await request(
            db,
            settings,
            son,
            ADULT_ID[:-1] + "0" if ADULT_ID[-1] != "0" else ADULT_ID[:-1] + "1",
            Relation.parent,
        )
    assert await row_counts(db) == (0, 0)


async def test_unbinding_ends_the_binding_but_keeps_the_row(
    db: Database, settings: Settings, make_person: MakePerson, audit_log: AuditLog
) -> None:
    me = await make_person()
    patient_id = await register(db, settings, me, OTHER_ADULT_ID, Relation.parent)
    [binding_id] = [b.id for b in await _bindings(db, me)]
    ended = await unbind(db, me, binding_id)
    assert ended.status is BindingStatus.ended and ended.end_reason is EndReason.unbound
    assert patient_id not in await actable(db, me)
    assert await row_counts(db) == (1, 1)
    with pytest.raises(BindingAlreadyEnded):
        await unbind(db, me, binding_id)
    with pytest.raises(NotBoundToPatient):
        async with db.session() as session:
            await service.require_may_act_for(session=session, principal=me.principal, patient_id=patient_id)
    assert "patient_binding.end" in audit_log.actions()


async def test_withdrawing_a_pending_request(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son = await make_person(), await make_person()
    await register(db, settings, mother, ADULT_ID)
    pending = await request(db, settings, son, ADULT_ID, Relation.parent)
    withdrawn = await unbind(db, son, pending.binding.id)
    assert withdrawn.end_reason is EndReason.withdrawn
    with pytest.raises(BindingNotPending):
        await accept(db, mother, pending.binding.id)


async def test_ones_own_record_cannot_be_unbound(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    me = await make_person()
    await register(db, settings, me, ADULT_ID)
    [binding] = await _bindings(db, me)
    with pytest.raises(SelfBindingPermanent):
        await unbind(db, me, binding.id)


async def _bindings(db: Database, person: Person) -> list[PatientBinding]:
    async with db.session() as session:
        return list(
            (
                await session.execute(select(PatientBinding).where(PatientBinding.user_id == person.id))
            ).scalars()
        )


# ------------------------------------------------------------------ acting for, reading, reveal


async def test_actable_patients_are_exactly_the_active_bindings(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    me, mother = await make_person(), await make_person()
    mine = await register(db, settings, me, ADULT_ID)
    child = await register(db, settings, me, CHILD_ID, Relation.child)
    await register(db, settings, mother, OTHER_ADULT_ID)
    await request(db, settings, me, OTHER_ADULT_ID, Relation.parent)  # pending: not yet
    assert await actable(db, me) == frozenset({mine, child})
    async with db.session() as session:
        await service.require_may_act_for(session=session, principal=me.principal, patient_id=child)


@pytest.mark.parametrize("role", [Role.doctor, Role.pharmacist, Role.health_admin, Role.regulator])
async def test_staff_roles_act_for_no_patient_even_with_a_binding_row(
    db: Database, settings: Settings, make_person: MakePerson, role: Role
) -> None:
    me = await make_person()
    patient_id = await register(db, settings, me, ADULT_ID)
    # the same user, signed in with a staff role instead of the patient role
    staff_view = Person(
        user=me.user,
        principal=Principal(user_id=me.id, username=me.user.username, grants=frozenset({grant_for(role)})),
    )
    assert await actable(db, staff_view) == frozenset()
    with pytest.raises(Forbidden):
        await reveal(db, settings, staff_view, patient_id)


async def test_list_and_read_are_masked_and_audited(
    db: Database, settings: Settings, make_person: MakePerson, audit_log: AuditLog
) -> None:
    me = await make_person()
    mine = await register(db, settings, me, ADULT_ID)
    child = await register(db, settings, me, CHILD_ID, Relation.child)
    async with db.session() as session:
        items = await service.list_patients(session=session, settings=settings, principal=me.principal)
    assert [item.patient.id for item in items] == [mine, child]  # self first
    assert items[1].patient.needs_guardian_presence is True
    assert items[1].binding.relation is Relation.child
    for item in items:
        assert "********" in item.patient.id_number_masked
        assert item.patient.phone_masked == "139****1111"
    async with db.session() as session:
        one = await service.get_patient(
            session=session, settings=settings, principal=me.principal, patient_id=child
        )
    assert one.patient.id_number_masked == CHILD_ID[:6] + "********" + CHILD_ID[-4:]
    assert audit_log.of("patient.list")[0]["details"]["patient_ids"] == [mine, child]
    assert audit_log.of("patient.read")[0]["object_id"] == child


async def test_reading_a_patient_not_bound_is_refused(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    me, other = await make_person(), await make_person()
    theirs = await register(db, settings, other, ADULT_ID)
    for patient_id in (theirs, 999_999):
        with pytest.raises(NotBoundToPatient):
            async with db.session() as session:
                await service.get_patient(
                    session=session, settings=settings, principal=me.principal, patient_id=patient_id
                )


async def test_reveal_is_for_the_person_and_a_minors_guardian_only_and_is_audited(
    db: Database, settings: Settings, make_person: MakePerson, audit_log: AuditLog
) -> None:
    me, mother = await make_person(), await make_person()
    mine = await register(db, settings, me, ADULT_ID)
    child = await register(db, settings, me, CHILD_ID, Relation.child)
    parent = await register(db, settings, me, OTHER_ADULT_ID, Relation.parent)
    clear = await reveal(db, settings, me, mine)
    assert (clear.id_number, clear.phone) == (ADULT_ID, "13900001111")
    assert (await reveal(db, settings, me, child)).id_number == CHILD_ID
    with pytest.raises(Forbidden):
        await reveal(db, settings, me, parent)  # an adult family member without guardianship
    with pytest.raises(Forbidden):
        await reveal(db, settings, mother, mine)  # not bound at all
    assert [e["object_id"] for e in audit_log.of("patient.reveal")] == [mine, child]


async def test_claiming_to_be_someone_who_already_has_an_account_is_refused(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    from regio.care.patients.errors import PatientHasAccount

    owner, impostor = await make_person(), await make_person()
    await register(db, settings, owner, ADULT_ID)
    before = await row_counts(db)
    with pytest.raises(PatientHasAccount):
        await request(db, settings, impostor, ADULT_ID, Relation.self_)
    with pytest.raises(BindingExists):
        await request(db, settings, owner, ADULT_ID, Relation.self_)
    assert await row_counts(db) == before
