"""Registering patients: validation, storage without clear numbers, one record per person, races."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import select, text

from regio.care.patients import service
from regio.care.patients.errors import (
    InvalidIdNumber,
    InvalidName,
    InvalidPhone,
    PatientExists,
    SelfAlreadyRegistered,
)
from regio.care.patients.models import BindingStatus, Patient, PatientBinding, Relation
from regio.config import Settings
from regio.core.access import Role
from regio.core.db import Database
from regio.core.errors import Forbidden
from tests.care.patients.conftest import AuditTrail, MakePerson, Person, row_counts
from tests.care.patients.idgen import make_id_number, years_ago

ADULT_ID = make_id_number(area="330106", birth=date(1990, 1, 1), sequence="12", sex_digit=3)
PHONE = "13812345678"


async def register(
    db: Database,
    settings: Settings,
    person: Person,
    *,
    id_number: str = ADULT_ID,
    phone: str = PHONE,
    relation: Relation = Relation.self_,
    name: str = "张三",
):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await service.register_patient(
            session=session,
            settings=settings,
            principal=person.principal,
            name=name,
            id_number=id_number,
            phone=phone,
            relation=relation,
        )


async def test_registering_oneself_binds_the_account_as_that_person(
    db: Database, settings: Settings, make_person: MakePerson, audit_trail: AuditTrail
) -> None:
    me = await make_person()
    answer = await register(db, settings, me)
    assert answer.patient.name == "张三"
    assert answer.patient.id_number_masked == ADULT_ID[:6] + "********" + ADULT_ID[-4:]
    assert answer.patient.phone_masked == "138****5678"
    assert answer.patient.sex == "male"
    assert answer.patient.has_account is True
    assert answer.binding.relation is Relation.self_
    assert answer.binding.status is BindingStatus.active
    assert answer.binding.is_guardian is False
    async with db.session() as session:
        patient = await session.get(Patient, answer.patient.id)
        assert patient is not None
        assert patient.user_id == me.id
        assert patient.created_by_user_id == me.id
        assert patient.birth_date == date(1990, 1, 1)
    [entry] = await audit_trail.of("patient.register")
    assert entry.object_id == str(answer.patient.id) and entry.actor_user_id == me.id
    assert entry.details["id_number"] == ADULT_ID[:6] + "********" + ADULT_ID[-4:]
    assert ADULT_ID not in str(entry.details)


async def test_registering_an_adult_family_member_binds_only_once_they_consent(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    me = await make_person()
    answer = await register(db, settings, me, relation=Relation.parent)
    assert answer.binding.relation is Relation.parent
    assert answer.binding.status is BindingStatus.pending
    assert answer.binding.is_guardian is False
    assert answer.patient.has_account is False
    assert answer.consent is None  # no gateway given, so no code yet; one can be asked for later
    async with db.session() as session:
        assert await service.actable_patient_ids(session=session, principal=me.principal) == frozenset()


async def test_a_minor_registered_by_a_user_makes_that_user_guardian(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    me = await make_person()
    answer = await register(
        db, settings, me, id_number=make_id_number(birth=years_ago(10)), relation=Relation.child
    )
    assert answer.binding.is_guardian is True
    assert answer.patient.is_minor is True
    assert answer.patient.age == 10
    assert answer.patient.needs_guardian_presence is False


@pytest.mark.parametrize(
    ("years", "days_later", "flagged"), [(5, 0, True), (6, 1, True), (6, 0, False), (0, 0, True)]
)
async def test_a_child_under_six_is_flagged_for_guardian_presence(
    db: Database, settings: Settings, make_person: MakePerson, years: int, days_later: int, flagged: bool
) -> None:
    me = await make_person()
    born = years_ago(years, days_later=days_later)
    answer = await register(db, settings, me, id_number=make_id_number(birth=born), relation=Relation.child)
    assert answer.patient.needs_guardian_presence is flagged


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("id_number", "330106199001011230", InvalidIdNumber),
        ("id_number", "3301061990010112", InvalidIdNumber),
        ("phone", "12812345678", InvalidPhone),
        ("name", "   ", InvalidName),
        ("name", "名" * 51, InvalidName),
        ("name", "张\x00三", InvalidName),
    ],
)
async def test_bad_input_is_refused_and_writes_nothing(
    db: Database, settings: Settings, make_person: MakePerson, field: str, value: str, error: type[Exception]
) -> None:
    me = await make_person()
    before = await row_counts(db)
    with pytest.raises(error):
        await register(db, settings, me, **{field: value})  # type: ignore[arg-type]
    assert await row_counts(db) == before


async def test_a_person_is_registered_once_and_the_second_attempt_is_told_to_request_a_binding(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    first, second = await make_person(), await make_person()
    await register(db, settings, first, relation=Relation.parent)
    before = await row_counts(db)
    with pytest.raises(PatientExists) as caught:
        # the same number with a lowercase x or spaces is the same person
        await register(db, settings, second, id_number=f" {ADULT_ID.lower()} ", relation=Relation.spouse)
    assert caught.value.status == 409
    assert caught.value.details["next_step"] == "request_binding"
    assert caught.value.details["endpoint"] == "/api/care/patients/bindings"
    assert await row_counts(db) == before


async def test_an_account_registers_itself_only_once(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    me = await make_person()
    await register(db, settings, me)
    before = await row_counts(db)
    with pytest.raises(SelfAlreadyRegistered):
        await register(db, settings, me, id_number=make_id_number(sequence="99"))
    assert await row_counts(db) == before


async def test_two_concurrent_registrations_of_one_number_give_exactly_one_record(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    people = [await make_person() for _ in range(6)]
    results = await asyncio.gather(
        *(register(db, settings, p, relation=Relation.other) for p in people), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, PatientExists) for r in losers), losers
    assert await row_counts(db) == (1, 1)


async def test_one_account_racing_to_register_itself_twice_gets_one_self_record(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    me = await make_person()
    numbers = [make_id_number(sequence=f"{n:02d}") for n in range(4)]
    results = await asyncio.gather(
        *(register(db, settings, me, id_number=n) for n in numbers), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, SelfAlreadyRegistered) for r in results if isinstance(r, BaseException)), results
    assert await row_counts(db) == (1, 1)


@pytest.mark.parametrize("role", [Role.doctor, Role.pharmacist, Role.health_admin, Role.regulator])
async def test_roles_other_than_patient_cannot_register(
    db: Database, settings: Settings, make_person: MakePerson, role: Role
) -> None:
    staff = await make_person(role)
    with pytest.raises(Forbidden):
        await register(db, settings, staff)
    assert await row_counts(db) == (0, 0)


async def test_a_database_dump_shows_neither_the_clear_number_nor_the_phone(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    me = await make_person()
    minor_id = make_id_number(area="110105", birth=years_ago(4), sequence="77", sex_digit=4)
    await register(db, settings, me)
    await register(db, settings, me, id_number=minor_id, phone="+86 139 8765 4321", relation=Relation.child)
    secrets = [ADULT_ID, minor_id, PHONE, "13987654321"]
    dumped: list[str] = []
    async with db.session() as session:
        columns = [column.name for column in Patient.__table__.columns]
        for row in (await session.execute(text(f"SELECT {', '.join(columns)} FROM patients"))).all():
            for value in row:
                if isinstance(value, bytes | bytearray | memoryview):
                    raw = bytes(value)
                    dumped += [raw.hex(), raw.decode("latin-1"), raw.decode("utf-8", "replace")]
                else:
                    dumped.append(str(value))
        if db.engine.dialect.name == "postgresql":
            # PostgreSQL's own text rendering of whole rows, as pg_dump would write them
            dumped += [
                str(r) for r in (await session.execute(text("SELECT p::text FROM patients p"))).scalars()
            ]
    dump = "\n".join(dumped)
    assert len(dumped) >= 2 * len(columns)
    for secret in secrets:
        assert secret not in dump
        assert secret.encode().hex() not in dump
    # nor the masked forms, which with the stored birth date would give most of the number back
    assert "********" not in dump and "****" not in dump


async def test_stored_values_differ_even_for_equal_phones(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    me = await make_person()
    await register(db, settings, me)
    await register(db, settings, me, id_number=make_id_number(sequence="55"), relation=Relation.spouse)
    async with db.session() as session:
        rows = (await session.execute(select(Patient))).scalars().all()
    assert rows[0].phone_hash == rows[1].phone_hash  # family members may share a phone
    assert rows[0].phone_ciphertext != rows[1].phone_ciphertext
    assert rows[0].id_number_hash != rows[1].id_number_hash


async def test_an_open_binding_pair_is_unique_in_the_database_itself(
    db: Database, settings: Settings, make_person: MakePerson
) -> None:
    """The partial unique index, not Python, refuses a second open binding of one user × patient."""
    from sqlalchemy.exc import IntegrityError

    from regio.core.db import utcnow

    me = await make_person()
    answer = await register(db, settings, me, relation=Relation.parent)
    async with db.session() as session:
        session.add(
            PatientBinding(
                user_id=me.id,
                patient_id=answer.patient.id,
                relation=Relation.parent,
                is_guardian=False,
                status=BindingStatus.pending,
                requested_by_user_id=me.id,
                requested_at=utcnow(),
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()
