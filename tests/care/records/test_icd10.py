"""The shipped ICD-10 subset and its search: the codes an online outpatient service needs, found by
code, by the official Chinese name or by the words doctors type."""

from __future__ import annotations

import time

from regio.care.records import icd10

INDEX = icd10.index()


def test_the_data_file_names_its_source_and_holds_a_few_hundred_unique_codes() -> None:
    header = icd10.DATA_FILE.read_text(encoding="utf-8").split("\ncode,")[0]
    assert "国家临床版 2.0" in header and "WHO ICD-10" in header
    codes = [entry.code for entry in INDEX.entries]
    assert len(codes) >= 300 and len(codes) == len(set(codes))
    assert all(entry.name_zh and entry.name_en for entry in INDEX.entries)


def test_the_subset_covers_the_common_outpatient_conditions() -> None:
    categories = {entry.category for entry in INDEX.entries}
    respiratory = {f"J{n:02d}" for n in (0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 21, 22)}
    assert respiratory <= categories
    chronic = set("I10 I11 I12 I13 I15 E10 E11 E12 E13 E14 F32 F41 R50".split())
    assert chronic <= categories
    assert INDEX.get("U07.1") is not None and "新型冠状病毒" in INDEX.get("U07.1").name_zh  # type: ignore[union-attr]
    assert any(code.startswith("O") for code in categories)  # pregnancy


def test_search_by_code_prefix_ignores_case_and_the_dot() -> None:
    assert [e.code for e in INDEX.search("j06")] == ["J06", "J06.9"]
    assert [e.code for e in INDEX.search("J069")] == ["J06.9"]
    assert INDEX.search("e11")[0].code == "E11"
    assert INDEX.get("e119") is not None and INDEX.get("e119").code == "E11.9"  # type: ignore[union-attr]


def test_search_by_chinese_name_skips_the_brackets_of_official_names() -> None:
    assert [e.code for e in INDEX.search("原发性高血压")] == ["I10"]
    assert [e.code for e in INDEX.search("普通感冒")] == ["J00"]
    assert "B08.4" in [e.code for e in INDEX.search("手足口病")]
    fever = [e.code for e in INDEX.search("发热")]
    assert fever[:2] == ["R50.9", "R50"]  # names that start with the words come first


def test_search_by_english_name_and_limits() -> None:
    assert "J45" in [e.code for e in INDEX.search("asthma", limit=50)]
    assert len(INDEX.search("a", limit=5)) == 5
    assert INDEX.search("   ") == [] and INDEX.search("不存在的病名") == []


def test_a_search_takes_well_under_a_millisecond() -> None:
    queries = ["高血压", "j0", "diabetes", "发热", "U07"] * 200
    started = time.perf_counter()
    for query in queries:
        INDEX.search(query)
    per_search = (time.perf_counter() - started) / len(queries)
    assert per_search < 0.002, per_search  # generous for a shared machine; typically ~0.1 ms


def test_common_clinical_names_find_their_codes() -> None:
    assert [e.code for e in INDEX.search("2型糖尿病")][:1] == ["E11"]
    assert [e.code for e in INDEX.search("冠心病")] == ["I25", "I25.1"]
    assert INDEX.search("新冠")[0].code == "U07.1"
    assert INDEX.search("高血压")[0].code == "I10"  # "高血压病" is I10's everyday name
