"""Triage's only writer: assess a questionnaire under the rules in force, store it, and answer later steps.

Every assessment is health data: it is stored with its audit entry in one transaction, and every
read is audited. Booking and consultations call `require_online_allowed` before acting online.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.patients import service as patients_service
from regio.care.registry import service as registry_service
from regio.care.triage import errors, policies, repository, rulebook
from regio.care.triage.enums import ADVICE_LABELS, URGENCY_LABELS, Advice, Sex, Urgency
from regio.care.triage.models import TriageAssessment
from regio.care.triage.policies import Answers, AssessmentFacts
from regio.care.triage.schemas import CodeOut, CodesOut, ReasonOut, TriageIn, TriageOut
from regio.core import audit, idempotency
from regio.core.access import Principal, require
from regio.core.db import transaction, utcnow
from regio.core.i18n import is_zh


def rules_in_force(on: date | None = None) -> rulebook.Rulebook:
    """The rule set valid today (Beijing), or a refusal when none is."""
    book = rulebook.in_force(rulebook.rulebooks(), on or registry_service.today())
    if book is None:
        raise errors.NoRulesInForce()
    return book


def codes(*, language: str = "zh-CN") -> CodesOut:
    """The published code list: symptoms and chronic conditions with Chinese and English labels."""
    book = rules_in_force()
    return CodesOut(
        rules_version=book.version,
        valid_from=book.valid_from.isoformat(),
        valid_to=book.valid_to.isoformat(),
        symptoms=[CodeOut(code=item.code, zh=item.zh, en=item.en) for item in book.symptoms],
        chronic_conditions=[
            CodeOut(code=item.code, zh=item.zh, en=item.en) for item in book.chronic_conditions
        ],
        sexes=[sex.value for sex in Sex],
        urgencies=[urgency.value for urgency in Urgency],
    )


def _answers(data: TriageIn) -> Answers:
    return Answers(
        sex=data.sex,
        age_years=data.age_years,
        age_months=data.age_months,
        temperature_c=data.temperature_c,
        fever_days=data.fever_days,
        spo2=data.spo2,
        pregnant=data.pregnant,
        breastfeeding=data.breastfeeding,
        symptoms=tuple(dict.fromkeys(data.symptoms)),
        chronic_conditions=tuple(dict.fromkeys(data.chronic_conditions)),
    )


def view(row: TriageAssessment, *, language: str = "zh-CN") -> TriageOut:
    zh = is_zh(language)
    department = registry_service.department_view(row.department_code)
    urgency = Urgency(row.urgency)
    advice = Advice(row.advice)
    return TriageOut(
        id=row.id,
        patient_id=row.patient_id,
        rules_version=row.rules_version,
        department=row.department_code,
        department_name_zh=department.name_zh,
        department_name_en=department.name_en,
        urgency=urgency,
        urgency_label=URGENCY_LABELS[urgency][0 if zh else 1],
        advice=advice,
        advice_label=ADVICE_LABELS[advice][0 if zh else 1],
        go_offline=row.go_offline,
        online_allowed=not row.go_offline,
        red_flags=list(row.red_flags),
        reasons=[
            ReasonOut(
                rule_id=item["rule_id"],
                kind=item["kind"],
                text=item["text_zh"] if zh else item["text_en"],
                text_zh=item["text_zh"],
                text_en=item["text_en"],
                source=item["source"],
            )
            for item in row.reasons
        ],
        created_at=row.created_at,
    )


async def assess(
    *,
    session: AsyncSession,
    principal: Principal,
    data: TriageIn,
    language: str = "zh-CN",
    idempotency_request: idempotency.IdempotentRequest | None = None,
) -> TriageOut:
    """Evaluates the questionnaire, stores the assessment and audits it, in one transaction."""
    require(policies.may_assess(principal), action="triage")
    assert principal.user_id is not None
    book = rules_in_force()
    answers = _answers(data)
    outcome = policies.assess(answers, book)  # raises the 422s before anything is written
    if data.patient_id is not None:
        await patients_service.require_may_act_for(
            session=session, principal=principal, patient_id=data.patient_id
        )
    async with transaction(session):
        await idempotency.claim(session, idempotency_request)
        row = await repository.add_assessment(
            session,
            {
                "asked_by_user_id": principal.user_id,
                "patient_id": data.patient_id,
                "rules_version": book.version,
                "answers": data.model_dump(mode="json", exclude={"patient_id"}),
                "department_code": outcome.department,
                "urgency": outcome.urgency.value,
                "advice": outcome.advice.value,
                "go_offline": outcome.go_offline,
                "red_flags": list(outcome.red_flags),
                "reasons": [
                    {
                        "rule_id": reason.rule_id,
                        "kind": reason.kind,
                        "text_zh": reason.text_zh,
                        "text_en": reason.text_en,
                        "source": book.sources[reason.source],
                    }
                    for reason in outcome.reasons
                ],
                "created_at": utcnow(),
            },
        )
        await audit.record(
            session,
            principal,
            "triage.assess",
            object_type="triage_assessment",
            object_id=row.id,
            details={
                "patient_id": data.patient_id,
                "rules_version": book.version,
                "department": outcome.department,
                "urgency": outcome.urgency.value,
                "go_offline": outcome.go_offline,
                "red_flags": list(outcome.red_flags),
            },
        )
        answer = view(row, language=language)
        await idempotency.settle(
            session, idempotency_request, status=201, body=answer.model_dump(mode="json")
        )
    return answer


async def _readable(session: AsyncSession, principal: Principal, assessment_id: int) -> TriageAssessment:
    row = await repository.get_assessment(session, assessment_id)
    if row is None:
        raise errors.AssessmentNotFound(assessment_id=assessment_id)
    facts = AssessmentFacts(asked_by_user_id=row.asked_by_user_id, patient_id=row.patient_id)
    actable = (
        await patients_service.actable_patient_ids(session=session, principal=principal)
        if row.patient_id is not None and row.asked_by_user_id != principal.user_id
        else frozenset()
    )
    if not policies.may_read(principal, facts, actable):
        # The same answer as for a missing one: nobody learns which assessments exist.
        raise errors.AssessmentNotFound(assessment_id=assessment_id)
    return row


async def get_assessment(
    *, session: AsyncSession, principal: Principal, assessment_id: int, language: str = "zh-CN"
) -> TriageOut:
    """One assessment, to the person who asked or someone who may act for its patient (audited)."""
    async with transaction(session):
        row = await _readable(session, principal, assessment_id)
        await audit.record(
            session, principal, "triage.read", object_type="triage_assessment", object_id=row.id
        )
        answer = view(row, language=language)
    return answer


async def require_online_allowed(session: AsyncSession, *, principal: Principal, assessment_id: int) -> None:
    """Raises GoOffline (409 triage_go_offline) when the assessment said: go to an emergency department now.

    Booking and quick questions call this with the assessment the person brings; an assessment
    the principal may not see is refused as not found.
    """
    row = await _readable(session, principal, assessment_id)
    await audit.record(
        session,
        principal,
        "triage.check_online",
        object_type="triage_assessment",
        object_id=row.id,
        details={"go_offline": row.go_offline},
    )
    if row.go_offline:
        raise errors.GoOffline(assessment_id=row.id, department=row.department_code, red_flags=row.red_flags)
