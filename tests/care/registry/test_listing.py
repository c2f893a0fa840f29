"""The portal lists approved, licensed hospitals only, decided at query time, and finds them by filters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from regio.care.registry import errors, policies, service
from regio.care.registry.schemas import HospitalPatch
from regio.core.access import ANONYMOUS
from regio.core.db import Database
from regio.core.errors import Forbidden

from .helpers import HANGZHOU, NINGBO, REGULATOR, WENZHOU, health_admin, hospital_admin, make_hospital, today


async def _listed_ids(db: Database, **filters: object) -> list[int]:
    async with db.session() as session:
        page = await service.search_hospitals(session=session, principal=ANONYMOUS, page_size=50, **filters)  # type: ignore[arg-type]
    return sorted(item.id for item in page.items)


async def test_suspending_a_hospital_takes_it_off_the_portal_at_once(db: Database) -> None:
    hospital_id = await make_hospital(db)
    assert await _listed_ids(db) == [hospital_id]
    async with db.session() as session:
        await service.update_hospital(
            session=session,
            principal=health_admin(),
            hospital_id=hospital_id,
            changes=HospitalPatch(status="suspended"),
        )
    assert await _listed_ids(db) == []
    async with db.session() as session:
        with pytest.raises(errors.HospitalNotFound):
            await service.get_hospital(session=session, principal=ANONYMOUS, hospital_id=hospital_id)


async def test_a_hospital_whose_licence_ended_yesterday_is_not_listed_but_one_ending_today_is(
    db: Database,
) -> None:
    ends_today = await make_hospital(db, licence_valid_to=today())
    await make_hospital(
        db, licence_valid_to=today() - timedelta(days=1), licence_valid_from=today() - timedelta(days=900)
    )
    await make_hospital(db, licence_valid_from=today() + timedelta(days=1))
    assert await _listed_ids(db) == [ends_today]


async def test_tomorrow_the_same_query_hides_a_licence_that_ends_today(db: Database) -> None:
    ends_today = await make_hospital(db, licence_valid_to=today())
    assert await _listed_ids(db, on=today()) == [ends_today]
    assert await _listed_ids(db, on=today() + timedelta(days=1)) == []


async def test_the_sql_listing_rule_agrees_with_the_pure_policy(db: Database) -> None:
    d = today()
    cases = [
        ("approved", d - timedelta(days=10), d + timedelta(days=10)),
        ("approved", d, d),
        ("approved", d + timedelta(days=1), d + timedelta(days=5)),
        ("approved", d - timedelta(days=5), d - timedelta(days=1)),
        ("suspended", d - timedelta(days=10), d + timedelta(days=10)),
        ("revoked", d - timedelta(days=10), d + timedelta(days=10)),
    ]
    expected = []
    for status, valid_from, valid_to in cases:
        hospital_id = await make_hospital(
            db, status=status, licence_valid_from=valid_from, licence_valid_to=valid_to
        )
        if policies.is_listed(
            status=status, licence_valid_from=valid_from, licence_valid_to=valid_to, today=d
        ):
            expected.append(hospital_id)
    assert await _listed_ids(db) == sorted(expected)
    assert len(expected) == 2


async def test_search_by_city_department_and_name(db: Database) -> None:
    hz_kids = await make_hospital(
        db, name="杭州儿童医院", city_adcode=HANGZHOU, department_codes=["pediatrics"]
    )
    hz_heart = await make_hospital(
        db,
        name="杭州心脏病医院",
        name_en="Hangzhou Heart Hospital",
        city_adcode=HANGZHOU,
        department_codes=["cardiology"],
    )
    nb_kids = await make_hospital(
        db, name="宁波妇女儿童医院", city_adcode=NINGBO, department_codes=["pediatrics", "obstetrics"]
    )
    assert await _listed_ids(db, city=HANGZHOU) == sorted([hz_kids, hz_heart])
    assert await _listed_ids(db, department="pediatrics") == sorted([hz_kids, nb_kids])
    assert await _listed_ids(db, department="儿科") == sorted([hz_kids, nb_kids])  # by Chinese name too
    assert await _listed_ids(db, city=NINGBO, department="pediatrics") == [nb_kids]
    assert await _listed_ids(db, q="儿童") == sorted([hz_kids, nb_kids])
    assert await _listed_ids(db, q="heart") == [hz_heart]  # English names, case-blind
    assert await _listed_ids(db, q="儿童", city=WENZHOU) == []


async def test_search_text_with_like_wildcards_matches_literally(db: Database) -> None:
    await make_hospital(db, name="普通医院")
    percent = await make_hospital(db, name="百分之百%医院")
    assert await _listed_ids(db, q="%") == [percent]
    assert await _listed_ids(db, q="_") == []


async def test_results_carry_their_departments_and_are_paged(db: Database) -> None:
    for _ in range(5):
        await make_hospital(db, department_codes=["respiratory", "pediatrics"])
    async with db.session() as session:
        first = await service.search_hospitals(session=session, principal=ANONYMOUS, page=1, page_size=2)
        last = await service.search_hospitals(session=session, principal=ANONYMOUS, page=3, page_size=2)
    assert first.total == 5 and len(first.items) == 2 and len(last.items) == 1
    assert {d.code for d in first.items[0].departments} == {"respiratory", "pediatrics"}
    assert first.items[0].department_count == 2
    assert not {i.id for i in first.items} & {i.id for i in last.items}


async def test_an_unknown_city_or_department_filter_is_refused_with_its_code(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(errors.InvalidAdcode):
            await service.search_hospitals(session=session, principal=ANONYMOUS, city="999999")
        with pytest.raises(errors.UnknownDepartment):
            await service.search_hospitals(session=session, principal=ANONYMOUS, department="no-such")


async def test_unlisted_hospitals_show_only_to_those_who_may_see_them(db: Database) -> None:
    listed = await make_hospital(db)
    suspended = await make_hospital(db, status="suspended")
    jiangsu = await make_hospital(db, status="suspended", city_adcode="320100")

    async def ids(principal: object) -> list[int]:
        async with db.session() as session:
            page = await service.search_hospitals(session=session, principal=principal, include_unlisted=True)  # type: ignore[arg-type]
        return sorted(item.id for item in page.items)

    assert await ids(REGULATOR) == sorted([listed, suspended, jiangsu])
    assert await ids(health_admin("330000")) == sorted([listed, suspended])
    assert await ids(hospital_admin(suspended)) == sorted([listed, suspended])
    with pytest.raises(Forbidden):
        await ids(ANONYMOUS)
    async with db.session() as session:
        seen = await service.get_hospital(
            session=session, principal=hospital_admin(suspended), hospital_id=suspended
        )
        assert seen.listed is False
        with pytest.raises(errors.HospitalNotFound):
            await service.get_hospital(
                session=session, principal=hospital_admin(suspended), hospital_id=jiangsu
            )
