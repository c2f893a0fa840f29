"""Reading registry CSV files: encodings, named columns and per-row checks (no database here).

Files are UTF-8 (with or without a byte-order mark) or GB18030, the encoding Excel on Chinese
Windows saves in; the first row names the columns, in English or Chinese, in any order. Row
numbers in reports count the header as row 1, as a spreadsheet shows them. Values may be
separated in a cell by "|", ";", "；" or "、". Dates are YYYY-MM-DD (YYYY/M/D also accepted).
Re-importing a file updates the records it names (matched by licence number) and adds
departments and practice sites; it never removes any.

hospitals.csv
  licence_no          (required) 互联网医院许可证编号 internet-hospital licence number, the match key
  name                (required) 医院名称
  name_en             (optional) English name
  level               (required) 医院等级, e.g. 三级甲等, 二级乙等, 未定级
  city_adcode         (required) 城市行政区划代码 (GB/T 2260), e.g. 330100 for 杭州市
  address             (optional) 地址
  licence_valid_from  (required) 许可证有效期起
  licence_valid_to    (required) 许可证有效期止
  status              (optional) approved 已批准 (default) / suspended 暂停 / revoked 注销
  departments         (optional) 科室: codes or names from the standard list, e.g. 呼吸内科|儿科

doctors.csv
  licence_no                  (required) 医师执业证书编码, the match key
  real_name                   (required) 姓名
  title                       (required) 职称: 主任医师 / 副主任医师 / 主治医师 / 住院医师
  independent_practice_since  (required) 独立执业起始日期
  real_name_verified          (optional) 实名认证: 是/否 (yes/no), default 否
  hospital_licence_no         (required) 执业医院许可证编号 of a registered hospital
  departments                 (required) 科室 at that hospital (the hospital must offer them)
  extra_sites                 (optional) 多点执业: LICENCE:科室|科室;LICENCE:科室

pharmacists.csv
  licence_no           (required) 执业药师注册证编号, the match key
  real_name            (required) 姓名
  hospital_licence_no  (required) 所在医院许可证编号 of a registered hospital
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from regio.care.registry import errors, policies, reference
from regio.care.registry.enums import HospitalStatus

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    required: bool
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


HOSPITAL_COLUMNS = (
    Column(
        "licence_no",
        True,
        "互联网医院许可证编号",
        "internet-hospital licence number (match key)",
        ("许可证编号",),
    ),
    Column("name", True, "医院名称", "hospital name", ("医院名称", "名称")),
    Column("name_en", False, "英文名称", "English name", ("英文名称",)),
    Column("level", True, "医院等级，如 三级甲等", "level, e.g. 三级甲等", ("医院等级", "等级")),
    Column(
        "city_adcode",
        True,
        "城市行政区划代码，如 330100",
        "city adcode (GB/T 2260), e.g. 330100",
        ("城市代码",),
    ),
    Column("address", False, "地址", "address", ("地址",)),
    Column("licence_valid_from", True, "许可证有效期起 YYYY-MM-DD", "licence valid from", ("有效期起",)),
    Column("licence_valid_to", True, "许可证有效期止 YYYY-MM-DD", "licence valid to", ("有效期止",)),
    Column(
        "status",
        False,
        "状态 approved/suspended/revoked（默认 approved）",
        "status, default approved",
        ("状态",),
    ),
    Column("departments", False, "科室，以 | 分隔", "departments, separated by |", ("科室",)),
)

DOCTOR_COLUMNS = (
    Column(
        "licence_no", True, "医师执业证书编码", "practising licence number (match key)", ("执业证书编码",)
    ),
    Column("real_name", True, "姓名", "real name", ("姓名",)),
    Column("title", True, "职称，如 主治医师", "title, e.g. 主治医师", ("职称",)),
    Column(
        "independent_practice_since",
        True,
        "独立执业起始日期",
        "independent practice since",
        ("独立执业起始日期",),
    ),
    Column("real_name_verified", False, "实名认证 是/否", "real-name verified yes/no", ("实名认证",)),
    Column(
        "hospital_licence_no",
        True,
        "执业医院许可证编号",
        "hospital's licence number",
        ("执业医院许可证编号",),
    ),
    Column("departments", True, "科室，以 | 分隔", "departments at that hospital", ("科室",)),
    Column(
        "extra_sites", False, "多点执业 许可证:科室|科室;…", "more sites LICENCE:dept|dept;…", ("多点执业",)
    ),
)

PHARMACIST_COLUMNS = (
    Column(
        "licence_no", True, "执业药师注册证编号", "pharmacist licence number (match key)", ("注册证编号",)
    ),
    Column("real_name", True, "姓名", "real name", ("姓名",)),
    Column(
        "hospital_licence_no",
        True,
        "所在医院许可证编号",
        "hospital's licence number",
        ("所在医院许可证编号",),
    ),
)

COLUMNS = {"hospitals": HOSPITAL_COLUMNS, "doctors": DOCTOR_COLUMNS, "pharmacists": PHARMACIST_COLUMNS}


def columns_help(kind: str) -> str:
    """The column list as `--help` prints it."""
    lines = [f"Columns of {kind}.csv (header row; * = required):"]
    for column in COLUMNS[kind]:
        mark = "*" if column.required else " "
        lines.append(f"{mark} {column.name}: {column.zh} / {column.en}")
    return "\n".join(lines)


# ---- reports -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    """One reason a row cannot be imported; row 1 is the header, 0 is the whole file."""

    row: int
    field: str
    code: str
    reason_zh: str
    reason_en: str

    @classmethod
    def from_problem(cls, row: int, problem: policies.Problem) -> RowError:
        error = problem.as_error()
        return cls(row, problem.field, error.code, error.message("zh"), error.message("en"))

    def line(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        return f"{where}, {self.field}: {self.reason_zh} / {self.reason_en} [{self.code}]"


@dataclass(slots=True)
class ImportReport:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    written: bool = False

    @property
    def skipped_rows(self) -> list[int]:
        return sorted({error.row for error in self.errors if error.row})

    def summary(self) -> str:
        state = "written" if self.written else "nothing written"
        return (
            f"{self.kind}: {self.rows} rows, {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.skipped_rows)} rows with errors ({state})"
        )


# ---- reading a file ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Table:
    """A CSV file's rows as {column: text}, each with its spreadsheet row number."""

    kind: str
    rows: list[tuple[int, dict[str, str]]]
    ignored_columns: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def decode(data: bytes) -> str:
    """UTF-8 with or without a BOM, else GB18030 (a superset of GBK and GB2312)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise errors.InvalidImportFile(
            reason_zh="文件编码无法识别，请另存为 UTF-8 或 GB18030 编码的 CSV。",
            reason_en="the encoding is neither UTF-8 nor GB18030; save the CSV as UTF-8.",
        ) from exc


def _header_map(kind: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for column in COLUMNS[kind]:
        for name in (column.name, *column.aliases):
            mapping[name.strip().lower()] = column.name
    return mapping


def read_csv(kind: str, data: bytes) -> Table:
    """Parses the file; raises InvalidImportFile when it cannot be read at all."""
    if len(data) > MAX_FILE_BYTES:
        raise errors.InvalidImportFile(
            reason_zh=f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB，请拆分后导入。",
            reason_en=f"the file is over {MAX_FILE_BYTES // 1024 // 1024} MB; split it.",
        )
    text = decode(data)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise errors.InvalidImportFile(
            reason_zh=f"CSV 格式错误：{exc}", reason_en=f"the CSV is malformed: {exc}"
        ) from exc
    if not records or not any(cell.strip() for cell in records[0]):
        raise errors.InvalidImportFile(
            reason_zh="文件为空或缺少表头行。", reason_en="the file is empty or has no header row."
        )
    mapping = _header_map(kind)
    header: list[str | None] = []
    ignored: list[str] = []
    seen: set[str] = set()
    for cell in records[0]:
        name = mapping.get(cell.strip().lower())
        if name is None or name in seen:
            ignored.append(cell.strip())
            header.append(None)
        else:
            seen.add(name)
            header.append(name)
    missing = [column.name for column in COLUMNS[kind] if column.required and column.name not in seen]
    if missing:
        raise errors.InvalidImportFile(
            reason_zh="缺少必填列：" + "、".join(missing),
            reason_en="required columns are missing: " + ", ".join(missing),
            missing=missing,
        )
    table = Table(kind=kind, rows=[], ignored_columns=[name for name in ignored if name])
    for index, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        extra = [cell for cell in record[len(header) :] if cell.strip()]
        if extra:
            table.errors.append(
                RowError(
                    index,
                    "*",
                    "malformed_row",
                    f"本行有 {len(record)} 个值，多于表头的 {len(header)} 列。",
                    f"this row has {len(record)} values, more than the header's {len(header)} columns.",
                )
            )
            continue
        values = {name: "" for name in seen}
        for name, cell in zip(header, record, strict=False):
            if name is not None:
                values[name] = cell.strip()
        table.rows.append((index, values))
    return table


# ---- checking rows -----------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[|;；、]")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")

STATUS_WORDS = {
    "approved": HospitalStatus.approved,
    "已批准": HospitalStatus.approved,
    "批准": HospitalStatus.approved,
    "正常": HospitalStatus.approved,
    "suspended": HospitalStatus.suspended,
    "暂停": HospitalStatus.suspended,
    "停业": HospitalStatus.suspended,
    "revoked": HospitalStatus.revoked,
    "注销": HospitalStatus.revoked,
    "吊销": HospitalStatus.revoked,
    "撤销": HospitalStatus.revoked,
}
YES = {"是", "yes", "y", "true", "1", "已认证"}
NO = {"否", "no", "n", "false", "0", "未认证", ""}


def split_list(value: str) -> list[str]:
    """The values of a cell separated by |, ;, ； or 、."""
    return [part.strip() for part in _SEPARATORS.split(value) if part.strip()]


class _Row:
    """Collects the problems of one row while converting its fields."""

    def __init__(self, number: int, values: dict[str, str]) -> None:
        self.number = number
        self.values = values
        self.problems: list[policies.Problem] = []

    def text(self, name: str, *, required: bool, max_length: int) -> str:
        value = self.values.get(name, "")
        if required and not value:
            self.problems.append(policies.Problem(name, errors.MissingField))
            return value
        problem = policies.text_problem(name, value, max_length=max_length, required=required)
        if problem:
            self.problems.append(problem)
        return value

    def licence(self, name: str) -> str:
        raw = self.values.get(name, "")
        if not raw:
            self.problems.append(policies.Problem(name, errors.MissingField))
            return ""
        value = policies.normalize_licence_no(raw)
        self.add(policies.licence_no_problem(name, value))
        return value

    def day(self, name: str) -> date | None:
        value = self.values.get(name, "")
        if not value:
            self.problems.append(policies.Problem(name, errors.MissingField))
            return None
        match = _DATE.match(value)
        try:
            if match is None:
                raise ValueError(value)
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            self.problems.append(policies.Problem(name, errors.InvalidDate, {"value": value}))
            return None

    def add(self, problem: policies.Problem | None) -> None:
        if problem is not None:
            self.problems.append(problem)

    def errors(self) -> list[RowError]:
        return [RowError.from_problem(self.number, problem) for problem in self.problems]


@dataclass(slots=True)
class HospitalRow:
    row: int
    values: dict[str, Any]  # columns of the hospitals table
    department_codes: list[str]


@dataclass(slots=True)
class DoctorRow:
    row: int
    values: dict[str, Any]  # columns of the doctors table
    sites: list[tuple[str, list[str]]]  # (hospital licence number, department codes), primary first


@dataclass(slots=True)
class PharmacistRow:
    row: int
    values: dict[str, Any]
    hospital_licence_no: str


def _duplicates(table: Table) -> dict[int, tuple[str, int]]:
    """Rows whose licence number an earlier row already used: row -> (licence, first row).

    Later rows are reported rather than silently overwriting the first, whatever else is wrong.
    """
    first: dict[str, int] = {}
    repeated: dict[int, tuple[str, int]] = {}
    for number, values in table.rows:
        licence = policies.normalize_licence_no(values.get("licence_no", ""))
        if not licence:
            continue
        if licence in first:
            repeated[number] = (licence, first[licence])
        else:
            first[licence] = number
    return repeated


def _flag_duplicate(row: _Row, repeated: dict[int, tuple[str, int]]) -> None:
    if row.number in repeated:
        licence, first_row = repeated[row.number]
        row.add(
            policies.Problem("licence_no", errors.DuplicateInFile, {"value": licence, "first_row": first_row})
        )


def check_hospitals(table: Table) -> tuple[list[HospitalRow], list[RowError]]:
    """Field checks that need no database; returns the good rows and every problem found."""
    good: list[HospitalRow] = []
    found = list(table.errors)
    repeated = _duplicates(table)
    for number, values in table.rows:
        row = _Row(number, values)
        licence_no = row.licence("licence_no")
        _flag_duplicate(row, repeated)
        name = row.text("name", required=True, max_length=200)
        name_en = row.text("name_en", required=False, max_length=300)
        level = row.text("level", required=True, max_length=16)
        if level:
            row.add(policies.level_problem("level", level))
        city = row.text("city_adcode", required=True, max_length=6)
        if city:
            row.add(policies.adcode_problem("city_adcode", city, reference.places()))
        address = row.text("address", required=False, max_length=300)
        valid_from = row.day("licence_valid_from")
        valid_to = row.day("licence_valid_to")
        if valid_from and valid_to:
            row.add(policies.period_problem("licence_valid_to", valid_from, valid_to))
        raw_status = values.get("status", "") or HospitalStatus.approved.value
        status = STATUS_WORDS.get(raw_status.lower())
        if status is None:
            row.add(policies.Problem("status", errors.InvalidStatus, {"value": raw_status}))
        codes, department_problems = policies.department_codes(
            "departments", split_list(values.get("departments", "")), reference.department_lookup()
        )
        row.problems.extend(department_problems)
        if row.problems or valid_from is None or valid_to is None or status is None:
            # a missing date or status is always a problem on the row already; never write without one
            found.extend(row.errors())
            continue
        good.append(
            HospitalRow(
                row=number,
                values={
                    "licence_no": licence_no,
                    "name": name,
                    "name_en": name_en or None,
                    "level": level,
                    "city_adcode": city,
                    "region_adcode": reference.province_of(city),
                    "address": address,
                    "licence_valid_from": valid_from,
                    "licence_valid_to": valid_to,
                    "status": status.value,
                },
                department_codes=codes,
            )
        )
    return good, found


def _sites(row: _Row, raw: str) -> list[tuple[str, list[str]]]:
    sites: list[tuple[str, list[str]]] = []
    for part in re.split(r"[;；]", raw):
        if not part.strip():
            continue
        licence, colon, departments = part.replace("：", ":").partition(":")
        codes, problems = policies.department_codes(
            "extra_sites", split_list(departments.replace(",", "|")), reference.department_lookup()
        )
        if not colon or not licence.strip() or not codes:
            row.add(policies.Problem("extra_sites", errors.InvalidSites))
            continue
        row.problems.extend(problems)
        sites.append((policies.normalize_licence_no(licence), codes))
    return sites


def check_doctors(table: Table, *, today: date) -> tuple[list[DoctorRow], list[RowError]]:
    """Field checks of doctor rows that need no database; the good rows and every problem found."""
    good: list[DoctorRow] = []
    found = list(table.errors)
    repeated = _duplicates(table)
    for number, values in table.rows:
        row = _Row(number, values)
        licence_no = row.licence("licence_no")
        _flag_duplicate(row, repeated)
        real_name = row.text("real_name", required=True, max_length=100)
        title = row.text("title", required=True, max_length=16)
        if title:
            row.add(policies.title_problem("title", title))
        since = row.day("independent_practice_since")
        if since:
            row.add(policies.practice_start_problem("independent_practice_since", since, today))
        flag = values.get("real_name_verified", "").lower()
        if flag not in YES | NO:
            row.add(policies.Problem("real_name_verified", errors.InvalidFlag, {"value": flag}))
        hospital_licence = row.licence("hospital_licence_no")
        departments = split_list(values.get("departments", ""))
        if not departments:
            row.add(policies.Problem("departments", errors.MissingField))
        codes, department_problems = policies.department_codes(
            "departments", departments, reference.department_lookup()
        )
        row.problems.extend(department_problems)
        extra = _sites(row, values.get("extra_sites", ""))
        if row.problems or since is None:
            found.extend(row.errors())
            continue
        good.append(
            DoctorRow(
                row=number,
                values={
                    "licence_no": licence_no,
                    "real_name": real_name,
                    "title": title,
                    "independent_practice_since": since,
                    "real_name_verified": flag in YES,
                },
                sites=[(hospital_licence, codes), *extra],
            )
        )
    return good, found


def check_pharmacists(table: Table) -> tuple[list[PharmacistRow], list[RowError]]:
    """Field checks of pharmacist rows that need no database; the good rows and every problem found."""
    good: list[PharmacistRow] = []
    found = list(table.errors)
    repeated = _duplicates(table)
    for number, values in table.rows:
        row = _Row(number, values)
        licence_no = row.licence("licence_no")
        _flag_duplicate(row, repeated)
        real_name = row.text("real_name", required=True, max_length=100)
        hospital_licence = row.licence("hospital_licence_no")
        if row.problems:
            found.extend(row.errors())
            continue
        good.append(
            PharmacistRow(
                row=number,
                values={"licence_no": licence_no, "real_name": real_name},
                hospital_licence_no=hospital_licence,
            )
        )
    return good, found
