"""Medical-insurance settlement: versioned regional policies and the split of a bill into fund, account and self-pay."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "HOSPITAL_LEVELS",
    "NATIONAL",
    "VISIT_TYPES",
    "ChronicTerms",
    "Enrolment",
    "FirstVisitCover",
    "Item",
    "ItemKind",
    "Line",
    "NoPolicy",
    "Policy",
    "PolicyError",
    "RefundSplit",
    "Scheme",
    "SchemeTerms",
    "Settlement",
    "YearToDate",
    "load_policies",
    "load_policy",
    "policies",
    "policy_for",
    "province_of",
    "reverse",
    "settle",
]

POLICY_DIR = Path(__file__).resolve().parent / "data" / "policies"
NATIONAL = "000000"
WHOLE_BP = 10_000
HOSPITAL_LEVELS: tuple[str, ...] = ("tertiary", "secondary", "primary")
VISIT_TYPES: tuple[str, ...] = ("follow_up", "first_visit")
INSURANCE_CLASSES: tuple[str, ...] = ("甲", "乙")

_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
_ADCODE = re.compile(r"^[0-9]{6}$")
_ICD_CATEGORY = re.compile(r"^[A-Z][0-9]{2}$")
_CONDITION = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_LEVEL_ZH = {"tertiary": "三级", "secondary": "二级", "primary": "一级"}


class PolicyError(ValueError):
    """A policy file that does not describe a usable policy; the message names the file and the field."""


class NoPolicy(LookupError):
    """Neither the province nor the national default has a policy in force on the day asked."""


class Scheme(StrEnum):
    employee = "employee"  # 职工基本医疗保险
    resident = "resident"  # 城乡居民基本医疗保险


class ItemKind(StrEnum):
    consultation = "consultation"
    drug = "drug"
    delivery = "delivery"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def icd10_category(code: str) -> str | None:
    """The three-character ICD-10 category of a code such as "i10.x01", or None when it is not one."""
    head = code.strip().upper().split(".", 1)[0][:3]
    return head if _ICD_CATEGORY.match(head) else None


def province_of(adcode: str) -> str:
    """The province-level adcode of any region code: 330106 (西湖区) → 330000; the national code stays."""
    if not _ADCODE.match(adcode):
        raise ValueError(f"not a six-digit region code: {adcode!r}")
    return adcode[:2] + "0000"


# ---- inputs ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    kind: ItemKind
    amount_fen: int
    insurance_class: str | None = None  # 甲 / 乙 for listed drugs, None for drugs outside the list
    visit_type: str | None = None  # consultations only; None means the visit's own type

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ItemKind(self.kind))
        if not _is_int(self.amount_fen) or self.amount_fen < 0:
            raise ValueError(f"amount_fen must be a whole number of fen ≥ 0, not {self.amount_fen!r}")
        if self.insurance_class is not None and self.insurance_class not in INSURANCE_CLASSES:
            raise ValueError(f"insurance_class must be 甲, 乙 or None, not {self.insurance_class!r}")
        if self.visit_type is not None and self.visit_type not in VISIT_TYPES:
            raise ValueError(f"visit_type must be one of {VISIT_TYPES}, not {self.visit_type!r}")


@dataclass(frozen=True, slots=True)
class Enrolment:
    region_adcode: str
    scheme: Scheme
    chronic_diseases: tuple[str, ...] = ()  # ICD-10 categories of recognised 门诊慢特病
    personal_account_balance_fen: int = 0

    def __post_init__(self) -> None:
        province_of(self.region_adcode)
        object.__setattr__(self, "scheme", Scheme(self.scheme))
        categories = []
        for code in self.chronic_diseases:
            category = icd10_category(code)
            if category is None:
                raise ValueError(f"chronic disease is not an ICD-10 code: {code!r}")
            categories.append(category)
        object.__setattr__(self, "chronic_diseases", tuple(categories))
        if not _is_int(self.personal_account_balance_fen) or self.personal_account_balance_fen < 0:
            raise ValueError("personal_account_balance_fen must be a whole number of fen ≥ 0")


@dataclass(frozen=True, slots=True)
class YearToDate:
    """What the insured has used in the current insurance (calendar) year before this settlement."""

    deductible_used_fen: int = 0
    fund_paid_fen: int = 0

    def __post_init__(self) -> None:
        for name in ("deductible_used_fen", "fund_paid_fen"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ValueError(f"{name} must be a whole number of fen ≥ 0, not {value!r}")


# ---- policies ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FirstVisitCover:
    """A condition for which an internet first visit is paid by insurance, with its consultation terms."""

    code: str
    name_zh: str
    name_en: str
    icd10: frozenset[str]
    consultation_first_self_pay_bp: int

    def matches(self, condition: str) -> bool:
        return condition.strip().lower() == self.code or icd10_category(condition) in self.icd10


@dataclass(frozen=True, slots=True)
class ChronicTerms:
    """门诊慢特病: its own deductible and ratios for the listed ICD-10 categories."""

    conditions: frozenset[str]
    deductible_fen: int
    ratio_bp: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class SchemeTerms:
    deductible_fen: int
    annual_cap_fen: int
    ratio_bp: Mapping[str, int]  # by hospital level
    first_self_pay_bp: Mapping[str, int]  # by drug insurance class
    consultation_first_self_pay_bp: int
    covered_visit_types: frozenset[str]
    first_visit_covers: tuple[FirstVisitCover, ...]
    drug_classes: frozenset[str]
    delivery_covered: bool
    chronic: ChronicTerms | None
    personal_account: bool


@dataclass(frozen=True, slots=True)
class Policy:
    key: str
    version: int
    region_adcode: str
    name_zh: str
    name_en: str
    source: str
    valid_from: date
    valid_to: date | None  # inclusive; None while no end is announced
    schemes: Mapping[Scheme, SchemeTerms]
    notes: str = ""

    def terms(self, scheme: Scheme | str) -> SchemeTerms:
        return self.schemes[Scheme(scheme)]

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def is_national(self) -> bool:
        return self.region_adcode == NATIONAL


def _object(
    value: Any, where: str, required: Collection[str], optional: Collection[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: expected a JSON object")
    missing = sorted(set(required) - value.keys())
    if missing:
        raise PolicyError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(value.keys() - set(required) - set(optional))
    if unknown:
        raise PolicyError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return value


def _int(value: Any, where: str, *, high: int | None = None) -> int:
    if not _is_int(value) or value < 0 or (high is not None and value > high):
        limit = f"0…{high}" if high is not None else "≥ 0"
        raise PolicyError(f"{where}: expected a whole number {limit}, got {value!r}")
    result: int = value
    return result


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where}: expected non-empty text")
    return value.strip()


def _day(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(_text(value, where))
    except ValueError as exc:
        raise PolicyError(f"{where}: expected a YYYY-MM-DD date, got {value!r}") from exc


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"{where}: expected true or false")
    return value


def _choices(value: Any, where: str, allowed: Collection[str]) -> frozenset[str]:
    if not isinstance(value, list) or any(not isinstance(entry, str) for entry in value):
        raise PolicyError(f"{where}: expected a list of text")
    wrong = sorted(set(value) - set(allowed))
    if wrong:
        raise PolicyError(f"{where}: {', '.join(wrong)} not among {', '.join(allowed)}")
    return frozenset(value)


def _categories(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or any(not isinstance(entry, str) for entry in value):
        raise PolicyError(f"{where}: expected a list of ICD-10 categories")
    wrong = [entry for entry in value if not _ICD_CATEGORY.match(entry)]
    if wrong:
        raise PolicyError(f"{where}: not three-character ICD-10 categories: {', '.join(wrong)}")
    return frozenset(value)


def _by_level(value: Any, where: str) -> Mapping[str, int]:
    raw = _object(value, where, HOSPITAL_LEVELS)
    return MappingProxyType(
        {level: _int(raw[level], f"{where}.{level}", high=WHOLE_BP) for level in HOSPITAL_LEVELS}
    )


_SCHEME_FIELDS = (
    "deductible_fen",
    "annual_cap_fen",
    "ratio_bp",
    "first_self_pay_bp",
    "consultation_first_self_pay_bp",
    "covered_visit_types",
    "first_visit_conditions",
    "drug_classes",
    "delivery_covered",
    "chronic",
    "personal_account",
)


def _scheme_terms(value: Any, where: str, scheme: Scheme) -> SchemeTerms:
    raw = _object(value, where, _SCHEME_FIELDS)
    first_self_pay = _object(raw["first_self_pay_bp"], f"{where}.first_self_pay_bp", INSURANCE_CLASSES)
    covers_raw = raw["first_visit_conditions"]
    if not isinstance(covers_raw, dict):
        raise PolicyError(f"{where}.first_visit_conditions: expected a JSON object keyed by condition code")
    covers: list[FirstVisitCover] = []
    for code, cover in sorted(covers_raw.items()):
        at = f"{where}.first_visit_conditions.{code}"
        if not _CONDITION.match(code):
            raise PolicyError(f"{at}: condition codes are lower-case words such as covid19")
        fields = _object(cover, at, ("name_zh", "name_en", "icd10", "consultation_first_self_pay_bp"))
        covers.append(
            FirstVisitCover(
                code=code,
                name_zh=_text(fields["name_zh"], f"{at}.name_zh"),
                name_en=_text(fields["name_en"], f"{at}.name_en"),
                icd10=_categories(fields["icd10"], f"{at}.icd10"),
                consultation_first_self_pay_bp=_int(
                    fields["consultation_first_self_pay_bp"],
                    f"{at}.consultation_first_self_pay_bp",
                    high=WHOLE_BP,
                ),
            )
        )
    chronic: ChronicTerms | None = None
    if raw["chronic"] is not None:
        at = f"{where}.chronic"
        fields = _object(raw["chronic"], at, ("conditions", "deductible_fen", "ratio_bp"))
        conditions = _categories(fields["conditions"], f"{at}.conditions")
        if not conditions:
            raise PolicyError(f"{at}.conditions: list at least one ICD-10 category, or make chronic null")
        chronic = ChronicTerms(
            conditions=conditions,
            deductible_fen=_int(fields["deductible_fen"], f"{at}.deductible_fen"),
            ratio_bp=_by_level(fields["ratio_bp"], f"{at}.ratio_bp"),
        )
    personal_account = _bool(raw["personal_account"], f"{where}.personal_account")
    if personal_account and scheme is not Scheme.employee:
        # 城乡居民医保 has no personal account: a file saying otherwise is wrong, not a local variant.
        raise PolicyError(f"{where}.personal_account: the {scheme} scheme has no personal account")
    return SchemeTerms(
        deductible_fen=_int(raw["deductible_fen"], f"{where}.deductible_fen"),
        annual_cap_fen=_int(raw["annual_cap_fen"], f"{where}.annual_cap_fen"),
        ratio_bp=_by_level(raw["ratio_bp"], f"{where}.ratio_bp"),
        first_self_pay_bp=MappingProxyType(
            {
                cls: _int(first_self_pay[cls], f"{where}.first_self_pay_bp.{cls}", high=WHOLE_BP)
                for cls in INSURANCE_CLASSES
            }
        ),
        consultation_first_self_pay_bp=_int(
            raw["consultation_first_self_pay_bp"], f"{where}.consultation_first_self_pay_bp", high=WHOLE_BP
        ),
        covered_visit_types=_choices(raw["covered_visit_types"], f"{where}.covered_visit_types", VISIT_TYPES),
        first_visit_covers=tuple(covers),
        drug_classes=_choices(raw["drug_classes"], f"{where}.drug_classes", INSURANCE_CLASSES),
        delivery_covered=_bool(raw["delivery_covered"], f"{where}.delivery_covered"),
        chronic=chronic,
        personal_account=personal_account,
    )


_POLICY_FIELDS = ("key", "version", "region_adcode", "name_zh", "name_en", "source", "valid_from", "valid_to")


def load_policy(data: Any, *, origin: str = "policy") -> Policy:
    """One policy from its parsed JSON, checked field by field; errors start with `origin`."""
    raw = _object(data, origin, (*_POLICY_FIELDS, "schemes"), ("notes",))
    key = _text(raw["key"], f"{origin}.key")
    if not _KEY.match(key):
        raise PolicyError(f"{origin}.key: use lower-case letters, digits and hyphens, got {key!r}")
    version = _int(raw["version"], f"{origin}.version")
    if version < 1:
        raise PolicyError(f"{origin}.version: versions start at 1")
    region = _text(raw["region_adcode"], f"{origin}.region_adcode")
    if not _ADCODE.match(region) or not region.endswith("0000"):
        raise PolicyError(f"{origin}.region_adcode: expected a province code such as 330000 or {NATIONAL}")
    valid_from = _day(raw["valid_from"], f"{origin}.valid_from")
    valid_to = None if raw["valid_to"] is None else _day(raw["valid_to"], f"{origin}.valid_to")
    if valid_to is not None and valid_to < valid_from:
        raise PolicyError(f"{origin}.valid_to: ends before valid_from")
    schemes_raw = _object(raw["schemes"], f"{origin}.schemes", [scheme.value for scheme in Scheme])
    notes = raw.get("notes", "")
    if not isinstance(notes, str):
        raise PolicyError(f"{origin}.notes: expected text")
    return Policy(
        key=key,
        version=version,
        region_adcode=region,
        name_zh=_text(raw["name_zh"], f"{origin}.name_zh"),
        name_en=_text(raw["name_en"], f"{origin}.name_en"),
        source=_text(raw["source"], f"{origin}.source"),
        valid_from=valid_from,
        valid_to=valid_to,
        schemes=MappingProxyType(
            {
                scheme: _scheme_terms(schemes_raw[scheme.value], f"{origin}.schemes.{scheme}", scheme)
                for scheme in Scheme
            }
        ),
        notes=notes.strip(),
    )


def load_policies(directory: Path) -> list[Policy]:
    """Every *.json policy in a directory, one policy per file; a key and version may appear only once."""
    loaded: list[Policy] = []
    seen: dict[tuple[str, int], str] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise PolicyError(f"{path.name}: not valid JSON ({exc})") from exc
        policy = load_policy(data, origin=path.name)
        identity = (policy.key, policy.version)
        if identity in seen:
            raise PolicyError(
                f"{path.name}: {policy.key} version {policy.version} is also in {seen[identity]}"
            )
        seen[identity] = path.name
        loaded.append(policy)
    return loaded


@lru_cache(maxsize=1)
def _shipped() -> tuple[Policy, ...]:
    return tuple(load_policies(POLICY_DIR))


def policies() -> list[Policy]:
    """The policies shipped with the platform (read once per process)."""
    return list(_shipped())


def policy_for(region_adcode: str, on: date, policies: Sequence[Policy] | None = None) -> Policy:
    """The province's policy in force on `on`, else the national default; the highest version wins."""
    pool = _shipped() if policies is None else policies
    for region in dict.fromkeys((province_of(region_adcode), NATIONAL)):
        in_force = [policy for policy in pool if policy.region_adcode == region and policy.valid_on(on)]
        if in_force:
            return max(in_force, key=lambda policy: (policy.version, policy.valid_from))
    raise NoPolicy(f"no insurance policy for {region_adcode} or the national default on {on.isoformat()}")


# ---- settlement --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    kind: ItemKind
    amount_fen: int
    fund_fen: int
    personal_account_fen: int
    out_of_pocket_fen: int
    rule_zh: str
    rule_en: str


@dataclass(frozen=True, slots=True)
class Settlement:
    policy_key: str
    policy_version: int
    total_fen: int
    fund_fen: int
    personal_account_fen: int
    out_of_pocket_fen: int
    lines: tuple[Line, ...]
    deductible_applied_fen: int
    year_to_date_after: YearToDate


def _percent(bp: int) -> str:
    whole, rest = divmod(bp, 100)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass(slots=True)
class _Running:
    """What is left of the year's deductible and cap, and of the account balance, as items are settled."""

    deductible_left: int
    cap_left: int
    account_left: int
    deductible_applied: int = 0
    fund_paid: int = 0


@dataclass(frozen=True, slots=True)
class _Coverage:
    covered: bool
    first_self_pay_bp: int
    zh: str
    en: str


def _refusal(policy: Policy, scheme: Scheme, enrolment: Enrolment | None) -> tuple[str, str] | None:
    if enrolment is None:
        return (
            "未参保或未提供参保信息，费用全部自付",
            "No insurance enrolment given, so the patient pays everything",
        )
    if enrolment.scheme is not scheme:
        raise ValueError(
            f"settling under the {scheme} scheme for an enrolment in the {enrolment.scheme} scheme"
        )
    if not policy.is_national and province_of(enrolment.region_adcode) != policy.region_adcode:
        # Cross-province direct settlement (异地就医直接结算) goes through the national platform, not this engine.
        return (
            f"参保地（{enrolment.region_adcode}）不在本政策统筹区，线上不做异地结算，费用全部自付",
            f"Insured in another province ({enrolment.region_adcode}); no cross-province online settlement, "
            "so the patient pays everything",
        )
    return None


def _coverage(
    item: Item, terms: SchemeTerms, visit_type: str, visit_cover: FirstVisitCover | None, visit_covered: bool
) -> _Coverage:
    if item.kind is ItemKind.consultation:
        own = item.visit_type or visit_type
        if own == "first_visit" and visit_cover is not None:
            return _Coverage(
                True,
                visit_cover.consultation_first_self_pay_bp,
                f"{visit_cover.name_zh}互联网首诊诊查费纳入医保支付",
                f"internet first-visit fee for {visit_cover.name_en} paid by insurance",
            )
        if own in terms.covered_visit_types:
            label_zh, label_en = ("复诊", "follow-up") if own == "follow_up" else ("首诊", "first-visit")
            return _Coverage(
                True,
                terms.consultation_first_self_pay_bp,
                f"互联网{label_zh}诊查费按线下门诊支付",
                f"internet {label_en} fee paid as an offline outpatient visit",
            )
        label_zh, label_en = ("复诊", "follow-up") if own == "follow_up" else ("首诊", "first")
        return _Coverage(
            False,
            0,
            f"互联网{label_zh}不在医保支付范围，诊查费自付",
            f"internet {label_en} visits are not covered",
        )
    if not visit_covered:
        return _Coverage(
            False,
            0,
            "本次首诊不在医保支付范围，随诊费用自付",
            "this first visit is not covered, nor what it bills",
        )
    if item.kind is ItemKind.delivery:
        if terms.delivery_covered:
            return _Coverage(True, 0, "药品配送费纳入医保支付", "delivery paid by insurance")
        return _Coverage(False, 0, "药品配送费不在医保支付范围，自付", "delivery is not covered")
    if item.insurance_class is None or item.insurance_class not in terms.drug_classes:
        label = "目录外" if item.insurance_class is None else f"{item.insurance_class}类"
        label_en = (
            "outside the drug list" if item.insurance_class is None else f"class {item.insurance_class}"
        )
        return _Coverage(False, 0, f"{label}药品不在医保支付范围，自付", f"drugs {label_en} are not covered")
    cls = item.insurance_class
    share = terms.first_self_pay_bp[cls]
    if share:
        zh, en = (
            f"{cls}类药品先行自付 {_percent(share)}",
            f"class {cls} drug: {_percent(share)} paid first by the patient",
        )
    else:
        zh, en = f"{cls}类药品无先行自付", f"class {cls} drug, no first self-pay"
    return _Coverage(True, share, zh, en)


def _settle_item(
    item: Item, coverage: _Coverage, ratio_bp: int, running: _Running, account: bool, wording: tuple[str, ...]
) -> Line:
    terms_zh, terms_en, tag_zh, tag_en = wording
    amount = item.amount_fen
    zh, en = [coverage.zh], [coverage.en]
    fund = 0
    if coverage.covered:
        first = amount * coverage.first_self_pay_bp // WHOLE_BP
        eligible = amount - first
        deductible = min(running.deductible_left, eligible)
        running.deductible_left -= deductible
        running.deductible_applied += deductible
        share = (eligible - deductible) * ratio_bp // WHOLE_BP
        fund = min(share, running.cap_left)
        running.cap_left -= fund
        running.fund_paid += fund
        if deductible:
            zh.append(f"{_yuan(deductible)} 元计入起付线")
            en.append(f"{_yuan(deductible)} yuan counted towards the deductible")
        zh.append(f"{terms_zh}起付线后统筹支付 {_percent(ratio_bp)}")
        en.append(f"{terms_en}the fund pays {_percent(ratio_bp)} after the deductible")
        if fund < share:
            zh.append("已达年度封顶线，超出部分自付")
            en.append("the annual cap is reached, the rest is self-paid")
    out_of_pocket = amount - fund
    from_account = min(running.account_left, out_of_pocket) if coverage.covered and account else 0
    if from_account:
        running.account_left -= from_account
        out_of_pocket -= from_account
        zh.append(f"个人账户支付 {_yuan(from_account)} 元")
        en.append(f"{_yuan(from_account)} yuan from the personal account")
    return Line(
        item.kind, amount, fund, from_account, out_of_pocket, "，".join(zh) + tag_zh, "; ".join(en) + tag_en
    )


def settle(
    *,
    policy: Policy,
    scheme: Scheme,
    on: date,
    visit_type: str,
    condition: str | None,
    hospital_level: str,
    items: Sequence[Item],
    enrolment: Enrolment | None,
    ytd: YearToDate = YearToDate(),
) -> Settlement:
    """Split an online visit's bill item by item, in order, under `policy` for one insured person.

    Per item: uncovered money is self-paid; the first self-pay share is self-paid; the year's remaining
    deductible absorbs the eligible rest; the fund pays its ratio of what is left within the annual cap. An
    employee account then pays the self-paid part of covered items (政策范围内自付, 国办发〔2021〕14号)
    while its balance lasts. Every share is rounded down to the fen, with the remainder self-paid. `ytd` is
    what the person used earlier in the calendar year of `on`; the caller starts a new year at zero.
    """
    scheme = Scheme(scheme)
    if hospital_level not in HOSPITAL_LEVELS:
        raise ValueError(f"hospital_level must be one of {HOSPITAL_LEVELS}, not {hospital_level!r}")
    if visit_type not in VISIT_TYPES:
        raise ValueError(f"visit_type must be one of {VISIT_TYPES}, not {visit_type!r}")
    if not policy.valid_on(on):
        raise ValueError(f"policy {policy.key} version {policy.version} is not in force on {on.isoformat()}")
    tag_zh = f"（{policy.name_zh}，第 {policy.version} 版）"
    tag_en = f" ({policy.name_en}, version {policy.version})"
    lines: list[Line] = []
    refusal = _refusal(policy, scheme, enrolment)
    if refusal is not None or enrolment is None:
        zh, en = refusal or ("", "")
        for item in items:
            lines.append(Line(item.kind, item.amount_fen, 0, 0, item.amount_fen, zh + tag_zh, en + tag_en))
        return _total(policy, lines, 0, ytd)

    terms = policy.terms(scheme)
    chronic = _chronic(terms, enrolment, condition)
    visit_cover = None
    if visit_type == "first_visit" and condition is not None:
        visit_cover = next((cover for cover in terms.first_visit_covers if cover.matches(condition)), None)
    visit_covered = visit_type in terms.covered_visit_types or visit_cover is not None
    deductible = chronic.deductible_fen if chronic else terms.deductible_fen
    running = _Running(
        deductible_left=max(0, deductible - ytd.deductible_used_fen),
        cap_left=max(0, terms.annual_cap_fen - ytd.fund_paid_fen),
        account_left=enrolment.personal_account_balance_fen,
    )
    ratio = (chronic.ratio_bp if chronic else terms.ratio_bp)[hospital_level]
    level_zh = _LEVEL_ZH[hospital_level]
    if chronic is not None:
        category = icd10_category(condition or "")
        terms_zh, terms_en = (
            f"按门诊慢特病待遇（{category}），{level_zh}医院",
            f"chronic-disease terms ({category}), ",
        )
    else:
        terms_zh, terms_en = f"{level_zh}医院", ""
    terms_en += f"{hospital_level} hospital: "
    account = scheme is Scheme.employee and terms.personal_account
    for item in items:
        coverage = _coverage(item, terms, visit_type, visit_cover, visit_covered)
        lines.append(
            _settle_item(item, coverage, ratio, running, account, (terms_zh, terms_en, tag_zh, tag_en))
        )
    after = YearToDate(
        deductible_used_fen=ytd.deductible_used_fen + running.deductible_applied,
        fund_paid_fen=ytd.fund_paid_fen + running.fund_paid,
    )
    return _total(policy, lines, running.deductible_applied, after)


def _chronic(terms: SchemeTerms, enrolment: Enrolment, condition: str | None) -> ChronicTerms | None:
    """The 慢特病 terms when the visit is for a chronic disease the person is registered for."""
    if terms.chronic is None or condition is None:
        return None
    category = icd10_category(condition)
    if category is None or category not in enrolment.chronic_diseases:
        return None
    return terms.chronic if category in terms.chronic.conditions else None


def _total(policy: Policy, lines: list[Line], deductible_applied: int, after: YearToDate) -> Settlement:
    return Settlement(
        policy_key=policy.key,
        policy_version=policy.version,
        total_fen=sum(line.amount_fen for line in lines),
        fund_fen=sum(line.fund_fen for line in lines),
        personal_account_fen=sum(line.personal_account_fen for line in lines),
        out_of_pocket_fen=sum(line.out_of_pocket_fen for line in lines),
        lines=tuple(lines),
        deductible_applied_fen=deductible_applied,
        year_to_date_after=after,
    )


# ---- refunds -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundSplit:
    """How much of a refund goes back to the fund, to the personal account and to the patient."""

    refund_fen: int = 0
    fund_fen: int = 0
    personal_account_fen: int = 0
    out_of_pocket_fen: int = 0


def reverse(
    settlement: Settlement, refund_fen: int, *, already_refunded: RefundSplit | None = None
) -> RefundSplit:
    """Split a refund across the shares in proportion to what is still unrefunded of each.

    Fund and account shares are rounded down and the patient gets the remainder, but no share ever gets
    back more than it paid; refunding everything that is left returns exactly what is left of each share.
    """
    prior = already_refunded or RefundSplit()
    left = (
        settlement.fund_fen - prior.fund_fen,
        settlement.personal_account_fen - prior.personal_account_fen,
        settlement.out_of_pocket_fen - prior.out_of_pocket_fen,
    )
    if min(left) < 0:
        raise ValueError("already_refunded returns more of a share than the settlement paid")
    remaining = sum(left)
    if not _is_int(refund_fen) or not 0 <= refund_fen <= remaining:
        raise ValueError(f"refund must be a whole number of fen within 0…{remaining}, not {refund_fen!r}")
    if refund_fen == remaining:
        fund, account, patient = left
    else:
        fund = refund_fen * left[0] // remaining
        account = refund_fen * left[1] // remaining
        patient = refund_fen - fund - account
        # Rounding both shares down can leave the patient a fen or two more than they paid.
        excess = max(0, patient - left[2])
        patient -= excess
        to_fund = min(excess, left[0] - fund)
        fund += to_fund
        account += excess - to_fund
    return RefundSplit(
        refund_fen=refund_fen, fund_fen=fund, personal_account_fen=account, out_of_pocket_fen=patient
    )
