"""The demo registry: enough of Zhejiang to show every rule, and loading it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from regio.care.registry import demo, service
from regio.care.registry.models import Doctor, Hospital, HospitalDepartment, Pharmacist, PracticeSite
from regio.core.access import ANONYMOUS
from regio.core.db import Database


async def _counts(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {
            model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Hospital, HospitalDepartment, Doctor, PracticeSite, Pharmacist)
        }


async def _snapshot(db: Database) -> list[tuple[object, ...]]:
    async with db.session() as session:
        rows = await session.execute(
            select(Hospital.licence_no, Hospital.status, Hospital.version, Hospital.updated_at).order_by(
                Hospital.id
            )
        )
        return [tuple(row) for row in rows]


async def test_the_demo_region_has_what_the_issue_asks_for(db: Database) -> None:
    async with db.session() as session:
        registry = await demo.load_demo(session=session)
    assert registry.province_adcode == "330000"
    async with db.session() as session:
        page = await service.search_hospitals(session=session, principal=ANONYMOUS, page_size=50)
    listed = page.items
    assert len(listed) >= 12
    assert len({h.city_adcode for h in listed}) >= 6
    assert sorted(h.id for h in listed) == sorted(registry.hospital_ids)
    assert registry.first_hospital_id == registry.hospital_ids[0]
    assert registry.suspended_hospital_id not in registry.hospital_ids
    assert registry.expired_hospital_id not in registry.hospital_ids
    assert all(h.department_count >= 3 for h in listed)

    eligible, blocked, multi_site = 0, 0, 0
    async with db.session() as session:
        for hospital in listed:
            doctors = await service.hospital_doctors(
                session=session, principal=ANONYMOUS, hospital_id=hospital.id
            )
            assert 3 <= len(doctors) <= 7  # 3–6 of its own, plus a visiting multi-site doctor or so
            eligible += sum(d.may_consult_online for d in doctors)
            blocked += sum(not d.may_consult_online for d in doctors)
            assert registry.doctor_id_by_hospital[hospital.id] in {
                d.id for d in doctors if d.may_consult_online
            }
            assert hospital.id in registry.pharmacist_id_by_hospital
        for hospital_id in registry.hospital_ids:
            doctor = await service.get_doctor(
                session=session, principal=ANONYMOUS, doctor_id=registry.doctor_id_by_hospital[hospital_id]
            )
            multi_site += len({site.hospital_id for site in doctor.sites}) > 1
        page = await service.search_doctors(session=session, principal=ANONYMOUS, page_size=50)
    assert eligible > 0 and blocked >= 3  # the 3-year and real-name rules show on the portal
    assert multi_site >= 1
    assert all(d.licence_masked for d in page.items)


async def test_loading_the_demo_twice_changes_nothing(db: Database) -> None:
    async with db.session() as session:
        first = await demo.load_demo(session=session)
    counts, snapshot = await _counts(db), await _snapshot(db)
    async with db.session() as session:
        second = await demo.load_demo(session=session)
    assert second == first
    assert await _counts(db) == counts
    assert await _snapshot(db) == snapshot
