"""Pure rules of clinical records: the visit type, the under-6 rule, retention, and who may do what.

No I/O: the service reads the facts (the consultation, the patient's prior diagnoses, the policies in
the region) and asks here.

Sources: 互联网诊疗管理办法(试行) (国卫医发〔2018〕25号) 第十六条 (online diagnosis and prescription
only as a follow-up for a common or chronic disease already diagnosed offline) and 第十九条 (a child
under 6: a guardian and a relevant specialist present); the 3-year rule for doctors is the registry's;
互联网诊疗监管细则(试行) (2022) and 医疗机构病历管理规定 (2013) for retention.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from regio.care.records.enums import PriorSource, RetentionKind, VisitType
from regio.core.access import Principal, Role, ScopeKind

SHANGHAI = ZoneInfo("Asia/Shanghai")

# 互联网诊疗管理办法(试行) 第十九条: for a child under 6 a guardian and a relevant specialist attend.
CHILD_AGE_LIMIT = 6
RETENTION_YEARS = {RetentionKind.medical_record: 15, RetentionKind.communication: 3}
MAX_DIAGNOSES = 20


def shanghai_day(instant: datetime) -> date:
    """The calendar day in China that an instant falls on (policies and ages count Chinese days)."""
    return instant.astimezone(SHANGHAI).date()


# ---- the same condition -------------------------------------------------------------------------------


def icd10_category(code: str) -> str:
    """The ICD-10 category of a code: its first 3 characters ("E11.9" → "E11")."""
    return code.strip().upper()[:3]


def same_condition(code_a: str, code_b: str) -> bool:
    """Whether two diagnoses are "the same condition" for the follow-up rule.

    The platform's reading: the same ICD-10 category (first 3 characters). E11.9 and E11.2 (type 2
    diabetes without / with renal complications) are one condition; E11 and E10 (type 1) are not;
    I10 and I11 (essential hypertension, hypertensive heart disease) are not either, so a doctor
    facing a new category needs an offline diagnosis of it.
    """
    return icd10_category(code_a) == icd10_category(code_b)


# ---- the visit type -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriorFacts:
    """A prior offline diagnosis as the rule needs it."""

    id: int
    icd10_code: str
    source: PriorSource
    diagnosed_on: date
    confirmed: bool  # an upload confirmed by a doctor; hospital records need no confirmation

    @property
    def counts(self) -> bool:
        return self.source is PriorSource.hospital_record or self.confirmed


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    """One version of a regional first-visit policy."""

    key: str
    version: int
    region_adcode: str
    valid_from: date
    valid_to: date
    icd10_categories: frozenset[str]
    symptom_codes: frozenset[str]
    name_zh: str = ""
    name_en: str = ""

    def in_force(self, region_adcode: str, day: date) -> bool:
        """In the region, from valid_from to valid_to, both days included (Chinese calendar days)."""
        return self.region_adcode == region_adcode and self.valid_from <= day <= self.valid_to

    def covers(self, code: str, symptoms: Iterable[str]) -> bool:
        """The diagnosis's category is in scope, or the patient presented with a symptom in scope."""
        return icd10_category(code) in self.icd10_categories or bool(self.symptom_codes & set(symptoms))


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class VisitDecision:
    """What an online consultation may end in for one diagnosis, and why."""

    visit_type: VisitType
    reasons: tuple[Reason, ...]
    prior_id: int | None = None
    policy_key: str | None = None
    policy_version: int | None = None

    @property
    def allows_diagnosis(self) -> bool:
        return self.visit_type.allows_diagnosis


def latest_versions(policies: Iterable[PolicyFacts]) -> list[PolicyFacts]:
    """Each policy key's newest version: a new version replaces the older ones."""
    newest: dict[str, PolicyFacts] = {}
    for policy in policies:
        if policy.key not in newest or policy.version > newest[policy.key].version:
            newest[policy.key] = policy
    return sorted(newest.values(), key=lambda p: p.key)


def visit_type_decision(
    *,
    code: str,
    region_adcode: str,
    today: date,
    priors: Iterable[PriorFacts],
    policies: Iterable[PolicyFacts],
    symptoms: Iterable[str] = (),
) -> VisitDecision:
    """follow_up, first_visit_under_policy or first_visit_advice_only for diagnosing `code` online today.

    A follow-up needs a prior offline diagnosis of the same condition made on or before today, from
    the hospital's records or an upload a doctor confirmed. Without one, a first-visit policy in force
    in the hospital's region on today's Chinese date whose scope covers the case allows a diagnosis;
    otherwise the patient gets advice only.
    """
    category = icd10_category(code)
    symptoms = frozenset(symptoms)
    priors = list(priors)
    for prior in priors:
        if prior.counts and same_condition(prior.icd10_code, code) and prior.diagnosed_on <= today:
            how_zh = "医院病历" if prior.source is PriorSource.hospital_record else "经医生确认的上传病历"
            how_en = (
                "hospital record"
                if prior.source is PriorSource.hospital_record
                else "doctor-confirmed upload"
            )
            return VisitDecision(
                VisitType.follow_up,
                (
                    Reason(
                        "prior_offline_diagnosis",
                        f"患者 {prior.diagnosed_on.isoformat()} 有同一疾病（{category}）的线下诊断（{how_zh}），属复诊。",
                        f"Prior offline diagnosis of the same condition ({category}) on "
                        f"{prior.diagnosed_on.isoformat()} ({how_en}): a follow-up visit.",
                    ),
                ),
                prior_id=prior.id,
            )
    reasons: list[Reason] = []
    if any(same_condition(p.icd10_code, code) and not p.counts for p in priors):
        reasons.append(
            Reason(
                "upload_not_confirmed",
                f"患者上传的同一疾病（{category}）病历尚未经医生确认。",
                f"An uploaded record of the same condition ({category}) is not confirmed by a doctor yet.",
            )
        )
    else:
        reasons.append(
            Reason(
                "no_prior_offline_diagnosis",
                f"未找到同一疾病（{category}）的线下诊断记录。",
                f"No prior offline diagnosis of the same condition ({category}).",
            )
        )
    for policy in latest_versions(policies):
        if policy.in_force(region_adcode, today) and policy.covers(code, symptoms):
            return VisitDecision(
                VisitType.first_visit_under_policy,
                (
                    *reasons,
                    Reason(
                        "first_visit_policy",
                        f"适用区域首诊政策“{policy.name_zh}”（{policy.valid_from}至{policy.valid_to}）。",
                        f"Covered by the regional first-visit policy {policy.name_en or policy.key} "
                        f"({policy.valid_from} to {policy.valid_to}).",
                    ),
                ),
                policy_key=policy.key,
                policy_version=policy.version,
            )
    reasons.append(
        Reason(
            "no_first_visit_policy",
            "本地区当日没有覆盖该病情的首诊政策，首诊仅可提供咨询建议。",
            "No first-visit policy of the region covers this case today: a first visit gets advice only.",
        )
    )
    return VisitDecision(VisitType.first_visit_advice_only, tuple(reasons))


# ---- children under 6, and the prescribing decision ----------------------------------------------


def full_years(born: date, on: date) -> int:
    """Age in completed years on a day (a birthday on 29 February is reached on 1 March)."""
    years = on.year - born.year
    if (on.month, on.day) < (born.month, born.day):
        years -= 1
    return max(0, years)


def is_under_six(born: date, on: date) -> bool:
    return full_years(born, on) < CHILD_AGE_LIMIT


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an online prescription may be written in a consultation, and every reason it may not."""

    allowed: bool
    visit_type: VisitType | None
    reasons: tuple[Reason, ...] = field(default_factory=tuple)


def prescribing_decision(
    *,
    visits: Iterable[VisitDecision],
    doctor_eligible: bool,
    under_six: bool,
    guardian_present: bool | None,
    specialist_present: bool | None,
) -> Decision:
    """A prescription needs a diagnosis the visit type allows, an eligible doctor, and for a child
    under 6 a guardian and a relevant specialist recorded as present."""
    visits = list(visits)
    problems: list[Reason] = []
    if not visits:
        problems.append(Reason("no_diagnosis", "病历中尚无诊断。", "The record has no diagnosis yet."))
    for visit in visits:
        if not visit.allows_diagnosis:
            problems.extend(visit.reasons)
    if not doctor_eligible:
        problems.append(
            Reason(
                "doctor_not_eligible",
                "医师未实名认证或独立执业不满 3 年，不能开展互联网诊疗。",
                "The doctor is not verified or has under 3 years of independent practice.",
            )
        )
    if under_six and not guardian_present:
        problems.append(
            Reason(
                "guardian_absent",
                "6 岁以下儿童须确认监护人在场。",
                "A child under 6 needs a guardian present.",
            )
        )
    if under_six and not specialist_present:
        problems.append(
            Reason(
                "specialist_absent",
                "6 岁以下儿童须确认有相关专业医师陪伴。",
                "A child under 6 needs a doctor of a relevant specialty present.",
            )
        )
    kinds = [v.visit_type for v in visits]
    # The weakest diagnosis decides what the consultation counts as.
    order = list(VisitType)
    visit_type = max(kinds, key=order.index) if kinds else None
    return Decision(allowed=not problems, visit_type=visit_type, reasons=tuple(problems))


# ---- retention ------------------------------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def earliest_deletion(kind: RetentionKind, completed_on: date) -> date:
    """The first day something may be deleted: its retention in whole years after the consultation."""
    return add_years(completed_on, RETENTION_YEARS[kind])


def may_delete_now(kind: RetentionKind, completed_on: date, today: date) -> bool:
    return today >= earliest_deletion(kind, completed_on)


# ---- access ---------------------------------------------------------------------------------------


class Action(StrEnum):
    write = "write"  # notes, advice, diagnoses, attendance, sign, amend
    read_draft = "read_draft"  # an unsigned version
    read_signed = "read_signed"
    delete = "delete"  # still refused within the retention period
    confirm_prior = "confirm_prior"  # confirm a patient's upload in the consultation
    read_priors = "read_priors"
    add_prior_upload = "add_prior_upload"
    add_prior_hospital_record = "add_prior_hospital_record"
    list_policies = "list_policies"
    manage_policies = "manage_policies"


@dataclass(frozen=True, slots=True)
class Target:
    """What a decision needs to know about the record, consultation, patient or policy acted on."""

    doctor_id: int | None = None  # the consultation's doctor
    hospital_id: int | None = None
    region_adcode: str | None = None
    patient_id: int | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the service read about the principal beforehand."""

    own_doctor_id: int | None = None
    actable_patient_ids: frozenset[int] = frozenset()


def _the_doctor(principal: Principal, facts: Facts, target: Target) -> bool:
    return (
        principal.is_person
        and principal.has_role(Role.doctor)
        and facts.own_doctor_id is not None
        and facts.own_doctor_id == target.doctor_id
    )


def _the_patient(principal: Principal, facts: Facts, target: Target) -> bool:
    return (
        principal.is_person
        and principal.has_role(Role.patient)
        and target.patient_id is not None
        and target.patient_id in facts.actable_patient_ids
    )


def _hospital_admin(principal: Principal, target: Target) -> bool:
    return target.hospital_id is not None and principal.has_role(
        Role.hospital_admin, ScopeKind.hospital, str(target.hospital_id)
    )


def may(principal: Principal, action: Action, target: Target, facts: Facts = Facts()) -> bool:
    """The records subdomain's one access decision; whatever is not allowed here is denied.

    The consultation's doctor writes the record personally (no admin writes for them) and reads its
    drafts; the patient and users bound to the patient read signed versions; the hospital's admin
    (its quality control, 病历质控) reads its hospital's signed records. Deletion is platform_admin's
    alone and still refused within the retention period. Policies are public regulation: health
    admins, regulators and platform admins list them; a health admin changes its own region's.
    """
    if not principal.is_authenticated:
        return False
    doctor = _the_doctor(principal, facts, target)
    if action in (Action.write, Action.read_draft, Action.confirm_prior):
        return doctor
    if action is Action.read_signed:
        return doctor or _the_patient(principal, facts, target) or _hospital_admin(principal, target)
    if action is Action.read_priors:
        return doctor or _the_patient(principal, facts, target)
    if action is Action.add_prior_upload:
        return _the_patient(principal, facts, target)
    if action is Action.add_prior_hospital_record:
        return _hospital_admin(principal, target) or principal.has_role(Role.platform_admin)
    if action is Action.delete:
        return principal.has_role(Role.platform_admin)
    if action is Action.list_policies:
        return bool(principal.roles & {Role.platform_admin, Role.health_admin, Role.regulator})
    if action is Action.manage_policies:
        return principal.has_role(Role.platform_admin) or (
            target.region_adcode is not None
            and principal.has_role(Role.health_admin, ScopeKind.region, target.region_adcode)
        )
    return False
