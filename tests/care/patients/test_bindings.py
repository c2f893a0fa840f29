"""Binding family members (就诊人): consent, guardians, history, races, acting for and reveal."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from regio.care.patients import service
from regio.care.patients.errors import (
    BindingAlreadyEnded,
    BindingExists,
    BindingNotFound,
    BindingNotPending,
    ClaimRequired,
    InvalidIdNumber,
    NotBoundToPatient,
    SelfBindingPermanent,
)
from regio.care.patients.models import BindingStatus, EndReason, Relation
from regio.config import Settings
from regio.core.access import Principal, Role
from regio.core.db import Database
from regio.core.errors import Forbidden
from regio.core.sms import MemorySmsGateway
from tests.care.patients.conftest import AuditTrail, MakePerson, Person, grant_for, row_counts
from tests.care.patients.flows import (
    PHONE,
    accept,
    actable,
    binding_of,
    bindings_of,
    claim,
    confirm,
    decline,
    register,
    register_answer,
    request,
    requests_of,
    reveal,
    unbind,
    withdraw,
)
from tests.care.patients.idgen import make_id_number, years_ago

ADULT_ID = make_id_number(area="330106", birth=date(1985, 5, 20), sequence="21", sex_digit=2)
OTHER_ADULT_ID = make_id_number(area="330102", birth=date(1960, 3, 3), sequence="31", sex_digit=1)
CHILD_ID = make_id_number(area="330106", birth=years_ago(4), sequence="41", sex_digit=1)
TEEN_ID = make_id_number(area="330106", birth=years_ago(15), sequence="51", sex_digit=2)


async def test_binding_an_adult_with_an_account_waits_for_their_consent(
    db: Database, settings: Settings, make_person: MakePerson, audit_trail: AuditTrail
) -> None:
    mother, son = await make_person(), await make_person()
    mother_patient = await register(db, settings, mother, ADULT_ID)
    before = await row_counts(db)
    recorded = await request(db, settings, son, ADULT_ID, Relation.parent)
    assert recorded.status == "recorded"
    assert await row_counts(db) == (before[0], before[1] + 1)  # never a second patient record
    assert mother_patient not in await actable(db, son)
    pending = await binding_of(db, son, mother_patient)
    assert pending.status is BindingStatus.pending

    accepted = await accept(db, mother, pending.id)
    assert accepted.status is BindingStatus.active
    assert accepted.accepted_by_user_id == mother.id
    assert mother_patient in await actable(db, son)
    assert {"patient_binding.request", "patient_binding.accept"} <= set(await audit_trail.actions())


async def test_the_requester_cannot_accept_their_own_request(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son = await make_person(), await make_person()
    patient_id = await register(db, settings, mother, ADULT_ID)
    await request(db, settings, son, ADULT_ID, Relation.parent)
    with pytest.raises(Forbidden):
        await accept(db, son, (await binding_of(db, son, patient_id)).id)


async def test_a_stranger_cannot_see_or_answer_someone_elses_request(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son, stranger = await make_person(), await make_person(), await make_person()
    patient_id = await register(db, settings, mother, ADULT_ID)
    await request(db, settings, son, ADULT_ID, Relation.parent)
    pending = await binding_of(db, son, patient_id)
    with pytest.raises(BindingNotFound):
        await accept(db, stranger, pending.id)
    with pytest.raises(BindingNotFound):
        await unbind(db, stranger, pending.id)


async def test_an_adult_registered_by_family_is_bound_only_once_they_hand_over_the_code(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway, audit_trail: AuditTrail
) -> None:
    son = await make_person()
    answer = await register_answer(
        db, settings, son, OTHER_ADULT_ID, Relation.parent, phone="13700002222", sms=sms
    )
    assert answer.binding.status is BindingStatus.pending
    assert answer.consent is not None and answer.consent.phone_masked == "137****2222"
    assert answer.patient.id not in await actable(db, son)
    [message] = sms.sent
    assert message.phone == "13700002222" and "父母" in message.text  # the person learns who asks and why
    [outgoing] = (await requests_of(db, son)).outgoing
    assert outgoing.relation is Relation.parent

    code = sms.last_code("13700002222")
    assert code is not None
    confirmed = await confirm(db, settings, son, answer.consent.claim_id, code)
    assert confirmed.binding.status is BindingStatus.active
    assert confirmed.binding.accepted_by_user_id is None  # consent came with the code, not from an account
    assert answer.patient.id in await actable(db, son)
    assert (await requests_of(db, son)).outgoing == []
    assert "patient_binding.accept_by_code" in await audit_trail.actions()


async def test_without_the_code_an_adults_registrar_waits_for_them_to_claim_and_accept(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    daughter, father, nephew = await make_person(), await make_person(), await make_person()
    patient_id = await register(db, settings, daughter, OTHER_ADULT_ID, Relation.parent, sms=sms)
    await request(db, settings, nephew, OTHER_ADULT_ID, Relation.other)
    daughters = await binding_of(db, daughter, patient_id)
    nephews = await binding_of(db, nephew, patient_id)
    with pytest.raises(BindingNotFound):
        await accept(db, daughter, nephews.id)  # a registrar does not speak for an adult

    started = await claim(db, settings, father, sms, OTHER_ADULT_ID)
    code = sms.last_code(PHONE)
    assert code is not None
    await confirm(db, settings, father, started.claim_id, code)
    assert (await reveal(db, settings, father, patient_id)).id_number == OTHER_ADULT_ID
    # now the father answers both requests
    incoming = {item.binding.id for item in (await requests_of(db, father)).incoming}
    assert incoming == {daughters.id, nephews.id}
    await accept(db, father, daughters.id)
    await decline(db, father, nephews.id)
    assert patient_id in await actable(db, daughter)
    assert patient_id not in await actable(db, nephew)
    ended = await unbind(db, father, daughters.id)  # and may take his daughter's access away again
    assert ended.status is BindingStatus.ended and ended.ended_by_user_id == father.id


async def test_nobody_can_request_to_be_someone_it_takes_the_code(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    daughter, impostor = await make_person(), await make_person()
    await register(db, settings, daughter, OTHER_ADULT_ID, Relation.parent)
    before = await row_counts(db)
    with pytest.raises(ClaimRequired):
        await request(db, settings, impostor, OTHER_ADULT_ID, Relation.self_)
    assert await row_counts(db) == before


async def test_a_minors_guardian_answers_for_the_minor(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, father, stranger = await make_person(), await make_person(), await make_person()
    child_id = await register(db, settings, mother, CHILD_ID, Relation.child)
    await request(db, settings, father, CHILD_ID, Relation.child)
    pending = await binding_of(db, father, child_id)
    assert pending.is_guardian is True  # a parent binding a minor will manage the record too
    with pytest.raises(BindingNotFound):
        await accept(db, stranger, pending.id)
    await accept(db, mother, pending.id)
    assert child_id in await actable(db, father)
    assert (await reveal(db, settings, father, child_id)).id_number == CHILD_ID


async def test_a_teenager_claims_with_the_code_to_the_guardians_phone_and_cannot_remove_the_guardian(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    mother, teen, aunt = await make_person(), await make_person(), await make_person()
    teen_id = await register(db, settings, mother, TEEN_ID, Relation.child, phone="13500003333")
    started = await claim(db, settings, teen, sms, TEEN_ID, phone="13500003333")
    code = sms.last_code("13500003333")  # the mother's phone: her handing it over is her consent
    assert code is not None
    await confirm(db, settings, teen, started.claim_id, code)
    await request(db, settings, aunt, TEEN_ID, Relation.other)
    aunts = await binding_of(db, aunt, teen_id)
    await accept(db, mother, aunts.id)  # guardians decide for a minor
    mothers = await binding_of(db, mother, teen_id)
    with pytest.raises(Forbidden):
        await unbind(db, teen, mothers.id)
    await unbind(db, teen, aunts.id)
    assert teen_id not in await actable(db, aunt)


async def test_declining_ends_the_request_and_keeps_it_as_history(
    db: Database, settings: Settings, make_person: MakePerson, audit_trail: AuditTrail
) -> None:
    mother, son = await make_person(), await make_person()
    patient_id = await register(db, settings, mother, ADULT_ID)
    await request(db, settings, son, ADULT_ID, Relation.parent)
    pending = await binding_of(db, son, patient_id)
    declined = await decline(db, mother, pending.id)
    assert declined.status is BindingStatus.ended
    assert declined.end_reason is EndReason.declined
    with pytest.raises(BindingNotPending):
        await accept(db, mother, pending.id)
    # a new request may be made after a refusal; the old row stays
    await request(db, settings, son, ADULT_ID, Relation.parent)
    assert len(await bindings_of(db, son)) == 2
    assert "patient_binding.decline" in await audit_trail.actions()


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


async def test_concurrent_requests_for_an_unregistered_number_record_exactly_one(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    son = await make_person()
    results = await asyncio.gather(
        *(request(db, settings, son, ADULT_ID, Relation.parent) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, BindingExists) for r in results if isinstance(r, BaseException)), results
    assert len((await requests_of(db, son)).outgoing) == 1


async def test_an_accept_racing_a_decline_has_exactly_one_winner(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son = await make_person(), await make_person()
    patient_id = await register(db, settings, mother, ADULT_ID)
    await request(db, settings, son, ADULT_ID, Relation.parent)
    pending = await binding_of(db, son, patient_id)
    results = await asyncio.gather(
        accept(db, mother, pending.id),
        decline(db, mother, pending.id),
        accept(db, mother, pending.id),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert all(isinstance(r, BindingNotPending) for r in results if isinstance(r, BaseException)), results
    assert (patient_id in await actable(db, son)) == (winners[0].status is BindingStatus.active)


async def test_a_request_looks_the_same_whether_or_not_the_number_is_registered(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son = await make_person(), await make_person()
    await register(db, settings, mother, ADULT_ID)
    known = await request(db, settings, son, ADULT_ID, Relation.parent)
    unknown = await request(db, settings, son, OTHER_ADULT_ID, Relation.parent)
    assert known.model_dump().keys() == unknown.model_dump().keys()
    assert (known.status, known.message_en) == (unknown.status, unknown.message_en)
    outgoing = (await requests_of(db, son)).outgoing
    assert [item.request_id for item in outgoing] == [known.request_id, unknown.request_id]
    assert [set(item.model_dump()) for item in outgoing] == [{"request_id", "relation", "requested_at"}] * 2


async def test_a_request_for_an_unregistered_number_waits_and_becomes_pending_on_registration(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    son, mother = await make_person(), await make_person()
    await request(db, settings, son, ADULT_ID, Relation.parent)
    assert await row_counts(db) == (0, 0)
    patient_id = await register(db, settings, mother, ADULT_ID)
    [incoming] = (await requests_of(db, mother)).incoming
    assert incoming.binding.user_id == son.id and incoming.binding.relation is Relation.parent
    await accept(db, mother, incoming.binding.id)
    assert patient_id in await actable(db, son)


async def test_a_request_racing_the_registration_of_its_number_is_never_lost(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother = await make_person()
    relatives = [await make_person() for _ in range(6)]
    results = await asyncio.gather(
        register(db, settings, mother, ADULT_ID),
        *(request(db, settings, relative, ADULT_ID, Relation.other) for relative in relatives),
    )
    patient_id = results[0]
    incoming = (await requests_of(db, mother)).incoming
    assert sorted(item.binding.user_id for item in incoming) == sorted(r.id for r in relatives)
    assert all(item.binding.patient_id == patient_id for item in incoming)


async def test_a_bad_number_is_invalid_and_writes_nothing(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    son = await make_person()
    bad = ADULT_ID[:-1] + ("0" if ADULT_ID[-1] != "0" else "1")
    with pytest.raises(InvalidIdNumber):
        await request(db, settings, son, bad, Relation.parent)
    assert await row_counts(db) == (0, 0)
    assert (await requests_of(db, son)).outgoing == []


async def test_unbinding_ends_the_binding_but_keeps_the_row(
    db: Database, settings: Settings, make_person: MakePerson, audit_trail: AuditTrail
) -> None:
    me = await make_person()
    patient_id = await register(db, settings, me, CHILD_ID, Relation.child)
    [binding] = await bindings_of(db, me)
    ended = await unbind(db, me, binding.id)
    assert ended.status is BindingStatus.ended and ended.end_reason is EndReason.unbound
    assert patient_id not in await actable(db, me)
    assert await row_counts(db) == (1, 1)
    with pytest.raises(BindingAlreadyEnded):
        await unbind(db, me, binding.id)
    with pytest.raises(NotBoundToPatient):
        async with db.session() as session:
            await service.require_may_act_for(session=session, principal=me.principal, patient_id=patient_id)
    [entry] = await audit_trail.of("patient_binding.end")
    assert entry.object_id == str(patient_id) and entry.actor_user_id == me.id


async def test_withdrawing_a_pending_request(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    mother, son = await make_person(), await make_person()
    patient_id = await register(db, settings, mother, ADULT_ID)
    recorded = await request(db, settings, son, ADULT_ID, Relation.parent)
    await withdraw(db, son, recorded.request_id)
    withdrawn = await binding_of(db, son, patient_id)
    assert withdrawn.end_reason is EndReason.withdrawn
    with pytest.raises(BindingNotPending):
        await accept(db, mother, withdrawn.id)
    with pytest.raises(BindingNotPending):
        await withdraw(db, son, recorded.request_id)
    assert (await requests_of(db, son)).outgoing == []


async def test_ones_own_record_cannot_be_unbound(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    me = await make_person()
    await register(db, settings, me, ADULT_ID)
    [binding] = await bindings_of(db, me)
    with pytest.raises(SelfBindingPermanent):
        await unbind(db, me, binding.id)


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
    db: Database, settings: Settings, make_person: MakePerson, audit_trail: AuditTrail
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
    [listed] = await audit_trail.of("patient.list")
    assert listed.details["patient_ids"] == [mine, child] and listed.actor_user_id == me.id
    [read] = await audit_trail.of("patient.read")
    assert read.object_id == str(child)


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
    db: Database, settings: Settings, make_person: MakePerson, audit_trail: AuditTrail, sms: MemorySmsGateway
) -> None:
    me, mother = await make_person(), await make_person()
    mine = await register(db, settings, me, ADULT_ID)
    child = await register(db, settings, me, CHILD_ID, Relation.child)
    parent = await register_answer(
        db, settings, me, OTHER_ADULT_ID, Relation.parent, phone="13700004444", sms=sms
    )
    code = sms.last_code("13700004444")
    assert parent.consent is not None and code is not None
    await confirm(db, settings, me, parent.consent.claim_id, code)
    clear = await reveal(db, settings, me, mine)
    assert (clear.id_number, clear.phone) == (ADULT_ID, PHONE)
    assert (await reveal(db, settings, me, child)).id_number == CHILD_ID
    with pytest.raises(Forbidden):
        await reveal(db, settings, me, parent.patient.id)  # an adult family member without guardianship
    with pytest.raises(Forbidden):
        await reveal(db, settings, mother, mine)  # not bound at all
    assert [e.object_id for e in await audit_trail.of("patient.reveal")] == [str(mine), str(child)]
