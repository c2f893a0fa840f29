"""Admin writes: duplicates decided by the database, 412 on stale versions, no partial writes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from regio.care.registry import errors, service
from regio.care.registry.models import Doctor, Hospital, HospitalDepartment, PracticeSite
from regio.care.registry.schemas import DepartmentsIn, HospitalPatch, PharmacistIn, PracticeSiteIn
from regio.core.access import ANONYMOUS
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.errors import DomainError, Forbidden

from .helpers import (
    PATIENT,
    REGULATOR,
    doctor_in,
    health_admin,
    hospital_admin,
    hospital_in,
    make_doctor,
    make_hospital,
    today,
    years_ago,
)


async def _count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_health_admin_registers_a_hospital_in_its_region_with_departments(db: Database) -> None:
    async with db.session() as session:
        created = await service.create_hospital(
            session=session, principal=health_admin(), data=hospital_in(licence_no=" ph-0001 ")
        )
    assert created.licence_no == "PH-0001"  # trimmed and upper-cased, so re-imports match it
    assert created.region_adcode == "330000" and created.city_name_zh == "杭州市"
    assert created.listed and created.version == 1 and created.department_count == 3


async def test_a_health_admin_may_not_register_a_hospital_in_another_province(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.create_hospital(
                session=session, principal=health_admin("320000"), data=hospital_in()
            )
    assert await _count(db, Hospital) == 0


@pytest.mark.parametrize("who", [PATIENT, REGULATOR, ANONYMOUS], ids=["patient", "regulator", "visitor"])
async def test_others_may_not_register_hospitals(db: Database, who: object) -> None:
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.create_hospital(session=session, principal=who, data=hospital_in())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"city_adcode": "331200"}, "invalid_adcode"),
        (
            {"licence_valid_from": today(), "licence_valid_to": today() - timedelta(days=1)},
            "invalid_licence_period",
        ),
        ({"level": "四级甲等"}, "invalid_level"),
        ({"status": "closed"}, "invalid_status"),
        ({"licence_no": "a b"}, "invalid_licence_no"),
        ({"name": "  "}, "invalid_name"),
        ({"department_codes": ["respiratory", "星际医学科"]}, "unknown_department"),
    ],
)
async def test_bad_hospital_input_is_refused_with_a_stable_code_and_writes_nothing(
    db: Database, overrides: dict[str, object], code: str
) -> None:
    async with db.session() as session:
        with pytest.raises(DomainError) as caught:
            await service.create_hospital(
                session=session, principal=health_admin(), data=hospital_in(**overrides)
            )
    assert caught.value.code == code
    assert caught.value.status == 422
    assert await _count(db, Hospital) == 0 and await _count(db, HospitalDepartment) == 0


async def test_two_admins_registering_one_licence_at_once_get_one_hospital_and_one_conflict(
    db: Database,
) -> None:
    async def register() -> object:
        async with db.sessionmaker() as session:
            return await service.create_hospital(
                session=session, principal=health_admin(), data=hospital_in(licence_no="RACE-0001")
            )

    results = await asyncio.gather(*(register() for _ in range(6)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, errors.HospitalExists) for r in results if isinstance(r, BaseException))
    assert await _count(db, Hospital) == 1


async def test_a_stale_version_is_refused_with_412_and_changes_nothing(db: Database) -> None:
    hospital_id = await make_hospital(db)
    async with db.session() as session:
        changed = await service.update_hospital(
            session=session,
            principal=health_admin(),
            hospital_id=hospital_id,
            changes=HospitalPatch(address="新地址"),
            expected_version=1,
        )
    assert changed.version == 2
    async with db.session() as session:
        with pytest.raises(errors.StaleVersion) as caught:
            await service.update_hospital(
                session=session,
                principal=health_admin(),
                hospital_id=hospital_id,
                changes=HospitalPatch(status="suspended"),
                expected_version=1,
            )
    assert caught.value.status == 412 and caught.value.details["current"] == 2
    async with db.session() as session:
        assert (
            await service.get_hospital(session=session, principal=ANONYMOUS, hospital_id=hospital_id)
        ).listed


async def test_concurrent_changes_from_the_same_version_let_exactly_one_through(db: Database) -> None:
    hospital_id = await make_hospital(db)

    async def change(n: int) -> object:
        async with db.sessionmaker() as session:
            return await service.update_hospital(
                session=session,
                principal=health_admin(),
                hospital_id=hospital_id,
                changes=HospitalPatch(address=f"地址{n}"),
                expected_version=1,
            )

    results = await asyncio.gather(*(change(n) for n in range(5)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, errors.StaleVersion) for r in results if isinstance(r, BaseException))
    async with db.session() as session:
        hospital = await service.get_hospital(session=session, principal=ANONYMOUS, hospital_id=hospital_id)
    assert hospital.version == 2


async def test_a_revoked_hospital_cannot_be_approved_again(db: Database) -> None:
    hospital_id = await make_hospital(db)
    async with db.session() as session:
        await service.update_hospital(
            session=session,
            principal=health_admin(),
            hospital_id=hospital_id,
            changes=HospitalPatch(status="revoked"),
        )
    async with db.session() as session:
        with pytest.raises(errors.InvalidStatusTransition):
            await service.update_hospital(
                session=session,
                principal=health_admin(),
                hospital_id=hospital_id,
                changes=HospitalPatch(status="approved"),
            )


async def test_a_renewal_that_would_end_before_it_starts_is_refused(db: Database) -> None:
    hospital_id = await make_hospital(db, licence_valid_from=today() - timedelta(days=10))
    async with db.session() as session:
        with pytest.raises(errors.InvalidLicencePeriod):
            await service.update_hospital(
                session=session,
                principal=health_admin(),
                hospital_id=hospital_id,
                changes=HospitalPatch(licence_valid_to=today() - timedelta(days=20)),
            )


async def test_a_hospital_admin_manages_its_own_departments_but_not_anothers(db: Database) -> None:
    own = await make_hospital(db, department_codes=["respiratory"])
    other = await make_hospital(db, department_codes=["respiratory"])
    async with db.session() as session:
        result = await service.add_hospital_departments(
            session=session,
            principal=hospital_admin(own),
            hospital_id=own,
            data=DepartmentsIn(department_codes=["儿科", "respiratory", "fever_clinic"]),
        )
    assert [d.code for d in result.departments] == ["respiratory", "pediatrics", "fever_clinic"]
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.add_hospital_departments(
                session=session,
                principal=hospital_admin(own),
                hospital_id=other,
                data=DepartmentsIn(department_codes=["pediatrics"]),
            )


async def test_a_hospital_admin_may_not_suspend_even_its_own_hospital(db: Database) -> None:
    own = await make_hospital(db)
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.update_hospital(
                session=session,
                principal=hospital_admin(own),
                hospital_id=own,
                changes=HospitalPatch(status="suspended"),
            )


async def test_a_doctor_is_registered_once_per_licence_number(db: Database) -> None:
    hospital_id = await make_hospital(db)
    await make_doctor(db, hospital_id, licence_no="D-123456")
    with pytest.raises(errors.DoctorExists):
        await make_doctor(db, hospital_id, licence_no="d-123456")
    assert await _count(db, Doctor) == 1 and await _count(db, PracticeSite) == 1


async def test_a_doctor_cannot_practise_in_a_department_the_hospital_does_not_offer(db: Database) -> None:
    hospital_id = await make_hospital(db, department_codes=["respiratory"])
    with pytest.raises(errors.DepartmentNotOffered):
        await make_doctor(db, hospital_id, department_codes=["respiratory", "cardiology"])
    assert await _count(db, Doctor) == 0


async def test_a_hospital_admin_registers_doctors_only_at_its_own_hospital(db: Database) -> None:
    own = await make_hospital(db)
    other = await make_hospital(db)
    async with db.session() as session:
        doctor = await service.create_doctor(
            session=session, principal=hospital_admin(own), data=doctor_in(own)
        )
    assert doctor.licence_masked is False  # its own admin sees the full number
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.create_doctor(session=session, principal=hospital_admin(own), data=doctor_in(other))
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.create_doctor(session=session, principal=health_admin(), data=doctor_in(own))


async def test_multi_site_practice_adds_each_site_once(db: Database) -> None:
    first = await make_hospital(db)
    second = await make_hospital(db)
    doctor_id = await make_doctor(db, first)
    async with db.session() as session:
        doctor = await service.add_practice_site(
            session=session,
            principal=hospital_admin(second),
            doctor_id=doctor_id,
            data=PracticeSiteIn(hospital_id=second, department_code="pediatrics"),
        )
    assert {(s.hospital_id, s.department_code) for s in doctor.sites} == {
        (first, "respiratory"),
        (second, "pediatrics"),
    }
    async with db.session() as session:
        with pytest.raises(errors.PracticeSiteExists):
            await service.add_practice_site(
                session=session,
                principal=hospital_admin(second),
                doctor_id=doctor_id,
                data=PracticeSiteIn(hospital_id=second, department_code="儿科"),
            )
    async with db.session() as session:
        doctors = await service.hospital_doctors(session=session, principal=ANONYMOUS, hospital_id=second)
    assert [d.id for d in doctors] == [doctor_id]
    assert [s.hospital_id for s in doctors[0].sites] == [
        second
    ]  # the page of one hospital shows its own site


async def test_the_three_year_rule_is_enforced_for_online_consultation(db: Database) -> None:
    hospital_id = await make_hospital(db)
    senior = await make_doctor(db, hospital_id, independent_practice_since=years_ago(3))
    junior = await make_doctor(db, hospital_id, independent_practice_since=years_ago(3, days=-1))
    unverified = await make_doctor(db, hospital_id, real_name_verified=False)
    async with db.session() as session:
        ok = await service.require_may_consult_online(session=session, doctor_id=senior)
        assert ok.may_consult_online and ok.years_of_practice == 3
        with pytest.raises(errors.DoctorNotEligibleOnline) as caught:
            await service.require_may_consult_online(session=session, doctor_id=junior)
        assert caught.value.details["reasons"] == ["too_few_years"]
        with pytest.raises(errors.DoctorNotEligibleOnline) as caught:
            await service.require_may_consult_online(session=session, doctor_id=unverified)
        assert caught.value.details["reasons"] == ["not_verified"]


async def test_a_practice_start_in_the_future_is_refused(db: Database) -> None:
    hospital_id = await make_hospital(db)
    with pytest.raises(errors.InvalidPracticeStart):
        await make_doctor(db, hospital_id, independent_practice_since=today() + timedelta(days=1))


async def test_licence_numbers_show_in_full_only_to_admins_of_the_doctors_hospitals(db: Database) -> None:
    own = await make_hospital(db)
    other = await make_hospital(db)
    doctor_id = await make_doctor(db, own, licence_no="110330106000123")

    async def shown(principal: object) -> str:
        async with db.session() as session:
            doctor = await service.get_doctor(session=session, principal=principal, doctor_id=doctor_id)  # type: ignore[arg-type]
        return doctor.licence_no

    assert await shown(ANONYMOUS) == "110*********123"
    assert await shown(PATIENT) == "110*********123"
    assert await shown(hospital_admin(other)) == "110*********123"
    assert await shown(hospital_admin(own)) == "110330106000123"
    assert await shown(health_admin()) == "110330106000123"
    assert await shown(health_admin("320000")) == "110*********123"
    assert await shown(REGULATOR) == "110330106000123"
    async with db.session() as session:
        page = await service.search_doctors(session=session, principal=REGULATOR)
    assert page.items[0].licence_masked  # search results never carry full numbers


async def test_pharmacists_belong_to_one_hospital_and_are_unique_by_licence(db: Database) -> None:
    own = await make_hospital(db)
    other = await make_hospital(db)
    async with db.session() as session:
        made = await service.create_pharmacist(
            session=session,
            principal=hospital_admin(own),
            data=PharmacistIn(real_name="钱药师", licence_no="P-0001", hospital_id=own),
        )
    assert made.hospital_id == own
    async with db.session() as session:
        with pytest.raises(errors.PharmacistExists):
            await service.create_pharmacist(
                session=session,
                principal=hospital_admin(own),
                data=PharmacistIn(real_name="钱药师", licence_no="p-0001", hospital_id=own),
            )
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.create_pharmacist(
                session=session,
                principal=hospital_admin(own),
                data=PharmacistIn(real_name="孙药师", licence_no="P-0002", hospital_id=other),
            )
    async with db.session() as session:
        listed = await service.hospital_pharmacists(session=session, principal=PATIENT, hospital_id=own)
    assert listed[0].licence_masked and listed[0].licence_no != "P-0001"


async def test_linking_a_user_that_does_not_exist_is_refused(db: Database) -> None:
    hospital_id = await make_hospital(db)
    doctor_id = await make_doctor(db, hospital_id)
    async with db.session() as session:
        with pytest.raises(errors.UnknownUser):
            await service.link_doctor_user(
                session=session, principal=service.SYSTEM, doctor_id=doctor_id, user_id=987654
            )


async def _audited(db: Database) -> list[tuple[str, str | None, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.object_id, AuditEntry.actor_username).order_by(AuditEntry.id)
        )
        return [(action, object_id, actor) for action, object_id, actor in rows]


async def test_writes_and_full_licence_reads_are_audited_but_masked_public_reads_are_not(
    db: Database,
) -> None:
    hospital_id = await make_hospital(db)
    doctor_id = await make_doctor(db, hospital_id)
    assert [a for a, _, _ in await _audited(db)] == ["hospital.create", "doctor.create"]
    async with db.session() as session:
        await service.hospital_doctors(session=session, principal=ANONYMOUS, hospital_id=hospital_id)
        await service.get_doctor(session=session, principal=PATIENT, doctor_id=doctor_id)
    assert len(await _audited(db)) == 2
    admin = hospital_admin(hospital_id)
    async with db.session() as session:
        await service.hospital_doctors(session=session, principal=admin, hospital_id=hospital_id)
    async with db.session() as session:
        await service.get_doctor(session=session, principal=admin, doctor_id=doctor_id)
    assert (await _audited(db))[2:] == [
        ("doctor.list", str(hospital_id), admin.username),
        ("doctor.read", str(doctor_id), admin.username),
    ]


# ---- which user account signs in as a doctor or pharmacist: the platform operator decides -------------


async def test_a_hospital_admin_cannot_link_a_user_account_to_staff(db: Database) -> None:
    from tests.factories import make_user

    own = await make_hospital(db)
    account = await make_user(db)
    admin = hospital_admin(own)
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.create_doctor(
                session=session, principal=admin, data=doctor_in(own, user_id=account.id)
            )
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.create_pharmacist(
                session=session,
                principal=admin,
                data=PharmacistIn(
                    real_name="钱药师", licence_no="P-7001", hospital_id=own, user_id=account.id
                ),
            )
    assert await _count(db, Doctor) == 0
    # without an account they may register their staff as before
    async with db.session() as session:
        made = await service.create_doctor(session=session, principal=admin, data=doctor_in(own))
        pharmacist = await service.create_pharmacist(
            session=session,
            principal=admin,
            data=PharmacistIn(real_name="钱药师", licence_no="P-7001", hospital_id=own),
        )
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.link_doctor_user(
                session=session, principal=admin, doctor_id=made.id, user_id=account.id
            )
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.link_pharmacist_user(
                session=session, principal=admin, pharmacist_id=pharmacist.id, user_id=account.id
            )
    async with db.session() as session:
        assert await session.scalar(select(Doctor.user_id).where(Doctor.id == made.id)) is None


async def test_an_admin_of_one_site_cannot_relink_a_multi_site_doctors_account(db: Database) -> None:
    from tests.factories import make_user

    first, second = await make_hospital(db), await make_hospital(db)
    doctor_id = await make_doctor(db, first)
    async with db.session() as session:
        await service.add_practice_site(
            session=session,
            principal=hospital_admin(second),
            doctor_id=doctor_id,
            data=PracticeSiteIn(hospital_id=second, department_code="respiratory"),
        )
    real, impostor = await make_user(db), await make_user(db)
    async with db.session() as session:
        await service.link_doctor_user(
            session=session, principal=service.SYSTEM, doctor_id=doctor_id, user_id=real.id
        )
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await service.link_doctor_user(
                session=session, principal=hospital_admin(second), doctor_id=doctor_id, user_id=impostor.id
            )
    async with db.session() as session:
        assert await session.scalar(select(Doctor.user_id).where(Doctor.id == doctor_id)) == real.id
        linked = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "doctor.link_user"))
        ).scalars()
        assert [entry.details["user_id"] for entry in linked] == [real.id]


async def test_the_api_refuses_a_hospital_admin_creating_a_doctor_with_an_account(
    db: Database, client, settings
) -> None:  # type: ignore[no-untyped-def]
    from regio.core.access import Role, RoleGrant, ScopeKind
    from tests.factories import make_user, token_headers

    own = await make_hospital(db)
    admin = await make_user(db, roles=[RoleGrant(Role.hospital_admin, ScopeKind.hospital, str(own))])
    account = await make_user(db)
    body = doctor_in(own, user_id=account.id).model_dump(mode="json")
    response = await client.post("/api/care/doctors", json=body, headers=token_headers(settings, admin))
    assert response.status_code == 403, response.text
    assert response.json()["error"]["details"]["action"] == "link_user"
    assert await _count(db, Doctor) == 0
