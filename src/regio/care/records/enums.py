"""Kinds of clinical-record facts, stored as strings and guarded by check constraints."""

from __future__ import annotations

from enum import StrEnum


class VisitType(StrEnum):
    """首诊 / 复诊: what an online consultation may end in (互联网诊疗管理办法(试行) 第十六条)."""

    follow_up = "follow_up"  # 复诊: a prior offline diagnosis of the same condition
    first_visit_under_policy = "first_visit_under_policy"  # a regional first-visit policy covers it
    first_visit_advice_only = "first_visit_advice_only"  # advice, no diagnosis, no prescription

    @property
    def allows_diagnosis(self) -> bool:
        return self is not VisitType.first_visit_advice_only


VISIT_TYPE_LABELS = {
    VisitType.follow_up: ("复诊", "Follow-up visit"),
    VisitType.first_visit_under_policy: ("首诊（区域首诊政策）", "First visit under a regional policy"),
    VisitType.first_visit_advice_only: ("首诊（仅提供咨询建议）", "First visit: advice only"),
}


class PriorSource(StrEnum):
    """Where a prior offline diagnosis comes from."""

    hospital_record = "hospital_record"  # the hospital's own offline records, entered by the hospital
    uploaded_record = "uploaded_record"  # a record the patient uploaded; counts once a doctor confirms it


class RetentionKind(StrEnum):
    """What is kept, for how long (互联网诊疗监管细则(试行) 2022; 医疗机构病历管理规定)."""

    medical_record = "medical_record"  # 病历: at least 15 years
    communication = "communication"  # chat, audio, video of a consultation: at least 3 years
