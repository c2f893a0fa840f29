"""The prescription safety-check engine: pure rules over a patient, the lines, the catalog and the table."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from regio.care.prescription.catalog import CHRONIC_CATEGORIES, Caution, Control, Drug, icd10_category
from regio.care.prescription.interactions import RANK, SELECTOR, Interaction, InteractionTable, Severity

__all__ = [
    "FREQUENCIES",
    "ROUTES",
    "Finding",
    "Kind",
    "Line",
    "Patient",
    "Severity",
    "blocking",
    "check",
    "needing_override",
]


class Kind(StrEnum):
    ordinary = "ordinary"
    emergency = "emergency"
    long_term = "long_term"


# code -> (administrations per day on average, zh, en); prn has no fixed count
FREQUENCIES: dict[str, tuple[float | None, str, str]] = {
    "qd": (1.0, "每日一次", "once daily"),
    "bid": (2.0, "每日两次", "twice daily"),
    "tid": (3.0, "每日三次", "three times daily"),
    "qid": (4.0, "每日四次", "four times daily"),
    "q6h": (4.0, "每6小时一次", "every 6 hours"),
    "q8h": (3.0, "每8小时一次", "every 8 hours"),
    "q12h": (2.0, "每12小时一次", "every 12 hours"),
    "qn": (1.0, "每晚一次", "every night"),
    "qod": (0.5, "隔日一次", "every other day"),
    "qw": (1.0 / 7.0, "每周一次", "once weekly"),
    "st": (1.0, "立即", "at once"),
    "prn": (None, "按需", "as needed"),
}

ROUTES: dict[str, tuple[str, str]] = {
    "po": ("口服", "oral"),
    "iv": ("静脉注射", "intravenous"),
    "im": ("肌内注射", "intramuscular"),
    "sc": ("皮下注射", "subcutaneous"),
    "inh": ("吸入", "inhaled"),
    "top": ("外用", "topical"),
    "oph": ("滴眼", "ophthalmic"),
    "sl": ("舌下", "sublingual"),
    "pr": ("直肠", "rectal"),
    "nas": ("鼻用", "nasal"),
}

# mass units convert; every other unit (ml, IU, puff, ...) only matches itself
_MASS_IN_MG = {"g": 1000.0, "mg": 1.0, "ug": 0.001, "μg": 0.001, "mcg": 0.001}

_CONTROL_NAMES: dict[Control, tuple[str, str]] = {
    Control.narcotic: ("麻醉药品", "a narcotic drug"),
    Control.psychotropic_1: ("第一类精神药品", "a class I psychotropic drug"),
    Control.psychotropic_2: ("第二类精神药品", "a class II psychotropic drug"),
    Control.precursor: ("药品类易制毒化学品", "a drug-type precursor chemical"),
    Control.toxic: ("医疗用毒性药品", "a toxic drug for medical use"),
    Control.radioactive: ("放射性药品", "a radioactive drug"),
}

SOURCE_ONLINE = "互联网诊疗管理办法(试行) 第十九条; 互联网诊疗监管细则(试行)"
SOURCE_QUANTITY = "处方管理办法 第十九条"
SOURCE_LONG_TERM = "长期处方管理规范(试行) 第十三条"
SOURCE_LONG_TERM_DIAGNOSIS = "长期处方管理规范(试行)"
SOURCE_DUPLICATE = "医院处方点评管理规范(试行) 第十八条"
SOURCE_LABEL = "药品说明书"
SOURCE_CROSS = "药品说明书 (头孢菌素类/碳青霉烯类 青霉素过敏者慎用); BNF: beta-lactam antibacterials"

ORDINARY_MAX_DAYS = 7
EMERGENCY_MAX_DAYS = 3
LONG_TERM_USUAL_DAYS = 28  # 4 weeks
LONG_TERM_MAX_DAYS = 84  # 12 weeks

PENICILLINS = "J01C"
# cephalosporins (J01DB-DE, J01DI) and carbapenems (J01DH); monobactams (J01DF) are left out
# because aztreonam's cross-reactivity with penicillins is negligible (BNF)
CROSS_SENSITIVE = ("J01DB", "J01DC", "J01DD", "J01DE", "J01DI", "J01DH")

# allergy words patients and doctors write for a whole class, mapped to its ATC selector
ALLERGY_CLASSES: dict[str, str] = {
    "青霉素类": "J01C",
    "penicillins": "J01C",
    "头孢菌素类": "J01DB",
    "头孢类": "J01DB",
    "cephalosporins": "J01DB",
    "磺胺类": "J01E",
    "sulfonamides": "J01E",
    "喹诺酮类": "J01MA",
    "fluoroquinolones": "J01MA",
    "quinolones": "J01M",
    "大环内酯类": "J01FA",
    "macrolides": "J01FA",
}
# a few classes span several selectors
_CLASS_EXTRA: dict[str, tuple[str, ...]] = {
    "J01DB": ("J01DB", "J01DC", "J01DD", "J01DE", "J01DI"),
}


@dataclass(frozen=True)
class Patient:
    age_years: float
    sex: str  # "male" / "female" / "unknown"
    weight_kg: float | None = None
    pregnant: bool | None = None
    trimester: int | None = None
    lactating: bool | None = None
    allergies: tuple[str, ...] = ()  # catalog codes, generic names (zh/en) or ATC selectors
    diagnoses: tuple[str, ...] = ()  # ICD-10 codes


@dataclass(frozen=True)
class Line:
    drug_code: str
    dose: float
    dose_unit: str
    route: str
    frequency: str
    days: int
    prn_max_per_day: float | None = None


@dataclass(frozen=True)
class Finding:
    key: str  # stable: an override reason refers to it
    check: str
    severity: Severity
    drugs: tuple[str, ...]
    message_zh: str
    message_en: str
    source: str
    management_zh: str = ""


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """Findings that stop the prescription outright."""
    return [finding for finding in findings if finding.severity is Severity.contraindicated]


def needing_override(findings: Iterable[Finding]) -> list[Finding]:
    """Findings the doctor may override only by giving a reason."""
    return [finding for finding in findings if finding.severity is Severity.major]


def _num(value: float) -> str:
    return f"{value:.4g}"


def _pair_key(check: str, first: str, second: str) -> str:
    low, high = sorted((first, second))
    return f"{check}:{low}:{high}"


class _Findings:
    """Findings by key; a key met twice keeps its most severe finding (two lines of one drug, say)."""

    def __init__(self) -> None:
        self.by_key: dict[str, Finding] = {}

    def add(
        self,
        key: str,
        check: str,
        severity: Severity,
        drugs: tuple[str, ...],
        zh: str,
        en: str,
        source: str,
        management_zh: str = "",
    ) -> None:
        known = self.by_key.get(key)
        if known is None or RANK[severity] < RANK[known.severity]:
            self.by_key[key] = Finding(key, check, severity, drugs, zh, en, source, management_zh)

    def sorted(self) -> list[Finding]:
        return sorted(self.by_key.values(), key=lambda f: (RANK[f.severity], f.key))


def _validate(lines: Sequence[Line]) -> None:
    for line in lines:
        if line.days < 1 or not (line.dose > 0 and math.isfinite(line.dose)):
            raise ValueError(f"line {line.drug_code}: days must be ≥ 1 and dose > 0 (the caller validates)")
        if line.prn_max_per_day is not None and not (
            line.prn_max_per_day > 0 and math.isfinite(line.prn_max_per_day)
        ):
            raise ValueError(f"line {line.drug_code}: prn_max_per_day must be > 0")


def check(
    patient: Patient,
    lines: Sequence[Line],
    *,
    kind: Kind,
    catalog: Mapping[str, Drug],
    interactions: InteractionTable,
) -> list[Finding]:
    """Every finding on this prescription, most severe first, then by key.

    Raises ValueError only for input the caller must reject before asking (days < 1, a dose or
    prn_max_per_day not above 0); anything about the drugs or the patient is a finding.
    """
    _validate(lines)
    out = _Findings()
    known: list[tuple[Line, Drug]] = []
    for line in lines:
        drug = catalog.get(line.drug_code)
        if drug is None:
            out.add(
                f"unknown_drug:{line.drug_code}",
                "unknown_drug",
                Severity.no_data,
                (line.drug_code,),
                f"药品编码 {line.drug_code} 不在药品目录中，未做任何核对",
                f"Drug code {line.drug_code} is not in the catalog; nothing was checked for it",
                "药品目录",
            )
        else:
            known.append((line, drug))
    _prescribing_rules(patient, known, kind, out)
    _interactions(known, interactions, out)
    _duplicates(known, out)
    _allergies(patient, known, catalog, out)
    _pregnancy_and_lactation(patient, known, out)
    _doses(patient, known, out)
    return out.sorted()


def _prescribing_rules(patient: Patient, known: list[tuple[Line, Drug]], kind: Kind, out: _Findings) -> None:
    for line, drug in known:
        if drug.controlled:
            zh_class, en_class = _CONTROL_NAMES[drug.control]
            out.add(
                f"controlled_drug:{drug.code}",
                "controlled_drug",
                Severity.contraindicated,
                (drug.code,),
                f"{drug.name_zh}属于{zh_class}，互联网诊疗不得开具麻醉药品、精神药品等特殊管理药品处方",
                f"{drug.name_en} is {en_class}; special-control drugs may not be prescribed online",
                SOURCE_ONLINE,
                "请改为线下就诊开具",
            )
        if kind is Kind.long_term:
            if line.days > LONG_TERM_MAX_DAYS:
                out.add(
                    f"long_term:{drug.code}",
                    "long_term",
                    Severity.contraindicated,
                    (drug.code,),
                    f"{drug.name_zh}长期处方 {line.days} 天，超过最长 12 周（84 天）",
                    f"{drug.name_en}: {line.days} days on a long-term prescription, over the 12-week (84-day) limit",
                    SOURCE_LONG_TERM,
                )
            elif line.days > LONG_TERM_USUAL_DAYS:
                out.add(
                    f"long_term:{drug.code}",
                    "long_term",
                    Severity.major,
                    (drug.code,),
                    f"{drug.name_zh}长期处方 {line.days} 天，超过一般 4 周用量，须注明理由",
                    f"{drug.name_en}: {line.days} days is over the usual 4 weeks of a long-term prescription; "
                    "a reason is needed",
                    SOURCE_LONG_TERM,
                )
        else:
            limit = ORDINARY_MAX_DAYS if kind is Kind.ordinary else EMERGENCY_MAX_DAYS
            if line.days > limit:
                zh_kind, en_kind = (
                    ("普通处方", "an ordinary") if kind is Kind.ordinary else ("急诊处方", "an emergency")
                )
                out.add(
                    f"quantity:{drug.code}",
                    "quantity",
                    Severity.contraindicated,
                    (drug.code,),
                    f"{drug.name_zh}开具 {line.days} 天，{zh_kind}不得超过 {limit} 日用量",
                    f"{drug.name_en}: {line.days} days; {en_kind} prescription may cover at most {limit} days",
                    SOURCE_QUANTITY,
                )
    if kind is Kind.long_term and known:
        if not any(icd10_category(code) in CHRONIC_CATEGORIES for code in patient.diagnoses):
            out.add(
                "long_term:diagnosis",
                "long_term",
                Severity.contraindicated,
                tuple(sorted({drug.code for _, drug in known})),
                "长期处方须有适用的慢性病诊断，本次诊断中没有",
                "A long-term prescription needs a chronic-disease diagnosis; none of the diagnoses is one",
                SOURCE_LONG_TERM_DIAGNOSIS,
            )


def _interactions(known: list[tuple[Line, Drug]], table: InteractionTable, out: _Findings) -> None:
    drugs = [drug for _, drug in known]
    for i, first in enumerate(drugs):
        for second in drugs[i + 1 :]:
            rows = table.between(first.atc, second.atc)
            if rows:
                _add_interaction(first, second, rows, out)
    if len(drugs) >= 2:
        for drug in drugs:
            if not table.covers(drug.atc):
                out.add(
                    f"no_interaction_data:{drug.code}",
                    "no_interaction_data",
                    Severity.no_data,
                    (drug.code,),
                    f"互作表中无{drug.name_zh}的数据，请人工核对",
                    f"No interaction data for {drug.name_en}; check by hand",
                    "相互作用表",
                )


def _add_interaction(first: Drug, second: Drug, rows: list[Interaction], out: _Findings) -> None:
    # one finding per pair of drugs, however many rows match, so that an override names one key
    worst = min(rows, key=lambda row: RANK[row.severity])
    zh = "；".join(row.effect_zh for row in rows)
    en = "; ".join(row.effect_en for row in rows)
    out.add(
        _pair_key("interaction", first.code, second.code),
        "interaction",
        worst.severity,
        tuple(sorted({first.code, second.code})),
        f"{first.name_zh}与{second.name_zh}：{zh}",
        f"{first.name_en} with {second.name_en}: {en}",
        "; ".join(dict.fromkeys(row.source for row in rows)),
        "；".join(dict.fromkeys(row.management_zh for row in rows if row.management_zh)),
    )


def _duplicates(known: list[tuple[Line, Drug]], out: _Findings) -> None:
    drugs = [drug for _, drug in known]
    for i, first in enumerate(drugs):
        for second in drugs[i + 1 :]:
            if first.atc == second.atc:
                severity, zh, en = Severity.major, "同一药物成分", "the same substance"
            elif first.atc[:5] == second.atc[:5]:
                severity, zh, en = Severity.moderate, "同类药物", "drugs of the same chemical subgroup"
            else:
                continue
            out.add(
                _pair_key("duplicate_therapy", first.code, second.code),
                "duplicate_therapy",
                severity,
                tuple(sorted({first.code, second.code})),
                f"重复用药：{first.name_zh}与{second.name_zh}为{zh}（ATC {first.atc} / {second.atc}）",
                f"Duplicate therapy: {first.name_en} and {second.name_en} are {en} "
                f"(ATC {first.atc} / {second.atc})",
                SOURCE_DUPLICATE,
            )


@dataclass(frozen=True, slots=True)
class _Allergen:
    """What one allergy entry means: drug codes and names it names, and ATC selectors it covers."""

    entry: str
    codes: frozenset[str]
    names: frozenset[str]
    selectors: tuple[str, ...]

    @property
    def penicillin(self) -> bool:
        return any(selector.startswith(PENICILLINS) for selector in self.selectors)

    def matches(self, drug: Drug) -> bool:
        return (
            drug.code in self.codes
            or not self.names.isdisjoint(drug.names)
            or any(drug.atc.startswith(selector) for selector in self.selectors)
        )


def _resolve_allergy(entry: str, catalog: Mapping[str, Drug]) -> _Allergen | None:
    folded = entry.casefold()
    upper = entry.upper()
    codes: set[str] = set()
    selectors: list[str] = []
    if upper in catalog:
        codes.add(upper)
        selectors.append(catalog[upper].atc)
    if SELECTOR.match(upper):
        selectors.append(upper)
    if folded in ALLERGY_CLASSES:
        selector = ALLERGY_CLASSES[folded]
        selectors.extend(_CLASS_EXTRA.get(selector, (selector,)))
    # a named drug stands for its substance: other products with the same ATC code match too
    named = [drug for drug in catalog.values() if folded in drug.names]
    for drug in named:
        codes.add(drug.code)
        selectors.append(drug.atc)
    if not codes and not selectors:
        return None
    return _Allergen(entry, frozenset(codes), frozenset({folded}), tuple(dict.fromkeys(selectors)))


def _allergies(
    patient: Patient, known: list[tuple[Line, Drug]], catalog: Mapping[str, Drug], out: _Findings
) -> None:
    for entry in dict.fromkeys(entry.strip() for entry in patient.allergies):
        if not entry:
            continue
        allergen = _resolve_allergy(entry, catalog)
        if allergen is None:
            out.add(
                f"allergy_unchecked:{entry}",
                "allergy",
                Severity.no_data,
                (),
                f"过敏史“{entry}”无法对应到药品目录或 ATC 分类，未能核对，请人工确认",
                f"Allergy {entry!r} matches no catalog drug or ATC class and could not be checked; "
                "check by hand",
                "药品目录",
            )
            continue
        for _, drug in known:
            if allergen.matches(drug):
                out.add(
                    f"allergy:{drug.code}",
                    "allergy",
                    Severity.contraindicated,
                    (drug.code,),
                    f"患者对“{entry}”过敏，{drug.name_zh}禁用",
                    f"The patient is allergic to {entry!r}; {drug.name_en} must not be given",
                    SOURCE_LABEL,
                    "请更换为不同类别的药物",
                )
            elif allergen.penicillin and drug.atc.startswith(CROSS_SENSITIVE):
                out.add(
                    f"allergy:{drug.code}",
                    "allergy",
                    Severity.major,
                    (drug.code,),
                    f"患者对青霉素类（“{entry}”）过敏，{drug.name_zh}可能发生交叉过敏",
                    f"The patient is allergic to a penicillin ({entry!r}); {drug.name_en} may cross-react",
                    SOURCE_CROSS,
                    "有青霉素速发型过敏史者避免使用；必须使用时皮试并监护",
                )


def _pregnancy_and_lactation(patient: Patient, known: list[tuple[Line, Drug]], out: _Findings) -> None:
    if patient.pregnant:
        trimester = f"（妊娠第 {patient.trimester} 期）" if patient.trimester else ""
        trimester_en = f" (trimester {patient.trimester})" if patient.trimester else ""
        for _, drug in known:
            _caution(
                out,
                "pregnancy",
                drug,
                drug.pregnancy,
                (Severity.contraindicated, Severity.moderate),
                ("孕妇", "pregnancy"),
                trimester,
                trimester_en,
            )
    elif patient.pregnant is None and patient.sex == "female" and 12 <= patient.age_years <= 55 and known:
        out.add(
            "pregnancy:status_unknown",
            "pregnancy",
            Severity.no_data,
            (),
            "妊娠状态未知：育龄女性，未核对孕妇用药禁忌，请确认是否妊娠",
            "Pregnancy status unknown for a woman of child-bearing age; pregnancy cautions were not checked",
            SOURCE_LABEL,
        )
    if patient.lactating is None and patient.sex == "female" and 12 <= patient.age_years <= 55 and known:
        out.add(
            "lactation:status_unknown",
            "lactation",
            Severity.no_data,
            (),
            "哺乳状态未知：育龄女性，未核对哺乳期用药禁忌，请确认是否哺乳",
            "Breastfeeding status unknown for a woman of child-bearing age; lactation cautions were not checked",
            SOURCE_LABEL,
        )
    if patient.lactating:
        for _, drug in known:
            _caution(
                out,
                "lactation",
                drug,
                drug.lactation,
                (Severity.major, Severity.moderate),
                ("哺乳期妇女", "breastfeeding"),
                "",
                "",
            )


def _caution(
    out: _Findings,
    check: str,
    drug: Drug,
    caution: Caution | None,
    severities: tuple[Severity, Severity],
    who: tuple[str, str],
    note_zh: str,
    note_en: str,
) -> None:
    key = f"{check}:{drug.code}"
    source = drug.source or SOURCE_LABEL
    if caution is Caution.avoid:
        zh, en, severity = (
            f"{who[0]}禁用或避免使用{drug.name_zh}",
            f"{drug.name_en} is to be avoided in {who[1]}",
            severities[0],
        )
    elif caution is Caution.caution:
        zh, en, severity = (
            f"{who[0]}慎用{drug.name_zh}",
            f"{drug.name_en} needs caution in {who[1]}",
            severities[1],
        )
    elif caution is None:
        zh = f"{drug.name_zh}缺少{who[0]}用药数据，请人工核对"
        en, severity = f"No {who[1]} data for {drug.name_en}; check by hand", Severity.no_data
    else:
        return
    out.add(key, check, severity, (drug.code,), zh + note_zh, en + note_en, source)


def _to_drug_unit(amount: float, unit: str, drug_unit: str) -> float | None:
    if unit == drug_unit:
        return amount
    if unit in _MASS_IN_MG and drug_unit in _MASS_IN_MG:
        return amount * _MASS_IN_MG[unit] / _MASS_IN_MG[drug_unit]
    return None


def _doses(patient: Patient, known: list[tuple[Line, Drug]], out: _Findings) -> None:
    # two lines of one drug add up: each may be within the limit while their sum is not
    daily: dict[str, float] = {}
    drugs: dict[str, Drug] = {}
    unknown: set[str] = set()
    for line, drug in known:
        drugs[drug.code] = drug
        if line.frequency not in FREQUENCIES:
            unknown.add(drug.code)
            out.add(
                f"max_daily_dose:{drug.code}",
                "max_daily_dose",
                Severity.no_data,
                (drug.code,),
                f"{drug.name_zh}的用药频次 {line.frequency} 无法识别，未核对日剂量",
                f"{drug.name_en}: frequency {line.frequency!r} is not known; the daily dose was not checked",
                SOURCE_LABEL,
            )
            continue
        times = FREQUENCIES[line.frequency][0]
        if times is None:
            if line.prn_max_per_day is None:
                unknown.add(drug.code)
                out.add(
                    f"max_daily_dose:{drug.code}",
                    "max_daily_dose",
                    Severity.no_data,
                    (drug.code,),
                    f"{drug.name_zh}按需使用但未给出每日最多次数，无法核对日剂量",
                    f"{drug.name_en} is as needed with no daily maximum given; the daily dose was not checked",
                    SOURCE_LABEL,
                )
                continue
            times = line.prn_max_per_day
        amount = _to_drug_unit(line.dose * times, line.dose_unit, drug.dose_unit)
        if amount is None:
            unknown.add(drug.code)
            out.add(
                f"unit_mismatch:{drug.code}",
                "unit_mismatch",
                Severity.no_data,
                (drug.code,),
                f"{drug.name_zh}剂量单位 {line.dose_unit} 无法换算为目录单位 {drug.dose_unit}，未核对剂量",
                f"{drug.name_en}: unit {line.dose_unit} does not convert to the catalog's {drug.dose_unit}; "
                "the dose was not checked",
                "药品目录",
            )
            continue
        daily[drug.code] = daily.get(drug.code, 0.0) + amount
    for code, amount in daily.items():
        if code not in unknown:
            _dose_limits(patient, drugs[code], amount, out)


def _dose_limits(patient: Patient, drug: Drug, amount: float, out: _Findings) -> None:
    unit = drug.dose_unit
    source = drug.source or SOURCE_LABEL
    adult = patient.age_years >= 18
    if drug.adult_max_daily is not None and amount > drug.adult_max_daily * (1 + 1e-9):
        out.add(
            f"max_daily_dose:{drug.code}",
            "max_daily_dose",
            Severity.major,
            (drug.code,),
            f"{drug.name_zh}日剂量 {_num(amount)} {unit}，超过成人日最大剂量 {_num(drug.adult_max_daily)} {unit}",
            f"{drug.name_en}: {_num(amount)} {unit} a day is over the adult maximum of "
            f"{_num(drug.adult_max_daily)} {unit}",
            source,
        )
    elif adult and drug.adult_max_daily is None:
        out.add(
            f"max_daily_dose:{drug.code}",
            "max_daily_dose",
            Severity.no_data,
            (drug.code,),
            f"{drug.name_zh}缺少成人日最大剂量数据，请人工核对",
            f"No adult maximum daily dose for {drug.name_en}; check by hand",
            source,
        )
    if adult:
        return
    if drug.child_min_age_years is not None and patient.age_years < drug.child_min_age_years:
        out.add(
            f"child_age:{drug.code}",
            "child_age",
            Severity.major,
            (drug.code,),
            f"{drug.name_zh}用于 {_num(drug.child_min_age_years)} 岁以上儿童，患者 {_num(patient.age_years)} 岁",
            f"{drug.name_en} is for children from {_num(drug.child_min_age_years)} years; "
            f"the patient is {_num(patient.age_years)}",
            source,
        )
    per_kg = drug.child_mg_per_kg_daily_max
    key = f"paediatric_dose:{drug.code}"
    if per_kg is None:
        out.add(
            key,
            "paediatric_dose",
            Severity.no_data,
            (drug.code,),
            f"{drug.name_zh}缺少儿童按体重剂量数据，请人工核对",
            f"No weight-based children's dose for {drug.name_en}; check by hand",
            source,
        )
    elif patient.weight_kg is None or not patient.weight_kg > 0:
        out.add(
            key,
            "paediatric_dose",
            Severity.no_data,
            (drug.code,),
            f"患儿体重未知，无法核对{drug.name_zh}的剂量",
            f"The child's weight is unknown; the dose of {drug.name_en} was not checked",
            source,
        )
    elif amount > per_kg * patient.weight_kg * (1 + 1e-9):
        limit = per_kg * patient.weight_kg
        out.add(
            key,
            "paediatric_dose",
            Severity.major,
            (drug.code,),
            f"{drug.name_zh}日剂量 {_num(amount)} {unit}，超过儿童最大量 {_num(per_kg)} {unit}/kg/日 × "
            f"{_num(patient.weight_kg)} kg = {_num(limit)} {unit}",
            f"{drug.name_en}: {_num(amount)} {unit} a day is over the children's maximum of {_num(per_kg)} "
            f"{unit}/kg/day × {_num(patient.weight_kg)} kg = {_num(limit)} {unit}",
            source,
        )
