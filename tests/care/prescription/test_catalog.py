"""The drug catalog parser row by row, and the shipped data/drugs.csv it must accept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regio.care.prescription import catalog
from regio.care.prescription.catalog import CHRONIC_CATEGORIES, COLUMNS, Caution, Control, parse_catalog

HEADER = ",".join(COLUMNS)

# A small hand-written catalog the engine tests use too. Doses follow the Chinese labels roughly;
# what matters here is that each rule has a drug to fire on.
SAMPLE_ROWS = (
    "D0001,阿莫西林,amoxicillin,阿莫仙|再林,胶囊,0.25g,J01CA04,rx,甲,none,mg,1500,4000,90,,ok,ok,0,药品说明书",
    "D0002,头孢呋辛酯,cefuroxime axetil,西力欣,片剂,0.25g,J01DC02,rx,乙,none,mg,500,1000,30,0.25,ok,caution,0,药品说明书",
    "D0003,华法林钠,warfarin,,片剂,2.5mg,B01AA03,rx,甲,none,mg,3,10,,,avoid,ok,0,药品说明书",
    "D0004,阿司匹林,aspirin,拜阿司匹灵,肠溶片,100mg,B01AC06,rx,甲,none,mg,100,300,,16,caution,caution,0,药品说明书",
    "D0005,辛伐他汀,simvastatin,舒降之,片剂,20mg,C10AA01,rx,甲,none,mg,20,40,,10,avoid,avoid,0,药品说明书",
    "D0006,克拉霉素,clarithromycin,克拉仙,片剂,250mg,J01FA09,rx,乙,none,mg,500,1000,15,0.5,caution,caution,0,药品说明书",
    "D0007,阿托伐他汀钙,atorvastatin,立普妥,片剂,20mg,C10AA05,rx,乙,none,mg,20,80,,10,avoid,avoid,0,药品说明书",
    "D0008,硫酸吗啡缓释片,morphine,美施康定,缓释片,30mg,N02AA01,rx,甲,narcotic,mg,60,,,,avoid,avoid,0,药品说明书",
    "D0009,地西泮,diazepam,,片剂,2.5mg,N05BA01,rx,甲,psychotropic_2,mg,7.5,30,,,avoid,avoid,0,药品说明书",
    "D0010,对乙酰氨基酚,paracetamol,泰诺林|必理通,片剂,0.5g,N02BE01,otc,甲,none,mg,1500,2000,60,,ok,ok,0,药品说明书",
    "D0011,二甲双胍,metformin,格华止,片剂,0.5g,A10BA02,rx,甲,none,mg,1500,2000,,10,,,0,药品说明书",
    "D0012,沙丁胺醇,salbutamol,万托林,气雾剂,100ug/揿,R03AC02,rx,甲,none,puff,4,8,,,caution,ok,0,药品说明书",
    "D0013,阿莫西林颗粒,amoxicillin granules,,颗粒剂,0.125g,J01CA04,rx,甲,none,mg,1500,4000,90,,ok,ok,0,药品说明书",
    "D0014,亚胺培南西司他丁,imipenem and cilastatin,泰能,注射剂,0.5g,J01DH51,rx,乙,none,g,2,4,,,caution,caution,0,药品说明书",
    "D0015,氨曲南,aztreonam,,注射剂,1g,J01DF01,rx,乙,none,g,3,8,,,caution,caution,0,药品说明书",
    "D0016,布洛芬,ibuprofen,芬必得,缓释胶囊,0.3g,M01AE01,otc,甲,none,mg,600,1200,30,0.5,caution,ok,0,药品说明书",
    "D0017,萘普生,naproxen,,片剂,0.25g,M01AE02,rx,乙,none,mg,500,1000,,,caution,caution,0,药品说明书",
    "D0018,胰岛素注射液,insulin (human),诺和灵R,注射剂,400IU/10ml,A10AB01,rx,甲,none,IU,30,,,,ok,ok,1,药品说明书",
)
SAMPLE_CSV = HEADER + "\n" + "\n".join(SAMPLE_ROWS) + "\n"


def sample_catalog() -> dict[str, catalog.Drug]:
    report = parse_catalog(SAMPLE_CSV)
    assert report.ok, report.errors
    return {drug.code: drug for drug in report.drugs}


def with_row(row: str) -> catalog.CatalogReport:
    return parse_catalog(HEADER + "\n" + SAMPLE_ROWS[0] + "\n" + row + "\n")


def errors_of(row: str) -> set[tuple[int, str, str]]:
    return {(error.line, error.column, error.code) for error in with_row(row).errors}


def replace(row: str, column: str, value: str) -> str:
    fields = row.split(",")
    fields[COLUMNS.index(column)] = value
    return ",".join(fields)


GOOD = SAMPLE_ROWS[2].replace("D0003", "D0099")


def test_the_sample_parses_into_typed_drugs() -> None:
    drugs = sample_catalog()
    assert len(drugs) == len(SAMPLE_ROWS)
    amoxicillin = drugs["D0001"]
    assert amoxicillin.brands == ("阿莫仙", "再林")
    assert amoxicillin.rx is True and drugs["D0010"].rx is False
    assert amoxicillin.insurance_class == "甲"
    assert amoxicillin.adult_max_daily == 4000.0 and amoxicillin.child_min_age_years is None
    assert amoxicillin.pregnancy is Caution.ok and drugs["D0011"].pregnancy is None
    assert drugs["D0008"].control is Control.narcotic and drugs["D0008"].controlled
    assert not amoxicillin.controlled
    assert drugs["D0018"].cold_chain is True and amoxicillin.cold_chain is False
    assert drugs["D0002"].child_min_age_years == 0.25


def test_pinyin_holds_the_initials_of_the_generic_name_and_each_brand() -> None:
    drugs = sample_catalog()
    assert drugs["D0001"].pinyin == "amxl amx zl"
    assert drugs["D0003"].pinyin == "hfln"
    # Latin letters and digits in a brand stay, lower-cased
    assert drugs["D0018"].pinyin == "ydszsy nhlr"


def test_a_utf8_bom_before_the_header_is_accepted() -> None:
    report = parse_catalog("\ufeff" + SAMPLE_CSV)
    assert report.ok and len(report.drugs) == len(SAMPLE_ROWS)


def test_a_header_missing_a_column_names_each_missing_column_on_line_1() -> None:
    header = ",".join(name for name in COLUMNS if name not in {"atc", "source"})
    report = parse_catalog(header + "\nD0001,x\n")
    assert not report.ok and report.drugs == []
    assert {(e.line, e.column, e.code) for e in report.errors} == {
        (1, "atc", "missing_column"),
        (1, "source", "missing_column"),
    }


def test_extra_columns_and_reordered_columns_are_fine() -> None:
    columns = (*reversed(COLUMNS), "note")
    rows = [",".join(reversed(row.split(","))) + ",whatever" for row in SAMPLE_ROWS[:3]]
    report = parse_catalog(",".join(columns) + "\n" + "\n".join(rows))
    assert report.ok, report.errors
    assert [drug.code for drug in report.drugs] == ["D0001", "D0002", "D0003"]


def test_a_good_row_has_no_errors_and_blank_lines_are_skipped() -> None:
    report = parse_catalog(HEADER + "\n\n" + GOOD + "\n\n")
    assert report.ok and [drug.code for drug in report.drugs] == ["D0099"]


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("code", "d1", "bad_code"),
        ("code", "", "required"),
        ("name_zh", "", "required"),
        ("atc", "B01AA3", "bad_atc"),
        ("atc", "Z01AA03", "bad_atc"),
        ("rx", "yes", "unknown_value"),
        ("insurance_class", "丙", "unknown_value"),
        ("control", "opioid", "unknown_value"),
        ("control", "", "required"),
        ("dose_unit", "tablet", "unknown_value"),
        ("adult_usual_daily", "three", "bad_number"),
        ("adult_max_daily", "nan", "bad_number"),
        ("adult_max_daily", "-1", "negative"),
        ("adult_max_daily", "0", "zero"),
        ("child_min_age_years", "-2", "negative"),
        ("pregnancy", "never", "unknown_value"),
        ("lactation", "no", "unknown_value"),
        ("cold_chain", "yes", "unknown_value"),
        ("source", "", "required"),
    ],
)
def test_each_bad_value_is_reported_on_its_line_and_column(column: str, value: str, code: str) -> None:
    report = with_row(replace(GOOD, column, value))
    assert {(e.line, e.column, e.code) for e in report.errors} == {(3, column, code)}
    assert [drug.code for drug in report.drugs] == ["D0001"]
    assert all(e.message_zh and e.message_en for e in report.errors)


def test_a_maximum_below_the_usual_dose_is_an_error() -> None:
    row = replace(replace(GOOD, "adult_usual_daily", "20"), "adult_max_daily", "10")
    assert errors_of(row) == {(3, "adult_max_daily", "max_below_usual")}
    assert errors_of(replace(GOOD, "adult_max_daily", "3")) == set()


def test_a_repeated_code_is_an_error_naming_the_first_line() -> None:
    report = with_row(SAMPLE_ROWS[0].replace("阿莫西林", "阿莫西林X"))
    assert [(e.line, e.column, e.code) for e in report.errors] == [(3, "code", "duplicate_code")]
    assert "line 2" in report.errors[0].message_en and "第 2 行" in report.errors[0].message_zh
    assert len(report.drugs) == 1 and report.drugs[0].name_zh == "阿莫西林"


def test_a_row_with_the_wrong_number_of_fields_is_an_error() -> None:
    assert errors_of("D0099,华法林钠") == {(3, "", "field_count")}


def test_lines_count_physical_lines_even_across_a_quoted_newline() -> None:
    multi = replace(GOOD, "strength", '"2.5mg\n(每片)"')
    report = parse_catalog(HEADER + "\n" + multi + "\n" + replace(GOOD, "code", "bad") + "\n")
    assert [(e.line, e.code) for e in report.errors] == [(4, "bad_code")]
    assert report.drugs[0].strength == "2.5mg\n(每片)"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_catalog_never_raises_on_arbitrary_text(text: str) -> None:
    report = parse_catalog(text)
    assert isinstance(report.errors, list)
    if not text.strip():
        assert not report.ok


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"])), max_size=22), max_size=5)
)
def test_parse_catalog_never_raises_on_rows_of_arbitrary_fields(rows: list[list[str]]) -> None:
    body = "\n".join(",".join(fields) for fields in rows)
    report = parse_catalog(HEADER + "\n" + body)
    # every drug it does return passed the checks
    for drug in report.drugs:
        assert catalog.CODE.match(drug.code) and catalog.ATC.match(drug.atc)


def test_chronic_categories_are_three_character_icd10_categories_including_the_named_ones() -> None:
    assert all(len(code) == 3 and code[0].isalpha() and code[1:].isdigit() for code in CHRONIC_CATEGORIES)
    assert {"I10", "E11", "I25", "I50", "I48", "J44", "J45", "E78", "N18", "E03", "E05"} <= CHRONIC_CATEGORIES
    assert {"G40", "G20", "M81", "M10", "B18"} <= CHRONIC_CATEGORIES
    assert "J06" not in CHRONIC_CATEGORIES  # an upper respiratory infection is not chronic
    assert catalog.icd10_category(" e11.900x001") == "E11"


# The shipped file


def test_the_shipped_catalog_parses_without_errors_and_is_large_enough() -> None:
    drugs = catalog.shipped_catalog()
    assert len(drugs) >= 300
    assert sum(drug.controlled for drug in drugs) >= 20
    assert len({drug.code for drug in drugs}) == len(drugs)
    assert catalog.shipped_by_code()[drugs[0].code] is drugs[0]


def test_the_shipped_catalog_has_well_known_drugs_with_their_real_atc_codes() -> None:
    by_name = {drug.name_en.lower(): drug for drug in catalog.shipped_catalog()}
    names = {drug.name_en.lower() for drug in catalog.shipped_catalog()}
    for name, atc in (("warfarin", "B01AA03"), ("simvastatin", "C10AA01"), ("metformin", "A10BA02")):
        matching = [n for n in names if n.startswith(name)]
        assert matching, name
        assert any(by_name[n].atc == atc for n in matching), name
    assert all(drug.pinyin for drug in catalog.shipped_catalog())
