"""The drug catalog: the shipped CSV parsed and checked row by row into frozen Drug records."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import pypinyin

DATA_DIR = Path(__file__).resolve().parent / "data"
DRUGS_FILE = DATA_DIR / "drugs.csv"

CODE = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")
ATC = re.compile(r"^[A-V][0-9]{2}[A-Z]{2}[0-9]{2}$")
DOSE_UNITS = frozenset({"mg", "g", "ug", "ml", "IU", "puff", "drop", "unit"})
INSURANCE_CLASSES = frozenset({"甲", "乙"})

COLUMNS: tuple[str, ...] = (
    "code",
    "name_zh",
    "name_en",
    "brands",
    "dosage_form",
    "strength",
    "atc",
    "rx",
    "insurance_class",
    "control",
    "dose_unit",
    "adult_usual_daily",
    "adult_max_daily",
    "child_mg_per_kg_daily_max",
    "child_min_age_years",
    "pregnancy",
    "lactation",
    "cold_chain",
    "source",
)
REQUIRED: frozenset[str] = frozenset(
    {"code", "name_zh", "name_en", "dosage_form", "strength", "atc", "rx", "control", "dose_unit"}
    | {"cold_chain", "source"}
)
_DOSES = ("adult_usual_daily", "adult_max_daily", "child_mg_per_kg_daily_max")


class Control(StrEnum):
    none = "none"
    narcotic = "narcotic"
    psychotropic_1 = "psychotropic_1"
    psychotropic_2 = "psychotropic_2"
    precursor = "precursor"
    toxic = "toxic"
    radioactive = "radioactive"


class Caution(StrEnum):
    avoid = "avoid"
    caution = "caution"
    ok = "ok"


@dataclass(frozen=True, slots=True)
class Drug:
    code: str
    name_zh: str
    name_en: str
    brands: tuple[str, ...]
    dosage_form: str
    strength: str
    atc: str
    rx: bool
    insurance_class: str | None
    control: Control
    dose_unit: str
    adult_usual_daily: float | None
    adult_max_daily: float | None
    child_mg_per_kg_daily_max: float | None
    child_min_age_years: float | None
    pregnancy: Caution | None
    lactation: Caution | None
    cold_chain: bool
    source: str
    pinyin: str
    # the generic names and brands case-folded, so that an allergy entry is matched without folding
    # every name of the catalog on every check
    names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        folded = frozenset(name.casefold() for name in (self.name_zh, self.name_en, *self.brands) if name)
        object.__setattr__(self, "names", folded)

    @property
    def controlled(self) -> bool:
        return self.control is not Control.none


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    code: str
    message_zh: str
    message_en: str


@dataclass(slots=True)
class CatalogReport:
    drugs: list[Drug]
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        return not self.errors


class CatalogError(ValueError):
    """The shipped catalog (or interaction table) has rows that do not pass their checks."""

    def __init__(self, what: str, errors: list[RowError]) -> None:
        shown = "; ".join(f"line {e.line} {e.column}: {e.message_en}" for e in errors[:10])
        super().__init__(f"{what}: {len(errors)} bad row(s): {shown}")
        self.errors = errors


def initials(text: str) -> str:
    """Pinyin first letters of the Chinese in `text`, lower case; Latin letters and digits kept as they are."""
    letters = "".join(pypinyin.lazy_pinyin(text, style=pypinyin.Style.FIRST_LETTER, errors="default"))
    return "".join(ch for ch in letters.lower() if ch.isascii() and ch.isalnum())


def pinyin_key(name_zh: str, brands: tuple[str, ...]) -> str:
    keys: list[str] = []
    for text in (name_zh, *brands):
        key = initials(text)
        if key and key not in keys:
            keys.append(key)
    return " ".join(keys)


def read_rows(text: str, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    """(line, row) for each data row of CSV `text`, or (line, RowError) for what cannot be read as a row.

    Lines are 1-based with the header on line 1; a quoted field spanning lines puts its row on the
    line where it starts. A missing header column stops the file, since no row could be read right.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        yield 1, RowError(1, "", "csv", f"CSV 格式错误：{exc}", f"malformed CSV: {exc}")
        return
    if header is None:
        yield 1, RowError(1, "", "empty", "文件为空，缺少表头", "empty file: no header")
        return
    header = [name.strip() for name in header]
    missing = [name for name in columns if name not in header]
    for name in missing:
        yield 1, RowError(1, name, "missing_column", f"表头缺少列 {name}", f"header lacks column {name}")
    if missing:
        return
    position = {name: header.index(name) for name in columns}
    previous_end = reader.line_num
    while True:
        try:
            fields = next(reader, None)
        except csv.Error as exc:
            line = previous_end + 1
            yield line, RowError(line, "", "csv", f"CSV 格式错误：{exc}", f"malformed CSV: {exc}")
            return
        if fields is None:
            return
        line, previous_end = previous_end + 1, reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(header):
            yield (
                line,
                RowError(
                    line,
                    "",
                    "field_count",
                    f"该行有 {len(fields)} 个字段，表头有 {len(header)} 个",
                    f"row has {len(fields)} fields, the header {len(header)}",
                ),
            )
            continue
        yield line, {name: fields[index].strip() for name, index in position.items()}


class _Row:
    """One row being checked: typed getters that record a RowError instead of raising."""

    def __init__(self, line: int, values: dict[str, str], errors: list[RowError]) -> None:
        self.line = line
        self.values = values
        self.errors = errors
        self.failed = False

    def error(self, column: str, code: str, zh: str, en: str) -> None:
        self.failed = True
        self.errors.append(RowError(self.line, column, code, zh, en))

    def text(self, column: str) -> str:
        value = self.values[column]
        if not value and column in REQUIRED:
            self.error(column, "required", f"{column} 不能为空", f"{column} must not be empty")
        return value

    def choice(self, column: str, allowed: frozenset[str] | tuple[str, ...]) -> str:
        value = self.text(column)
        if value and value not in allowed:
            listed = ", ".join(sorted(allowed))
            self.error(
                column,
                "unknown_value",
                f"{column} 的值 {value!r} 无效，应为：{listed}",
                f"{column} value {value!r} is not one of: {listed}",
            )
        return value

    def number(self, column: str, *, positive: bool) -> float | None:
        raw = self.text(column)
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self.error(
                column, "bad_number", f"{column} 不是有效数字：{raw!r}", f"{column} is not a number: {raw!r}"
            )
            return None
        if value < 0:
            self.error(
                column, "negative", f"{column} 不能为负数：{raw}", f"{column} must not be negative: {raw}"
            )
            return None
        if positive and value == 0:
            self.error(column, "zero", f"{column} 必须大于 0", f"{column} must be above 0")
            return None
        return value

    def caution(self, column: str) -> Caution | None:
        value = self.choice(column, tuple(Caution))
        return Caution(value) if value in Caution.__members__ else None


def _drug(row: _Row) -> Drug | None:
    code = row.text("code")
    if code and not CODE.match(code):
        row.error(
            "code", "bad_code", f"药品编码格式错误：{code!r}", f"code {code!r} does not match {CODE.pattern}"
        )
    atc = row.text("atc")
    if atc and not ATC.match(atc):
        row.error(
            "atc", "bad_atc", f"ATC 编码格式错误：{atc!r}", f"ATC code {atc!r} does not match {ATC.pattern}"
        )
    rx = row.choice("rx", ("rx", "otc"))
    insurance = row.choice("insurance_class", INSURANCE_CLASSES)
    control = row.choice("control", tuple(Control))
    dose_unit = row.choice("dose_unit", DOSE_UNITS)
    usual, maximum, per_kg = (row.number(column, positive=True) for column in _DOSES)
    min_age = row.number("child_min_age_years", positive=False)
    if usual is not None and maximum is not None and maximum < usual:
        row.error(
            "adult_max_daily",
            "max_below_usual",
            f"成人日最大量 {maximum:g} 小于常用量 {usual:g}",
            f"adult_max_daily {maximum:g} is below adult_usual_daily {usual:g}",
        )
    pregnancy = row.caution("pregnancy")
    lactation = row.caution("lactation")
    cold_chain = row.choice("cold_chain", ("0", "1"))
    texts = {
        column: row.text(column) for column in ("name_zh", "name_en", "dosage_form", "strength", "source")
    }
    if row.failed:
        return None
    brands = tuple(brand.strip() for brand in row.values["brands"].split("|") if brand.strip())
    return Drug(
        code=code,
        name_zh=texts["name_zh"],
        name_en=texts["name_en"],
        brands=brands,
        dosage_form=texts["dosage_form"],
        strength=texts["strength"],
        atc=atc,
        rx=rx == "rx",
        insurance_class=insurance or None,
        control=Control(control),
        dose_unit=dose_unit,
        adult_usual_daily=usual,
        adult_max_daily=maximum,
        child_mg_per_kg_daily_max=per_kg,
        child_min_age_years=min_age,
        pregnancy=pregnancy,
        lactation=lactation,
        cold_chain=cold_chain == "1",
        source=texts["source"],
        pinyin=pinyin_key(texts["name_zh"], brands),
    )


def parse_catalog(text: str) -> CatalogReport:
    """Every valid row of a drugs CSV as a Drug, and every problem as a RowError; never raises on content."""
    drugs: list[Drug] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    for line, values in read_rows(text, COLUMNS):
        if isinstance(values, RowError):
            errors.append(values)
            continue
        row = _Row(line, values, errors)
        code = values["code"]
        if code and code in first_line:
            row.error(
                "code",
                "duplicate_code",
                f"药品编码 {code} 与第 {first_line[code]} 行重复",
                f"code {code} repeats line {first_line[code]}",
            )
        elif code:
            first_line[code] = line
        drug = _drug(row)
        if drug is not None:
            drugs.append(drug)
    return CatalogReport(drugs, errors)


@lru_cache(maxsize=1)
def shipped_catalog() -> list[Drug]:
    """data/drugs.csv as Drugs; the file ships with the code, so a bad row is a bug and raises CatalogError."""
    report = parse_catalog(DRUGS_FILE.read_text(encoding="utf-8"))
    if not report.ok:
        raise CatalogError(str(DRUGS_FILE), report.errors)
    return report.drugs


@lru_cache(maxsize=1)
def shipped_by_code() -> Mapping[str, Drug]:
    """The shipped catalog keyed by drug code, read-only since it is shared."""
    return MappingProxyType({drug.code: drug for drug in shipped_catalog()})


# ICD-10 three-character categories of the chronic diseases that a long-term prescription may
# serve. 长期处方管理规范(试行) (国卫办医发〔2021〕17号) limits long-term prescriptions to patients
# with a clear diagnosis of a chronic disease on a stable regimen and has local health commissions
# list the diseases; the categories below are the common ones those lists name (hypertension,
# diabetes, coronary and cerebrovascular disease, heart failure, COPD, ...).
CHRONIC_CATEGORIES: frozenset[str] = frozenset(
    {
        # hypertensive diseases (ICD-10 has no I14)
        "I10",
        "I11",
        "I12",
        "I13",
        "I15",
        # diabetes mellitus
        "E10",
        "E11",
        "E12",
        "E13",
        "E14",
        # ischaemic heart disease
        "I20",
        "I21",
        "I22",
        "I23",
        "I24",
        "I25",
        "I48",  # atrial fibrillation and flutter
        "I50",  # heart failure
        "I63",  # cerebral infarction (secondary prevention)
        "I69",  # sequelae of cerebrovascular disease
        "I70",  # atherosclerosis
        "J44",  # COPD
        "J45",  # asthma
        "E78",  # disorders of lipoprotein metabolism
        "N18",  # chronic kidney disease
        "E03",  # hypothyroidism
        "E05",  # thyrotoxicosis
        "G40",  # epilepsy
        "G20",  # Parkinson's disease
        "M80",  # osteoporosis with fracture
        "M81",  # osteoporosis
        "M10",  # gout
        "M05",  # rheumatoid arthritis, seropositive
        "M06",  # other rheumatoid arthritis
        "M15",  # osteoarthritis
        "M16",
        "M17",
        "B18",  # chronic viral hepatitis
        "K50",  # Crohn's disease
        "K51",  # ulcerative colitis
        "N40",  # benign prostatic hyperplasia
        "H40",  # glaucoma
        "F20",  # schizophrenia
        "F31",  # bipolar affective disorder
        "F32",  # depressive episode
        "F33",  # recurrent depressive disorder
        "L40",  # psoriasis
    }
)


def icd10_category(code: str) -> str:
    """'e11.900x001' -> 'E11': the three-character category of an ICD-10 (or national-extension) code."""
    return code.strip().upper()[:3]
