"""The interaction table: parsing, prefix lookups in both orders, and the shipped data/interactions.csv."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from regio.care.prescription import catalog, interactions
from regio.care.prescription.interactions import (
    COLUMNS,
    Interaction,
    InteractionTable,
    Severity,
    parse_interactions,
    prefixes,
)

HEADER = ",".join(COLUMNS)
# Facts from the drug labels and Stockley's Drug Interactions; the engine tests use this table.
SAMPLE_ROWS = (
    "B01AA,B01AC,major,出血风险增加,increased bleeding risk,避免合用；必须合用时监测INR及出血征象,药品说明书; Stockley",
    "C10AA01,J01FA09,contraindicated,辛伐他汀血药浓度显著升高，横纹肌溶解风险,"
    "simvastatin exposure rises sharply: rhabdomyolysis risk,禁止合用；疗程中暂停辛伐他汀,辛伐他汀说明书",
    "C10AA05,J01FA09,major,阿托伐他汀浓度升高，肌病风险,atorvastatin exposure rises: myopathy risk,"
    "阿托伐他汀日剂量不超过20mg,阿托伐他汀说明书",
    "B01AA03,M01A,major,出血风险增加,increased bleeding risk,避免合用,华法林说明书",
    "J01FA,B01AA,moderate,INR可能升高,INR may rise,合用时加强INR监测,Stockley",
    "B01AA03,J01FA09,major,克拉霉素抑制华法林代谢，INR升高,clarithromycin raises the INR,监测INR并减量,华法林说明书",
    "N02BE01,B01AA03,minor,长期规律服用可使INR升高,regular use may raise the INR,规律服用时监测INR,Stockley",
)
SAMPLE_CSV = HEADER + "\n" + "\n".join(SAMPLE_ROWS) + "\n"


def sample_table() -> InteractionTable:
    rows, errors = parse_interactions(SAMPLE_CSV)
    assert errors == []
    return InteractionTable(rows)


def row(a: str, b: str, severity: Severity = Severity.major) -> Interaction:
    return Interaction(a, b, severity, "效应", "effect", "处理", "source")


def test_the_sample_parses_every_row() -> None:
    rows, errors = parse_interactions("\ufeff" + SAMPLE_CSV)
    assert errors == [] and len(rows) == len(SAMPLE_ROWS)
    assert rows[1].severity is Severity.contraindicated and rows[1].a == "C10AA01"


def test_bad_selectors_severities_empty_fields_and_repeated_pairs_are_errors() -> None:
    bad = (
        "B01A3,C10AA,major,e,e,m,s",  # not an ATC level
        "B01AA,C10AAA,major,e,e,m,s",
        "B01AA,C10AA,no_data,e,e,m,s",  # the engine's own level, never a row's
        "B01AA,C10AA,severe,e,e,m,s",
        "B01AA,C10AA,major,,e,m,s",
        "B01AC,B01AA,minor,e,e,m,s",  # the first sample row, reversed
    )
    rows, errors = parse_interactions(SAMPLE_CSV + "\n".join(bad) + "\n")
    found = {(e.line, e.column, e.code) for e in errors}
    first = len(SAMPLE_ROWS) + 2
    assert found == {
        (first, "a", "bad_selector"),
        (first + 1, "b", "bad_selector"),
        (first + 2, "severity", "unknown_value"),
        (first + 3, "severity", "unknown_value"),
        (first + 4, "effect_zh", "required"),
        (first + 5, "b", "duplicate_pair"),
    }
    assert len(rows) == len(SAMPLE_ROWS)


def test_a_header_without_the_columns_is_an_error_not_an_exception() -> None:
    rows, errors = parse_interactions("a,b\nB01AA,B01AC\n")
    assert rows == [] and {e.column for e in errors} == {"severity", "effect_zh", "effect_en"} | {
        "management_zh",
        "source",
    }


def test_prefixes_are_the_atc_levels() -> None:
    assert prefixes("B01AC06") == ("B", "B01", "B01A", "B01AC", "B01AC06")
    assert prefixes("B01") == ("B", "B01")


def test_between_matches_by_class_prefix_in_both_orders() -> None:
    table = sample_table()
    warfarin, aspirin = "B01AA03", "B01AC06"
    assert [r.b for r in table.between(warfarin, aspirin)] == ["B01AC"]
    assert table.between(aspirin, warfarin) == table.between(warfarin, aspirin)
    # a row naming one substance matches only that substance
    assert [r.severity for r in table.between("C10AA01", "J01FA09")] == [Severity.contraindicated]
    assert table.between("C10AA01", "J01FA10") == []  # azithromycin is not in that row
    assert table.between("C10AA02", "J01FA09") == []


def test_between_returns_every_matching_row_once_most_severe_first() -> None:
    table = sample_table()
    found = table.between("J01FA09", "B01AA03")
    assert [(r.a, r.b) for r in found] == [("B01AA03", "J01FA09"), ("J01FA", "B01AA")]
    # a row whose two selectors both match both drugs is still returned once
    table = InteractionTable([row("J01", "J01F"), row("J01F", "J01F", Severity.minor)])
    assert [(r.a, r.b) for r in table.between("J01FA09", "J01FA10")] == [("J01", "J01F"), ("J01F", "J01F")]


def test_covers_says_whether_any_row_mentions_the_drug() -> None:
    table = sample_table()
    assert table.covers("B01AC06") and table.covers("M01AE01") and table.covers("N02BE01")
    assert not table.covers("A10BA02")
    assert not table.covers("C10AA02")  # pravastatin: only simvastatin and atorvastatin rows exist
    assert len(table) == len(SAMPLE_ROWS)


SELECTORS = st.sampled_from(
    ["B", "B01", "B01A", "B01AA", "B01AA03", "B01AC", "B01AC06", "J01FA", "J01FA09", "M01A"]
)
CODES = st.sampled_from(["B01AA03", "B01AA07", "B01AC06", "J01FA09", "J01FA10", "M01AE01", "C10AA01"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(SELECTORS, SELECTORS), max_size=12, unique_by=lambda p: frozenset(p)), CODES, CODES)
def test_between_finds_exactly_what_a_scan_of_every_row_finds(
    pairs: list[tuple[str, str]], x: str, y: str
) -> None:
    table = InteractionTable([row(a, b) for a, b in pairs])
    expected = [
        r
        for r in table.rows
        if (x.startswith(r.a) and y.startswith(r.b)) or (x.startswith(r.b) and y.startswith(r.a))
    ]
    found = table.between(x, y)
    assert found == expected  # same severity throughout, so table order
    assert len({id(r) for r in found}) == len(found)
    assert table.covers(x) == any(x.startswith(s) for r in table.rows for s in (r.a, r.b))


# The shipped file


def test_the_shipped_table_parses_and_is_large_enough() -> None:
    table = interactions.shipped_interactions()
    assert len(table) >= 150


def test_every_shipped_selector_matches_a_catalog_drug() -> None:
    atcs = {drug.atc for drug in catalog.shipped_catalog()}
    unmatched = sorted(
        s for s in interactions.shipped_interactions().selectors if not any(a.startswith(s) for a in atcs)
    )
    assert unmatched == []


def test_well_known_pairs_are_in_the_shipped_table() -> None:
    table = interactions.shipped_interactions()
    warfarin_aspirin = table.between("B01AA03", "B01AC06")
    assert warfarin_aspirin and warfarin_aspirin[0].severity in {Severity.contraindicated, Severity.major}
    simvastatin_clarithromycin = table.between("J01FA09", "C10AA01")
    assert simvastatin_clarithromycin and simvastatin_clarithromycin[0].severity is Severity.contraindicated
    assert all(r.source and r.effect_zh and r.effect_en for r in table.rows)
