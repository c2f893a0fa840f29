"""CSV import: encodings, per-row reports, all-or-nothing by default, --skip-invalid, idempotent re-imports."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from regio.care.registry import errors, importing, service
from regio.care.registry.models import Doctor, Hospital, HospitalDepartment, Pharmacist, PracticeSite
from regio.care.registry.schemas import HospitalPatch
from regio.cli import app as cli_app
from regio.config import Settings, get_settings
from regio.core.db import Database

from .helpers import csv_bytes, health_admin, hospital_admin, years_ago

H_HEADER = [
    "licence_no",
    "name",
    "name_en",
    "level",
    "city_adcode",
    "address",
    "licence_valid_from",
    "licence_valid_to",
    "status",
    "departments",
]


def h_row(licence: str, name: str = "杭州测试医院", **changes: str) -> list[str]:
    row = {
        "licence_no": licence,
        "name": name,
        "name_en": "",
        "level": "三级甲等",
        "city_adcode": "330100",
        "address": "",
        "licence_valid_from": "2024-01-01",
        "licence_valid_to": "2099-12-31",
        "status": "",
        "departments": "呼吸内科|儿科|fever_clinic",
    }
    row.update(changes)
    return [row[column] for column in H_HEADER]


D_HEADER = [
    "licence_no",
    "real_name",
    "title",
    "independent_practice_since",
    "real_name_verified",
    "hospital_licence_no",
    "departments",
    "extra_sites",
]


def d_row(licence: str, hospital: str, **changes: str) -> list[str]:
    row = {
        "licence_no": licence,
        "real_name": "王医生",
        "title": "主治医师",
        "independent_practice_since": years_ago(6).isoformat(),
        "real_name_verified": "是",
        "hospital_licence_no": hospital,
        "departments": "呼吸内科",
        "extra_sites": "",
    }
    row.update(changes)
    return [row[column] for column in D_HEADER]


async def _import(
    db: Database, kind: str, data: bytes, *, skip_invalid: bool = False
) -> importing.ImportReport:
    async with db.session() as session:
        return await service.import_csv(
            session=session, principal=service.SYSTEM, kind=kind, data=data, skip_invalid=skip_invalid
        )


async def _count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _names(db: Database) -> list[str]:
    async with db.session() as session:
        return sorted(await session.scalars(select(Hospital.name)))


async def test_a_utf8_file_creates_hospitals_with_their_departments(db: Database) -> None:
    report = await _import(
        db, "hospitals", csv_bytes(H_HEADER, [h_row("HL-001"), h_row("HL-002", "宁波测试医院")])
    )
    assert (report.created, report.updated, report.errors, report.written) == (2, 0, [], True)
    assert await _names(db) == sorted(["杭州测试医院", "宁波测试医院"])
    assert await _count(db, HospitalDepartment) == 6


async def test_a_utf8_file_with_a_byte_order_mark_reads_its_first_column(db: Database) -> None:
    data = b"\xef\xbb\xbf" + csv_bytes(H_HEADER, [h_row("HL-00BOM")])
    report = await _import(db, "hospitals", data)
    assert report.created == 1 and report.errors == []


async def test_a_gb18030_file_from_chinese_excel_keeps_its_chinese_text(db: Database) -> None:
    data = csv_bytes(H_HEADER, [h_row("HL-00GB", "温州市中医院", city_adcode="330300")], encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the test file really is not UTF-8
    report = await _import(db, "hospitals", data)
    assert report.created == 1
    assert await _names(db) == ["温州市中医院"]


async def test_chinese_column_headers_are_understood(db: Database) -> None:
    header = ["许可证编号", "医院名称", "医院等级", "城市代码", "有效期起", "有效期止", "科室"]
    row = ["HL-00ZH", "嘉兴测试医院", "二级甲等", "330400", "2024/1/1", "2099/12/31", "儿科、发热门诊"]
    report = await _import(db, "hospitals", csv_bytes(header, [row]))
    assert report.created == 1 and report.errors == []
    assert await _count(db, HospitalDepartment) == 2


async def test_one_bad_row_reports_row_field_and_reason_and_writes_nothing(db: Database) -> None:
    rows = [
        h_row("HL-001"),
        h_row("HL-002", city_adcode="339900"),
        h_row("HL-003", licence_valid_from="2025-01-01", licence_valid_to="2024-01-01"),
        h_row("HL-004", level="特级", licence_valid_to="2099-13-01"),
        h_row("HL-005"),
    ]
    report = await _import(db, "hospitals", csv_bytes(H_HEADER, rows))
    assert report.written is False
    found = {(e.row, e.field, e.code) for e in report.errors}
    assert found == {
        (3, "city_adcode", "invalid_adcode"),
        (4, "licence_valid_to", "invalid_licence_period"),
        (5, "level", "invalid_level"),
        (5, "licence_valid_to", "invalid_date"),
    }
    adcode = next(e for e in report.errors if e.code == "invalid_adcode")
    assert "339900" in adcode.reason_zh and "行政区划代码" in adcode.reason_zh
    assert "339900" in adcode.reason_en and "adcode" in adcode.reason_en
    assert await _count(db, Hospital) == 0 and await _count(db, HospitalDepartment) == 0


async def test_skip_invalid_imports_the_good_rows_and_reports_the_rest(db: Database) -> None:
    rows = [h_row("HL-001"), h_row("HL-002", name=""), h_row("HL-003", departments="呼吸内科|火星科")]
    report = await _import(db, "hospitals", csv_bytes(H_HEADER, rows), skip_invalid=True)
    assert report.written and report.created == 1
    assert report.skipped_rows == [3, 4]
    assert {(e.row, e.code) for e in report.errors} == {(3, "missing_field"), (4, "unknown_department")}
    assert await _count(db, Hospital) == 1


async def test_reimporting_the_same_file_changes_nothing_and_duplicates_nothing(db: Database) -> None:
    data = csv_bytes(H_HEADER, [h_row("HL-001"), h_row("hl-002", "宁波测试医院")])
    await _import(db, "hospitals", data)
    again = await _import(db, "hospitals", data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert await _count(db, Hospital) == 2 and await _count(db, HospitalDepartment) == 6
    async with db.session() as session:
        versions = list(await session.scalars(select(Hospital.version)))
    assert versions == [1, 1]


async def test_reimporting_a_changed_row_updates_that_hospital_in_place(db: Database) -> None:
    await _import(db, "hospitals", csv_bytes(H_HEADER, [h_row("HL-001"), h_row("HL-002")]))
    report = await _import(
        db,
        "hospitals",
        csv_bytes(H_HEADER, [h_row("HL-001", "新名字医院", departments="儿科|眼科"), h_row("HL-002")]),
    )
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    async with db.session() as session:
        hospital = (await session.scalars(select(Hospital).where(Hospital.licence_no == "HL-001"))).one()
    assert hospital.name == "新名字医院" and hospital.version == 2
    assert await _count(db, HospitalDepartment) == 7  # ophthalmology added; nothing removed


async def test_duplicate_licence_numbers_in_one_file_are_reported_against_the_first_row(db: Database) -> None:
    rows = [h_row("HL-001"), h_row("HL-002"), h_row("hl-001 ", "另一家医院")]
    report = await _import(db, "hospitals", csv_bytes(H_HEADER, rows))
    assert [(e.row, e.field, e.code) for e in report.errors] == [(4, "licence_no", "duplicate_in_file")]
    assert "第 2 行" in report.errors[0].reason_zh and "row 2" in report.errors[0].reason_en
    assert await _count(db, Hospital) == 0
    skipped = await _import(db, "hospitals", csv_bytes(H_HEADER, rows), skip_invalid=True)
    assert skipped.created == 2 and await _names(db) == ["杭州测试医院", "杭州测试医院"]


async def test_a_file_without_a_required_column_is_refused_as_a_whole(db: Database) -> None:
    header = [c for c in H_HEADER if c != "licence_valid_to"]
    row = h_row("HL-001")
    del row[H_HEADER.index("licence_valid_to")]
    with pytest.raises(errors.InvalidImportFile) as caught:
        await _import(db, "hospitals", csv_bytes(header, [row]))
    assert caught.value.details["missing"] == ["licence_valid_to"]


async def test_an_empty_file_is_refused(db: Database) -> None:
    with pytest.raises(errors.InvalidImportFile):
        await _import(db, "hospitals", b"")


async def test_a_row_with_more_values_than_columns_is_reported(db: Database) -> None:
    report = await _import(db, "hospitals", csv_bytes(H_HEADER, [[*h_row("HL-001"), "stray"]]))
    assert [(e.row, e.code) for e in report.errors] == [(2, "malformed_row")]


async def test_a_revoked_hospital_cannot_be_brought_back_by_a_spreadsheet(db: Database) -> None:
    await _import(db, "hospitals", csv_bytes(H_HEADER, [h_row("HL-001")]))
    async with db.session() as session:
        hospital_id = await session.scalar(select(Hospital.id))
        assert hospital_id is not None
    async with db.session() as session:
        await service.update_hospital(
            session=session,
            principal=health_admin(),
            hospital_id=hospital_id,
            changes=HospitalPatch(status="revoked"),
        )
    report = await _import(db, "hospitals", csv_bytes(H_HEADER, [h_row("HL-001", status="approved")]))
    assert [(e.row, e.code) for e in report.errors] == [(2, "invalid_status_transition")]
    async with db.session() as session:
        assert await session.scalar(select(Hospital.status)) == "revoked"


async def test_a_regional_admin_importing_rows_of_another_province_gets_them_refused(db: Database) -> None:
    data = csv_bytes(H_HEADER, [h_row("HL-001"), h_row("HL-00JS", city_adcode="320100")])
    async with db.session() as session:
        report = await service.import_csv(
            session=session, principal=health_admin(), kind="hospitals", data=data
        )
    assert [(e.row, e.code) for e in report.errors] == [(3, "forbidden")]
    assert await _count(db, Hospital) == 0


async def _two_hospitals(db: Database) -> None:
    rows = [
        h_row("HL-001"),
        h_row("HL-002", "宁波测试医院", city_adcode="330200", departments="儿科|心血管内科"),
    ]
    assert (await _import(db, "hospitals", csv_bytes(H_HEADER, rows))).created == 2


async def test_doctors_import_with_their_primary_and_extra_practice_sites(db: Database) -> None:
    await _two_hospitals(db)
    rows = [
        d_row("DL-001", "HL-001", extra_sites="HL-002:儿科|心血管内科"),
        d_row(
            "DL-002",
            "hl-002",
            departments="儿科",
            real_name_verified="否",
            independent_practice_since="2024/3/1",
        ),
    ]
    report = await _import(db, "doctors", csv_bytes(D_HEADER, rows))
    assert report.errors == [] and report.created == 2
    assert await _count(db, PracticeSite) == 4
    async with db.session() as session:
        second = (await session.scalars(select(Doctor).where(Doctor.licence_no == "DL-002"))).one()
    assert second.real_name_verified is False and second.independent_practice_since == date(2024, 3, 1)
    again = await _import(db, "doctors", csv_bytes(D_HEADER, rows))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert await _count(db, Doctor) == 2 and await _count(db, PracticeSite) == 4


async def test_doctor_rows_are_checked_against_registered_hospitals_and_their_departments(
    db: Database,
) -> None:
    await _two_hospitals(db)
    rows = [
        d_row("DL-001", "HL-009"),
        d_row("DL-002", "HL-001", departments="眼科"),
        d_row("DL-003", "HL-001", title="实习医生", real_name_verified="也许"),
        d_row("DL-004", "HL-001", independent_practice_since="2999-01-01"),
        d_row("DL-005", "HL-001", extra_sites="HL-002"),
        d_row("DL-006", "HL-001"),
    ]
    report = await _import(db, "doctors", csv_bytes(D_HEADER, rows))
    assert {(e.row, e.field, e.code) for e in report.errors} == {
        (2, "hospital_licence_no", "unknown_hospital"),
        (3, "departments", "department_not_offered"),
        (4, "title", "invalid_title"),
        (4, "real_name_verified", "invalid_flag"),
        (5, "independent_practice_since", "invalid_practice_start"),
        (6, "extra_sites", "invalid_sites"),
    }
    assert await _count(db, Doctor) == 0
    skipped = await _import(db, "doctors", csv_bytes(D_HEADER, rows), skip_invalid=True)
    assert skipped.created == 1


async def test_a_hospital_admin_import_may_only_place_doctors_at_its_own_hospital(db: Database) -> None:
    await _two_hospitals(db)
    async with db.session() as session:
        own = await session.scalar(select(Hospital.id).where(Hospital.licence_no == "HL-001"))
        assert own is not None
    data = csv_bytes(D_HEADER, [d_row("DL-001", "HL-001"), d_row("DL-002", "HL-002", departments="儿科")])
    async with db.session() as session:
        report = await service.import_csv(
            session=session, principal=hospital_admin(own), kind="doctors", data=data
        )
    assert [(e.row, e.code) for e in report.errors] == [(3, "forbidden")]


async def test_pharmacists_import_by_licence_number(db: Database) -> None:
    await _two_hospitals(db)
    header = ["licence_no", "real_name", "hospital_licence_no"]
    rows = [["PL-001", "钱药师", "HL-001"], ["PL-002", "孙药师", "HL-002"], ["PL-003", "李药师", "HL-00404"]]
    report = await _import(db, "pharmacists", csv_bytes(header, rows), skip_invalid=True)
    assert report.created == 2 and [(e.row, e.code) for e in report.errors] == [(4, "unknown_hospital")]
    moved = await _import(db, "pharmacists", csv_bytes(header, [["PL-001", "钱药师", "HL-002"]]))
    assert moved.updated == 1
    assert await _count(db, Pharmacist) == 2


# ---- the command line -------------------------------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIO_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REGIO_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _cli(*args: str) -> tuple[int, str, str]:
    # the command runs its own event loop, so it runs in a thread beside the test's loop
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_import_help_lists_every_column() -> None:
    for kind, columns in importing.COLUMNS.items():
        result = CliRunner().invoke(cli_app, ["care", "import", kind, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        for column in columns:
            assert column.name in result.stdout
        assert "--skip-invalid" in result.stdout


async def test_the_cli_exits_1_and_writes_nothing_when_a_row_is_bad(
    db: Database, cli_env: None, tmp_path: Path
) -> None:
    path = tmp_path / "hospitals.csv"
    path.write_bytes(
        csv_bytes(H_HEADER, [h_row("HL-001"), h_row("HL-002", city_adcode="12345")], encoding="gb18030")
    )
    code, out, err = await _cli("care", "import", "hospitals", str(path))
    assert code == 1
    assert "row 3, city_adcode" in err and "城市行政区划代码" in err and "not valid" in err
    assert "nothing written" in out
    assert await _count(db, Hospital) == 0

    code, out, err = await _cli("care", "import", "hospitals", str(path), "--skip-invalid")
    assert code == 0 and "1 created" in out and "row 3" in err
    assert await _count(db, Hospital) == 1


async def test_the_cli_imports_doctors_and_reimports_them_without_duplicates(
    db: Database, cli_env: None, tmp_path: Path
) -> None:
    await _two_hospitals(db)
    path = tmp_path / "doctors.csv"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + csv_bytes(D_HEADER, [d_row("DL-001", "HL-001"), d_row("DL-002", "HL-002", departments="儿科")])
    )
    assert (await _cli("care", "import", "doctors", str(path)))[0] == 0
    code, out, _ = await _cli("care", "import", "doctors", str(path))
    assert code == 0 and "0 created, 0 updated, 2 unchanged" in out
    assert await _count(db, Doctor) == 2


async def test_the_cli_refuses_an_unreadable_file_with_a_clear_message(cli_env: None, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes("名称\n".encode())
    code, _, err = await _cli("care", "import", "pharmacists", str(path))
    assert code == 1 and "invalid_import_file" in err and "licence_no" in err
    code, _, err = await _cli("care", "import", "pharmacists", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err


# ---- who may change a shared record, and imports racing each other --------------------------------------


async def _hospital_id(db: Database, licence: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Hospital.id).where(Hospital.licence_no == licence))
    assert found is not None
    return int(found)


async def test_an_import_cannot_overwrite_a_doctor_of_a_hospital_the_importer_does_not_manage(
    db: Database,
) -> None:
    await _two_hospitals(db)
    own = await _hospital_id(db, "HL-001")
    first = await _import(
        db,
        "doctors",
        csv_bytes(D_HEADER, [d_row("DL-777", "HL-002", departments="儿科", real_name="钱医生")]),
    )
    assert first.created == 1
    renamed = csv_bytes(D_HEADER, [d_row("DL-777", "HL-001", real_name="冒名医生", title="主任医师")])
    async with db.session() as session:
        report = await service.import_csv(
            session=session, principal=hospital_admin(own), kind="doctors", data=renamed
        )
    assert [(e.row, e.field, e.code) for e in report.errors] == [(2, "licence_no", "staff_managed_elsewhere")]
    assert "DL-777" in report.errors[0].reason_en and not report.written
    async with db.session() as session:
        doctor = (await session.scalars(select(Doctor).where(Doctor.licence_no == "DL-777"))).one()
        assert (doctor.real_name, doctor.title) == ("钱医生", "主治医师")
        assert await session.scalar(select(func.count()).select_from(PracticeSite)) == 1


async def test_an_import_may_add_its_own_site_for_a_doctor_of_another_hospital_without_changing_them(
    db: Database,
) -> None:
    await _two_hospitals(db)
    own = await _hospital_id(db, "HL-001")
    assert (
        await _import(db, "doctors", csv_bytes(D_HEADER, [d_row("DL-778", "HL-002", departments="儿科")]))
    ).created == 1
    same = csv_bytes(D_HEADER, [d_row("DL-778", "HL-001")])  # 多点执业: the same facts, one more site
    async with db.session() as session:
        report = await service.import_csv(
            session=session, principal=hospital_admin(own), kind="doctors", data=same
        )
    assert report.errors == [] and report.updated == 1
    async with db.session() as session:
        sites = sorted(await session.scalars(select(PracticeSite.hospital_id)))
    assert sites == sorted([own, await _hospital_id(db, "HL-002")])


async def test_an_import_cannot_move_a_pharmacist_away_from_a_hospital_the_importer_does_not_manage(
    db: Database,
) -> None:
    await _two_hospitals(db)
    own = await _hospital_id(db, "HL-001")
    other = await _hospital_id(db, "HL-002")
    header = ["licence_no", "real_name", "hospital_licence_no"]
    await _import(db, "pharmacists", csv_bytes(header, [["PL-900", "钱药师", "HL-002"]]))
    async with db.session() as session:
        report = await service.import_csv(
            session=session,
            principal=hospital_admin(own),
            kind="pharmacists",
            data=csv_bytes(header, [["PL-900", "钱药师", "HL-001"]]),
        )
    assert [(e.row, e.code) for e in report.errors] == [(2, "staff_managed_elsewhere")]
    async with db.session() as session:
        assert (
            await session.scalar(select(Pharmacist.hospital_id).where(Pharmacist.licence_no == "PL-900"))
            == other
        )


async def test_two_imports_of_the_same_file_at_once_create_each_record_exactly_once(db: Database) -> None:
    hospitals = csv_bytes(H_HEADER, [h_row(f"HL-R{n:02d}", name=f"并发医院{n}") for n in range(12)])
    reports = await asyncio.gather(*(_import(db, "hospitals", hospitals) for _ in range(2)))
    assert [r.errors for r in reports] == [[], []]
    assert sum(r.created for r in reports) == 12 and sum(r.updated for r in reports) == 0
    assert sorted(r.created + r.unchanged for r in reports) == [12, 12]
    assert await _count(db, Hospital) == 12
    assert await _count(db, HospitalDepartment) == 12 * 3

    doctors = csv_bytes(D_HEADER, [d_row(f"DL-R{n:02d}", f"HL-R{n:02d}") for n in range(12)])
    reports = await asyncio.gather(*(_import(db, "doctors", doctors) for _ in range(2)))
    assert [r.errors for r in reports] == [[], []]
    assert sum(r.created for r in reports) == 12
    assert await _count(db, Doctor) == 12 and await _count(db, PracticeSite) == 12

    changed = csv_bytes(H_HEADER, [h_row(f"HL-R{n:02d}", name=f"改名医院{n}") for n in range(12)])
    reports = await asyncio.gather(*(_import(db, "hospitals", changed) for _ in range(2)))
    assert sum(r.updated for r in reports) == 12 and sum(r.created for r in reports) == 0
    assert await _names(db) == sorted(f"改名医院{n}" for n in range(12))
