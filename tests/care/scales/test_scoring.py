"""Scoring PHQ-9 and GAD-7 at every band boundary, item 9, and the scale files' own checks: pure."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from regio.care.scales import catalog, errors, policies

SCALES = catalog.catalog()
PHQ9 = SCALES["phq9"]
GAD7 = SCALES["gad7"]


def answers_summing_to(total: int, items: int, *, last_zero: bool = True) -> list[int]:
    """Answers 0–3 adding up to `total`, filled from the first item (the last stays 0 when it can)."""
    values = [0] * items
    rest = total
    order = list(range(items - 1 if last_zero and total <= 3 * (items - 1) else items))
    for index in order:
        values[index] = min(3, rest)
        rest -= values[index]
    assert rest == 0 and sum(values) == total
    return values


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (24, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_bands_at_every_boundary(total: int, band: str) -> None:
    scored = policies.score(PHQ9, answers_summing_to(total, 9))
    assert (scored.score, scored.band.code) == (total, band)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_bands_at_every_boundary(total: int, band: str) -> None:
    scored = policies.score(GAD7, answers_summing_to(total, 7, last_zero=False))
    assert (scored.score, scored.band.code) == (total, band)
    assert scored.urgent is False  # GAD-7 has no self-harm item


def test_phq9_item_9_above_0_is_urgent_whatever_the_total() -> None:
    scored = policies.score(PHQ9, [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert scored.urgent is True and scored.band.code == "minimal"
    assert [flag.code for flag in scored.flags] == ["self_harm_thoughts"]


def test_phq9_item_9_at_0_is_not_urgent_even_when_severe() -> None:
    scored = policies.score(PHQ9, [3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert scored.urgent is False and scored.band.code == "severe"


@pytest.mark.parametrize("answers", [[0] * 8, [0] * 10, []])
def test_the_wrong_number_of_answers_is_refused(answers: list[int]) -> None:
    with pytest.raises(errors.WrongAnswerCount):
        policies.score(PHQ9, answers)


@pytest.mark.parametrize("bad", [4, -1, 100])
def test_answers_out_of_range_are_refused(bad: int) -> None:
    with pytest.raises(errors.AnswerOutOfRange) as refused:
        policies.score(PHQ9, [0, 0, bad, 0, 0, 0, 0, 0, 0])
    assert refused.value.details["position"] == 3


def test_the_standard_wording_and_options() -> None:
    assert [option.zh for option in PHQ9.options] == ["完全不会", "好几天", "一半以上的天数", "几乎每天"]
    assert PHQ9.items[8].en.startswith("Thoughts that you would be better off dead")
    assert (PHQ9.loinc, GAD7.loinc) == ("44249-1", "69737-5")
    assert (PHQ9.max_score, GAD7.max_score) == (27, 21)


def _raw(name: str) -> dict[str, Any]:
    return json.loads((catalog.DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw["bands"][1].update(min=6), "without gaps"),
        (lambda raw: raw["bands"][-1].update(max=26), "maximum score"),
        (lambda raw: raw["flags"][0].update(item="10"), "unknown item"),
        (lambda raw: raw.update(id="PHQ 9!"), "scale id"),
        (lambda raw: raw["options"].append(copy.deepcopy(raw["options"][0])), "distinct"),
        (lambda raw: raw.pop("items"), "malformed"),
    ],
)
def test_a_broken_scale_file_is_refused_on_load(change: Any, message: str) -> None:
    raw = _raw("phq9")
    change(raw)
    with pytest.raises(catalog.ScaleFileError, match=message):
        catalog.parse(raw)


def test_crisis_hotlines_include_the_national_lines() -> None:
    numbers = [line.number for line in catalog.hotlines()]
    assert {"400-161-9995", "010-82951332", "12356"} <= set(numbers)
