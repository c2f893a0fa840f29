"""The public portal pages: Chinese first, no JavaScript needed, unlisted hospitals gone at once."""

from __future__ import annotations

from datetime import timedelta

import httpx

from regio.care.registry import service
from regio.care.registry.schemas import HospitalPatch
from regio.core.db import Database

from .helpers import health_admin, make_doctor, make_hospital, today, years_ago

HTML = {"Accept": "text/html"}


async def test_the_portal_lists_listed_hospitals_as_cards_with_level_city_and_department_count(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_hospital(
        db, name="湖州市中心医院", city_adcode="330500", department_codes=["respiratory", "tcm"]
    )
    await make_hospital(db, name="已暂停的医院", status="suspended")
    await make_hospital(
        db,
        name="许可过期的医院",
        licence_valid_from=today() - timedelta(days=800),
        licence_valid_to=today() - timedelta(days=1),
    )
    page = await client.get("/portal", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert '<meta name="viewport"' in html and '<html lang="zh-CN">' in html
    assert "湖州市中心医院" in html and "三级甲等" in html and "湖州市" in html and "开设科室 2 个" in html
    assert "已暂停的医院" not in html and "许可过期的医院" not in html
    assert '<form class="searchbar" method="get" action="/portal"' in html  # works without JavaScript


async def test_a_suspension_removes_the_card_on_the_next_page_load(
    client: httpx.AsyncClient, db: Database
) -> None:
    hospital_id = await make_hospital(db, name="即将暂停的医院")
    assert "即将暂停的医院" in (await client.get("/portal")).text
    async with db.session() as session:
        await service.update_hospital(
            session=session,
            principal=health_admin(),
            hospital_id=hospital_id,
            changes=HospitalPatch(status="suspended"),
        )
    assert "即将暂停的医院" not in (await client.get("/portal")).text
    assert (await client.get(f"/portal/hospitals/{hospital_id}", headers=HTML)).status_code == 404


async def test_the_portal_filters_by_name_city_and_department(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_hospital(db, name="金华儿童医院", city_adcode="330700", department_codes=["pediatrics"])
    await make_hospital(db, name="金华眼科医院", city_adcode="330700", department_codes=["ophthalmology"])
    await make_hospital(db, name="台州儿童医院", city_adcode="331000", department_codes=["pediatrics"])
    html = (await client.get("/portal", params={"city": "330700", "department": "pediatrics"})).text
    assert "金华儿童医院" in html and "金华眼科医院" not in html and "台州儿童医院" not in html
    assert '<option value="330700" selected>' in html
    html = (await client.get("/portal", params={"q": "台州"})).text
    assert "台州儿童医院" in html and "金华儿童医院" not in html


async def test_an_empty_search_says_so_kindly_in_chinese_and_in_english(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_hospital(db)
    page = await client.get("/portal", params={"q": "不存在的医院"})
    assert page.status_code == 200 and "没有找到符合条件的互联网医院" in page.text
    english = await client.get(
        "/portal", params={"q": "nothing-like-this"}, headers={"Accept-Language": "en"}
    )
    assert "No internet hospital matches your search" in english.text


async def test_a_tampered_filter_gets_the_form_back_with_the_reason(client: httpx.AsyncClient) -> None:
    page = await client.get("/portal", params={"city": "123456"})
    assert page.status_code == 422
    assert "城市行政区划代码 123456 无效" in page.text and 'class="alert error"' in page.text


async def test_a_hospital_page_shows_departments_doctors_and_who_may_consult_online(
    client: httpx.AsyncClient, db: Database
) -> None:
    hospital_id = await make_hospital(
        db, name="丽水市中心医院", department_codes=["respiratory", "fever_clinic"]
    )
    await make_doctor(db, hospital_id, real_name="蒋资深", title="主任医师", licence_no="LICENCE-SECRET-1")
    await make_doctor(
        db, hospital_id, real_name="韩新手", title="住院医师", independent_practice_since=years_ago(1)
    )
    page = await client.get(f"/portal/hospitals/{hospital_id}", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert "丽水市中心医院" in html and "呼吸内科" in html and "发热门诊" in html and "24小时" in html
    senior, junior = html.index("蒋资深"), html.index("韩新手")
    assert html.index("可在线问诊", senior) < junior  # the badge beside the senior doctor
    assert "暂不可在线问诊" in html[junior:]
    assert "主任医师" in html and "住院医师" in html
    assert "LICENCE-SECRET-1" not in html
    assert "该科室暂无医生在线" in html  # the fever clinic has nobody yet


async def test_the_hospital_page_speaks_english_when_asked(client: httpx.AsyncClient, db: Database) -> None:
    hospital_id = await make_hospital(db, name_en="Lishui Test Hospital")
    await make_doctor(db, hospital_id)
    html = (await client.get(f"/portal/hospitals/{hospital_id}", params={"lang": "en"})).text
    assert "Lishui Test Hospital" in html and "Respiratory medicine" in html and "Consults online" in html


async def test_the_portal_pages_through_many_results_keeping_the_filters(
    client: httpx.AsyncClient, db: Database
) -> None:
    for n in range(13):
        await make_hospital(db, name=f"分页医院{n:02d}", city_adcode="330100")
    first = (await client.get("/portal", params={"city": "330100"})).text
    assert "共找到 13 家医院" in first and "1 / 2" in first
    assert 'href="?q=&amp;city=330100&amp;department=&amp;page=2"' in first
    second = (await client.get("/portal", params={"city": "330100", "page": 2})).text
    assert second.count('class="card hospital-card"') == 1 and "上一页" in second
