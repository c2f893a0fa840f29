"""Being someone is proved with a code to the phone on their record, never approved by another user.

The attack these tests were written against: user A registers a stranger X as "spouse"; account
B asks to be X ("self"); A, X's only binder, approves; B then reveals X's clear numbers and ends
other people's bindings to X, and the real X is locked out.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import text, update

from regio.care.patients.errors import (
    BindingNotFound,
    ClaimNotFound,
    ClaimOutdated,
    ClaimRequired,
    CodeExpired,
    InvalidCode,
    SelfAlreadyRegistered,
    TooManyCodeAttempts,
)
from regio.care.patients.models import (
    BindingStatus,
    ClaimPurpose,
    Patient,
    PatientBinding,
    PatientClaim,
    Relation,
)
from regio.config import Settings
from regio.core.db import Database, utcnow
from regio.core.errors import Forbidden
from regio.core.sms import MemorySmsGateway
from tests.care.patients.conftest import AuditTrail, MakePerson
from tests.care.patients.flows import (
    accept,
    actable,
    binding_of,
    bindings_of,
    claim,
    confirm,
    consent_code,
    decline,
    register,
    register_answer,
    request,
    requests_of,
    reveal,
    unbind,
    wrong,
)
from tests.care.patients.idgen import make_id_number, years_ago

X_ID = make_id_number(area="330102", birth=date(1979, 4, 1), sequence="81", sex_digit=2)
X_PHONE = "13811112222"  # the stranger's own phone, typed by whoever registered her
CHILD_ID = make_id_number(area="330102", birth=years_ago(5), sequence="82", sex_digit=1)


async def test_the_takeover_of_an_adults_record_fails(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    a, b, x = await make_person(), await make_person(), await make_person()
    patient_id = await register(db, settings, a, X_ID, Relation.spouse, phone=X_PHONE, sms=sms)
    assert patient_id not in await actable(db, a)  # A is not bound to X without X's consent

    # B cannot ask to be X, so A has nothing to approve
    with pytest.raises(ClaimRequired):
        await request(db, settings, b, X_ID, Relation.self_)
    assert (await requests_of(db, a)).incoming == []
    # B's claim sends a code to X's phone, never to B, and guessing it runs out after five tries
    started = await claim(db, settings, b, sms, X_ID, phone=X_PHONE)
    code = sms.last_code(X_PHONE)
    assert code is not None and all(m.phone == X_PHONE for m in sms.sent)
    for _ in range(5):
        with pytest.raises(InvalidCode):
            await confirm(db, settings, b, started.claim_id, wrong(code))
    with pytest.raises(TooManyCodeAttempts):
        await confirm(db, settings, b, started.claim_id, code)
    # so B is not X: no clear numbers, no power over X's bindings
    with pytest.raises(Forbidden):
        await reveal(db, settings, b, patient_id)
    with pytest.raises(BindingNotFound):
        await unbind(db, b, (await binding_of(db, a, patient_id)).id)
    async with db.session() as session:
        record = await session.get(Patient, patient_id)
        assert record is not None and record.user_id is None

    # the real X, who has the phone, claims her record and decides about A
    mine = await claim(db, settings, x, sms, X_ID, phone=X_PHONE)
    confirmed = await confirm(db, settings, x, mine.claim_id, sms.last_code(X_PHONE) or "")
    assert confirmed.binding.relation is Relation.self_ and confirmed.binding.user_id == x.id
    assert (await reveal(db, settings, x, patient_id)).id_number == X_ID
    [incoming] = (await requests_of(db, x)).incoming
    assert incoming.binding.user_id == a.id
    await unbind(db, x, incoming.binding.id)
    assert patient_id not in await actable(db, a)


async def test_a_pending_self_binding_can_be_approved_by_nobody(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    """Even a "self" request written before this rule (or by hand) gives A nothing to approve."""
    a, b = await make_person(), await make_person()
    registered = await register_answer(db, settings, a, X_ID, Relation.spouse, phone=X_PHONE, sms=sms)
    patient_id = registered.patient.id
    assert registered.consent is not None
    await confirm(db, settings, a, registered.consent.claim_id, sms.last_code(X_PHONE) or "")  # A is bound
    async with db.session() as session, session.begin():
        stale = PatientBinding(
            user_id=b.id,
            patient_id=patient_id,
            relation=Relation.self_,
            is_guardian=False,
            status=BindingStatus.pending,
            requested_by_user_id=b.id,
            requested_at=utcnow(),
        )
        session.add(stale)
    with pytest.raises(Forbidden):
        await accept(db, a, stale.id)
    assert (await requests_of(db, a)).incoming == []
    async with db.session() as session:
        record = await session.get(Patient, patient_id)
        assert record is not None and record.user_id is None


async def test_the_person_takes_back_a_record_someone_else_claimed_falsely(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway, audit_trail: AuditTrail
) -> None:
    a, b, x = await make_person(), await make_person(), await make_person()
    patient_id = await register(db, settings, a, X_ID, Relation.spouse, phone=X_PHONE)
    a_binding = await binding_of(db, a, patient_id)
    # the state the old approval path left behind: B is "the person", and made A's binding active
    async with db.session() as session, session.begin():
        await session.execute(update(Patient).where(Patient.id == patient_id).values(user_id=b.id))
        await session.execute(
            update(PatientBinding)
            .where(PatientBinding.id == a_binding.id)
            .values(status=BindingStatus.active, accepted_by_user_id=b.id, accepted_at=utcnow())
        )
        false_self = PatientBinding(
            user_id=b.id,
            patient_id=patient_id,
            relation=Relation.self_,
            is_guardian=False,
            status=BindingStatus.active,
            requested_by_user_id=b.id,
            requested_at=utcnow(),
            accepted_by_user_id=a.id,
            accepted_at=utcnow(),
        )
        session.add(false_self)
    assert (await reveal(db, settings, b, patient_id)).id_number == X_ID  # the harm being undone

    started = await claim(db, settings, x, sms, X_ID, phone=X_PHONE)
    taken = await confirm(db, settings, x, started.claim_id, sms.last_code(X_PHONE) or "")
    assert taken.purpose is ClaimPurpose.self_
    assert sorted(taken.ended_binding_ids) == sorted([false_self.id, a_binding.id])
    async with db.session() as session:
        record = await session.get(Patient, patient_id)
        assert record is not None and record.user_id == x.id
    [b_binding] = await bindings_of(db, b)
    assert b_binding.status is BindingStatus.ended and b_binding.ended_by_user_id == x.id
    assert patient_id not in await actable(db, b)
    assert patient_id not in await actable(db, a)  # B's consent was never X's
    with pytest.raises(Forbidden):
        await reveal(db, settings, b, patient_id)
    assert (await reveal(db, settings, x, patient_id)).id_number == X_ID
    [entry] = await audit_trail.of("patient.take_back")
    assert entry.actor_user_id == x.id and entry.object_id == str(patient_id)
    assert entry.details["displaced_user_id"] == b.id
    assert sorted(entry.details["ended_binding_ids"]) == sorted([false_self.id, a_binding.id])


async def test_a_claim_answers_alike_whether_or_not_the_details_match(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    a, prober = await make_person(), await make_person()
    await register(db, settings, a, X_ID, Relation.spouse, phone=X_PHONE)
    matched = await claim(db, settings, prober, sms, X_ID, phone=X_PHONE)
    wrong_phone = await claim(db, settings, prober, sms, X_ID, phone="13999998888")
    unregistered = await claim(db, settings, prober, sms, CHILD_ID, phone=X_PHONE)
    answers = [matched, wrong_phone, unregistered]
    assert [set(answer.model_dump()) for answer in answers] == [set(matched.model_dump())] * 3
    assert [answer.phone_masked for answer in answers] == ["138****2222", "139****8888", "138****2222"]
    assert matched.message_en.replace("138****2222", "") == wrong_phone.message_en.replace("139****8888", "")
    assert [message.phone for message in sms.sent] == [X_PHONE]  # only the matching claim sent anything
    # and a claim that matched nothing fails exactly like a wrong code, however it is guessed
    for answer in (wrong_phone, unregistered):
        with pytest.raises(InvalidCode):
            await confirm(db, settings, prober, answer.claim_id, sms.last_code(X_PHONE) or "")


async def test_a_code_is_stored_only_as_a_keyed_hash(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    a, x = await make_person(), await make_person()
    await register(db, settings, a, X_ID, Relation.spouse, phone=X_PHONE)
    await claim(db, settings, x, sms, X_ID, phone=X_PHONE)
    code = sms.last_code(X_PHONE)
    assert code is not None
    async with db.session() as session:
        rows = (await session.execute(text("SELECT * FROM patient_claims"))).all()
    dump = " ".join(str(value) for row in rows for value in row)
    assert code not in dump and X_PHONE not in dump


async def test_a_code_expires_after_ten_minutes(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    a, x = await make_person(), await make_person()
    await register(db, settings, a, X_ID, Relation.spouse, phone=X_PHONE)
    started = await claim(db, settings, x, sms, X_ID, phone=X_PHONE)
    assert started.expires_in_seconds == 600
    async with db.session() as session:
        stored = await session.get(PatientClaim, started.claim_id)
        assert stored is not None
        assert timedelta(minutes=9) < stored.expires_at - stored.created_at <= timedelta(minutes=10)
    async with db.session() as session, session.begin():
        await session.execute(
            update(PatientClaim)
            .where(PatientClaim.id == started.claim_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(CodeExpired):
        await confirm(db, settings, x, started.claim_id, sms.last_code(X_PHONE) or "")


async def test_a_code_is_for_the_account_it_was_sent_for(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    a, x, other = await make_person(), await make_person(), await make_person()
    await register(db, settings, a, X_ID, Relation.spouse, phone=X_PHONE)
    started = await claim(db, settings, x, sms, X_ID, phone=X_PHONE)
    with pytest.raises(ClaimNotFound):
        await confirm(db, settings, other, started.claim_id, sms.last_code(X_PHONE) or "")
    with pytest.raises(InvalidCode):
        await confirm(db, settings, x, started.claim_id, "12ab56")  # not even a code: no try spent
    confirmed = await confirm(db, settings, x, started.claim_id, sms.last_code(X_PHONE) or "")
    assert confirmed.binding.user_id == x.id


async def test_concurrent_confirmations_of_one_code_act_once(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    a, x = await make_person(), await make_person()
    patient_id = await register(db, settings, a, X_ID, Relation.spouse, phone=X_PHONE)
    started = await claim(db, settings, x, sms, X_ID, phone=X_PHONE)
    code = sms.last_code(X_PHONE) or ""
    results = await asyncio.gather(
        *(confirm(db, settings, x, started.claim_id, code) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1, results
    assert all(isinstance(r, CodeExpired) for r in results if isinstance(r, BaseException)), results
    selves = [b for b in await bindings_of(db, x) if b.patient_id == patient_id]
    assert [b.status for b in selves] == [BindingStatus.active]


async def test_two_accounts_holding_codes_for_one_record_cannot_both_become_the_person(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    a, first, second = await make_person(), await make_person(), await make_person()
    patient_id = await register(db, settings, a, X_ID, Relation.spouse, phone=X_PHONE)
    one = await claim(db, settings, first, sms, X_ID, phone=X_PHONE)
    code_one = sms.last_code(X_PHONE) or ""
    two = await claim(db, settings, second, sms, X_ID, phone=X_PHONE)
    code_two = sms.last_code(X_PHONE) or ""
    results = await asyncio.gather(
        confirm(db, settings, first, one.claim_id, code_one),
        confirm(db, settings, second, two.claim_id, code_two),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1, results
    assert all(isinstance(r, ClaimOutdated) for r in results if isinstance(r, BaseException)), results
    async with db.session() as session:
        record = await session.get(Patient, patient_id)
        assert record is not None and record.user_id in (first.id, second.id)


async def test_an_account_that_already_is_someone_cannot_claim_another_record(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    a, me = await make_person(), await make_person()
    await register(db, settings, a, X_ID, Relation.spouse, phone=X_PHONE)
    await register(db, settings, me, make_id_number(sequence="83"))
    with pytest.raises(SelfAlreadyRegistered):
        await claim(db, settings, me, sms, X_ID, phone=X_PHONE)
    assert sms.sent == []


async def test_consent_by_code_needs_the_phone_on_the_record(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    x, son = await make_person(), await make_person()
    patient_id = await register(db, settings, x, X_ID, phone=X_PHONE)
    recorded = await request(db, settings, son, X_ID, Relation.parent)
    guessed = await consent_code(db, settings, son, sms, recorded.request_id, phone="13999998888")
    assert sms.sent == [] and guessed.phone_masked == "139****8888"
    sent = await consent_code(db, settings, son, sms, recorded.request_id, phone=X_PHONE)
    [message] = sms.sent
    assert message.phone == X_PHONE and "父母" in message.text
    with pytest.raises(InvalidCode):
        await confirm(db, settings, son, guessed.claim_id, sms.last_code(X_PHONE) or "")
    done = await confirm(db, settings, son, sent.claim_id, sms.last_code(X_PHONE) or "")
    assert done.purpose is ClaimPurpose.consent and done.binding.status is BindingStatus.active
    assert patient_id in await actable(db, son)


async def test_a_minors_guardians_decide_so_no_consent_code_is_sent_for_a_child(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    mother, stranger = await make_person(), await make_person()
    child = await register_answer(db, settings, mother, CHILD_ID, Relation.child, phone=X_PHONE, sms=sms)
    assert child.binding.status is BindingStatus.active and child.consent is None
    recorded = await request(db, settings, stranger, CHILD_ID, Relation.other)
    await consent_code(db, settings, stranger, sms, recorded.request_id, phone=X_PHONE)
    assert sms.sent == []
    assert child.patient.id not in await actable(db, stranger)


async def test_a_consent_code_is_void_once_the_request_was_answered(
    db: Database, settings: Settings, make_person: MakePerson, sms: MemorySmsGateway
) -> None:
    x, son = await make_person(), await make_person()
    patient_id = await register(db, settings, x, X_ID, phone=X_PHONE)
    recorded = await request(db, settings, son, X_ID, Relation.parent)
    sent = await consent_code(db, settings, son, sms, recorded.request_id, phone=X_PHONE)
    await decline(db, x, (await binding_of(db, son, patient_id)).id)
    with pytest.raises(ClaimOutdated):
        await confirm(db, settings, son, sent.claim_id, sms.last_code(X_PHONE) or "")
    assert patient_id not in await actable(db, son)
