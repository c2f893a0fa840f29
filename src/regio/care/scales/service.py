"""Scales' only writer: score a response, store it as a FHIR QuestionnaireResponse, raise and route urgent alerts.

An urgent result (PHQ-9 item 9 above 0) is stored together with its alert, its recipients (the
psychiatrists on duty now), their outbox notifications and the audit entries, in one
transaction: once the patient sees "accepted", the alert exists and will be delivered. A timed
job escalates alerts nobody acknowledged within REGIO_SCALES_ALERT_ESCALATE_MINUTES to the
hospitals' admins and every doctor on duty there. Acknowledging is a conditional UPDATE, so of
two doctors who press at once exactly one takes the alert on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.patients import service as patients_service
from regio.care.patients.models import Relation
from regio.care.registry import service as registry_service
from regio.care.scales import catalog, errors, policies, repository
from regio.care.scales.catalog import Scale
from regio.care.scales.enums import AlertStatus, NoticeKind, RecipientReason
from regio.care.scales.models import ScaleAlert, ScaleResponse
from regio.care.scales.policies import ResponseFacts
from regio.care.scales.schemas import (
    AlertOut,
    FlagOut,
    HotlineOut,
    NoticeOut,
    ResponseOut,
    ScaleOut,
    ScaleSummaryOut,
)
from regio.config import Settings
from regio.core import audit, idempotency, outbox
from regio.core.access import SYSTEM, Principal, require
from regio.core.db import Database, transaction, utcnow
from regio.core.i18n import is_zh

log = logging.getLogger("regio.scales")

TOPIC_ALERT = "care.scales.urgent_alert"
ALERT_DEPARTMENT = "psychiatry"  # 精神心理科 in the registry's standard list
ESCALATE_EVERY_SECONDS = 15.0
ESCALATE_BATCH = 100
LOINC = "http://loinc.org"


# ---- the catalog -----------------------------------------------------------------------------------------


def scales(settings: Settings) -> dict[str, Scale]:
    return catalog.catalog(settings.scales_extra_dir)


def scale_or_404(settings: Settings, scale_id: str) -> Scale:
    found = scales(settings).get(scale_id)
    if found is None:
        raise errors.UnknownScale(scale=scale_id)
    return found


def _summary(scale: Scale, zh: bool) -> dict[str, Any]:
    return {
        "id": scale.id,
        "version": scale.version,
        "title": scale.title_zh if zh else scale.title_en,
        "title_zh": scale.title_zh,
        "title_en": scale.title_en,
        "items": len(scale.items),
        "max_score": scale.max_score,
        "loinc": scale.loinc,
        "url": scale.url,
    }


def list_scales(*, settings: Settings, language: str = "zh-CN") -> list[ScaleSummaryOut]:
    """Every scale on offer."""
    zh = is_zh(language)
    return [ScaleSummaryOut(**_summary(scale, zh)) for scale in scales(settings).values()]


def _translation(text: str, language: str) -> dict[str, Any]:
    return {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/translation",
                "extension": [
                    {"url": "lang", "valueCode": language},
                    {"url": "content", "valueString": text},
                ],
            }
        ]
    }


def questionnaire(scale: Scale, language: str = "zh-CN") -> dict[str, Any]:
    """The scale as a FHIR R4 Questionnaire, in the reader's language with the other as a translation."""
    zh = is_zh(language)
    other = "en" if zh else "zh-CN"
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": scale.id,
        "url": scale.url,
        "version": scale.version,
        "name": scale.id.upper(),
        "title": scale.title_zh if zh else scale.title_en,
        "status": "active",
        "language": "zh-CN" if zh else "en",
        "description": scale.intro_zh if zh else scale.intro_en,
        "copyright": scale.source,
        "item": [
            {
                "linkId": item.link_id,
                "text": item.zh if zh else item.en,
                "_text": _translation(item.en if zh else item.zh, other),
                "type": "choice",
                "required": True,
                "answerOption": [
                    {
                        "valueCoding": {"code": str(option.value), "display": option.zh if zh else option.en},
                        "extension": [
                            {
                                "url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                                "valueDecimal": option.value,
                            }
                        ],
                    }
                    for option in scale.options
                ],
            }
            for item in scale.items
        ],
    }
    if scale.loinc:
        resource["code"] = [{"system": LOINC, "code": scale.loinc, "display": scale.title_en}]
    return resource


def get_scale(*, settings: Settings, scale_id: str, language: str = "zh-CN") -> ScaleOut:
    """One scale with its FHIR Questionnaire."""
    scale = scale_or_404(settings, scale_id)
    return ScaleOut(
        **_summary(scale, is_zh(language)), source=scale.source, questionnaire=questionnaire(scale, language)
    )


def crisis_hotlines(language: str = "zh-CN") -> list[HotlineOut]:
    zh = is_zh(language)
    return [
        HotlineOut(number=h.number, name=h.zh if zh else h.en, name_zh=h.zh, name_en=h.en)
        for h in catalog.hotlines()
    ]


# ---- FHIR shape --------------------------------------------------------------------------------------------


def _fhir_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def questionnaire_response(
    scale: Scale, *, answers: list[int], patient_id: int, authored: datetime
) -> dict[str, Any]:
    """A FHIR R4 QuestionnaireResponse of the answers (the id is the stored row's, added when served)."""
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": scale.url,
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": _fhir_instant(authored),
        "item": [
            {"linkId": item.link_id, "text": item.en, "answer": [{"valueInteger": value}]}
            for item, value in zip(scale.items, answers, strict=True)
        ],
    }


# ---- views -----------------------------------------------------------------------------------------------


def _response_view(row: ScaleResponse, scale: Scale, *, alert_id: int | None, language: str) -> ResponseOut:
    zh = is_zh(language)
    band = next(band for band in scale.bands if band.code == row.severity)
    fired = [flag for flag in scale.flags if flag.code in row.flags]
    return ResponseOut(
        id=row.id,
        scale=row.scale_id,
        scale_version=row.scale_version,
        patient_id=row.patient_id,
        score=row.score,
        max_score=scale.max_score,
        severity=row.severity,
        severity_label=band.zh if zh else band.en,
        severity_label_zh=band.zh,
        severity_label_en=band.en,
        urgent=row.urgent,
        flags=[
            FlagOut(code=flag.code, item=flag.item, urgent=flag.urgent, text=flag.zh if zh else flag.en)
            for flag in fired
        ],
        crisis_hotlines=crisis_hotlines(language) if row.urgent else [],
        alert_id=alert_id,
        authored_at=row.authored_at,
        resource_url=f"/api/care/scales/responses/{row.id}",
    )


def _alert_view(alert: ScaleAlert, response: ScaleResponse) -> AlertOut:
    return AlertOut(
        id=alert.id,
        response_id=alert.response_id,
        patient_id=alert.patient_id,
        scale=response.scale_id,
        score=response.score,
        severity=response.severity,
        status=alert.status,
        department=alert.department_code,
        raised_at=alert.raised_at,
        escalate_at=alert.escalate_at,
        escalated_at=alert.escalated_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by_user_id=alert.acknowledged_by_user_id,
    )


# ---- submitting ------------------------------------------------------------------------------------------


async def _patient_for(
    session: AsyncSession, settings: Settings, principal: Principal, patient_id: int | None
) -> int:
    if patient_id is not None:
        await patients_service.require_may_act_for(
            session=session, principal=principal, patient_id=patient_id
        )
        return patient_id
    bound = await patients_service.list_patients(session=session, settings=settings, principal=principal)
    own = next((item.patient.id for item in bound if item.binding.relation is Relation.self_), None)
    if own is None:
        raise errors.NoOwnPatientRecord()
    return own


def _notice_payload(
    *,
    user_id: int,
    alert_id: int,
    kind: NoticeKind,
    scale: Scale,
    score: int,
    band_zh: str,
    band_en: str,
    patient_id: int,
) -> dict[str, Any]:
    if kind is NoticeKind.raised:
        text_zh = (
            f"紧急预警：患者（编号 {patient_id}）{scale.title_zh} 提示自伤或轻生念头，总分 {score}（{band_zh}）。"
            "请立即联系并在平台上确认接手。"
        )
        text_en = (
            f"Urgent: patient #{patient_id}'s {scale.id.upper()} points to thoughts of self-harm, "
            f"score {score} ({band_en}). Contact them now and acknowledge the alert."
        )
    else:
        text_zh = (
            f"预警升级：患者（编号 {patient_id}）{scale.title_zh} 自伤风险预警在时限内无人接手，"
            "请立即安排医生处理。"
        )
        text_en = (
            f"Escalated: nobody acknowledged the self-harm alert for patient #{patient_id} "
            f"({scale.id.upper()}) in time. Assign a doctor now."
        )
    return {
        "user_id": user_id,
        "alert_id": alert_id,
        "kind": kind.value,
        "text_zh": text_zh,
        "text_en": text_en,
    }


async def submit(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    scale_id: str,
    answers: list[int],
    patient_id: int | None = None,
    language: str = "zh-CN",
    now: datetime | None = None,
    idempotency_request: idempotency.IdempotentRequest | None = None,
) -> ResponseOut:
    """Scores and stores a response; an urgent one raises an alert to the psychiatrists on duty, in the same transaction."""
    require(policies.may_submit(principal), action="scale_response")
    assert principal.user_id is not None
    scale = scale_or_404(settings, scale_id)
    scored = policies.score(scale, answers)  # every 422 before anything is read or written
    subject = await _patient_for(session, settings, principal, patient_id)
    now = now or utcnow()
    on_duty = (
        await repository.on_duty(session, at=now, department_code=ALERT_DEPARTMENT) if scored.urgent else []
    )
    alert_id: int | None = None
    async with transaction(session):
        # A retried submission answers as the first did: one response, one alert, one set of messages.
        await idempotency.claim(session, idempotency_request, now=now)
        row = await repository.add_response(
            session,
            {
                "scale_id": scale.id,
                "scale_version": scale.version,
                "patient_id": subject,
                "submitted_by_user_id": principal.user_id,
                "answers": list(answers),
                "score": scored.score,
                "severity": scored.band.code,
                "urgent": scored.urgent,
                "flags": [flag.code for flag in scored.flags],
                "resource": questionnaire_response(scale, answers=answers, patient_id=subject, authored=now),
                "authored_at": now,
            },
        )
        await audit.record(
            session,
            principal,
            "scale_response.create",
            object_type="scale_response",
            object_id=row.id,
            details={
                "patient_id": subject,
                "scale": scale.id,
                "score": scored.score,
                "severity": scored.band.code,
                "urgent": scored.urgent,
            },
        )
        if scored.urgent:
            # Nobody on duty: due at once, so the next run of the job tells the admins.
            escalate_at = now + timedelta(minutes=settings.scales_alert_escalate_minutes) if on_duty else now
            alert_id = await repository.add_alert(
                session,
                {
                    "response_id": row.id,
                    "patient_id": subject,
                    "department_code": ALERT_DEPARTMENT,
                    "status": AlertStatus.raised.value,
                    "raised_at": now,
                    "escalate_at": escalate_at,
                },
            )
            added = await repository.add_recipients(
                session,
                alert_id,
                [
                    {
                        "user_id": doctor.user_id,
                        "reason": RecipientReason.on_duty.value,
                        "hospital_id": doctor.hospital_id,
                        "created_at": now,
                    }
                    for doctor in on_duty
                ],
            )
            for user_id in added:
                outbox.enqueue(
                    session,
                    TOPIC_ALERT,
                    _notice_payload(
                        user_id=user_id,
                        alert_id=alert_id,
                        kind=NoticeKind.raised,
                        scale=scale,
                        score=scored.score,
                        band_zh=scored.band.zh,
                        band_en=scored.band.en,
                        patient_id=subject,
                    ),
                )
            await audit.record(
                session,
                principal,
                "scale_alert.raise",
                object_type="scale_alert",
                object_id=alert_id,
                details={
                    "response_id": row.id,
                    "patient_id": subject,
                    "recipients": added,
                    "escalate_at": escalate_at.isoformat(),
                },
            )
        answer = _response_view(row, scale, alert_id=alert_id, language=language)
        await idempotency.settle(
            session, idempotency_request, status=201, body=answer.model_dump(mode="json")
        )
    return answer


# ---- reading ---------------------------------------------------------------------------------------------


async def _readable_response(
    session: AsyncSession, principal: Principal, response_id: int
) -> tuple[ScaleResponse, ScaleAlert | None]:
    row = await repository.get_response(session, response_id)
    if row is None:
        raise errors.ResponseNotFound(response_id=response_id)
    alert = await repository.alert_of_response(session, row.id)
    told = (await repository.recipients(session, [alert.id]))[alert.id] if alert is not None else frozenset()
    actable = await patients_service.actable_patient_ids(session=session, principal=principal)
    facts = ResponseFacts(patient_id=row.patient_id, alert_recipient_user_ids=told)
    if not policies.may_read_response(principal, facts, actable):
        raise errors.ResponseNotFound(response_id=response_id)  # the same answer as for a missing one
    return row, alert


async def get_response_resource(
    *, session: AsyncSession, principal: Principal, response_id: int
) -> dict[str, Any]:
    """The stored FHIR QuestionnaireResponse, to the patient, their family, or a doctor alerted about it (audited)."""
    async with transaction(session):
        row, _ = await _readable_response(session, principal, response_id)
        await audit.record(
            session, principal, "scale_response.read", object_type="scale_response", object_id=row.id
        )
        resource = {"resourceType": "QuestionnaireResponse", "id": str(row.id), **row.resource}
    return resource


async def get_response(
    *,
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    response_id: int,
    language: str = "zh-CN",
) -> ResponseOut:
    """The scored result of one response, for the result page (audited)."""
    async with transaction(session):
        row, alert = await _readable_response(session, principal, response_id)
        await audit.record(
            session, principal, "scale_response.read", object_type="scale_response", object_id=row.id
        )
        scale = scale_or_404(settings, row.scale_id)
        answer = _response_view(row, scale, alert_id=alert.id if alert else None, language=language)
    return answer


# ---- alerts ----------------------------------------------------------------------------------------------


async def my_alerts(*, session: AsyncSession, principal: Principal) -> list[AlertOut]:
    """Alerts sent to the signed-in person, newest first."""
    if not principal.is_person or principal.user_id is None:
        return []
    async with transaction(session):
        rows = await repository.alerts_for_user(session, principal.user_id)
        if rows:  # they name patients and their scores: health data, so the read is audited
            await audit.record(
                session,
                principal,
                "scale_alert.list",
                object_type="scale_alert",
                object_id=None,
                details={"alert_ids": [alert.id for alert, _ in rows]},
            )
        views = [_alert_view(alert, response) for alert, response in rows]
    return views


async def acknowledge(
    *, session: AsyncSession, principal: Principal, alert_id: int, now: datetime | None = None
) -> AlertOut:
    """A doctor the alert was sent to takes it on; the second of two racing doctors gets a 409."""
    alert = await repository.get_alert(session, alert_id)
    told = (await repository.recipients(session, [alert_id]))[alert_id] if alert is not None else frozenset()
    if alert is None or not policies.may_see_alert(principal, told):
        raise errors.AlertNotFound(alert_id=alert_id)
    if not policies.may_acknowledge(principal, told):
        raise errors.NotADoctor(alert_id=alert_id)
    assert principal.user_id is not None
    now = now or utcnow()
    if session.in_transaction():
        await session.commit()  # the write begins afresh, so SQLite's writer lock is waited for, not refused
    async with transaction(session):
        if not await repository.acknowledge(session, alert_id, user_id=principal.user_id, now=now):
            raise errors.AlertAlreadyAcknowledged(alert_id=alert_id)
        await audit.record(
            session,
            principal,
            "scale_alert.acknowledge",
            object_type="scale_alert",
            object_id=alert_id,
            details={"patient_id": alert.patient_id, "response_id": alert.response_id},
        )
    fresh = await repository.get_alert(session, alert_id)
    response = await repository.get_response(session, alert.response_id)
    assert fresh is not None and response is not None
    await session.refresh(fresh)
    return _alert_view(fresh, response)


async def _psychiatry_hospitals(session: AsyncSession) -> list[int]:
    page = await registry_service.search_hospitals(
        session=session,
        principal=SYSTEM,
        department=ALERT_DEPARTMENT,
        page_size=registry_service.MAX_PAGE_SIZE,
    )
    return [hospital.id for hospital in page.items]


async def _escalate_one(session: AsyncSession, settings: Settings, alert_id: int, now: datetime) -> bool:
    if not await repository.mark_escalated(session, alert_id, now=now):
        return False  # acknowledged (or escalated by another worker) in the meantime
    alert = await repository.get_alert(session, alert_id)
    assert alert is not None
    response = await repository.get_response(session, alert.response_id)
    assert response is not None
    scale = scale_or_404(settings, response.scale_id)
    band = next(band for band in scale.bands if band.code == response.severity)
    hospitals = await repository.hospitals_of_recipients(session, alert_id) or await _psychiatry_hospitals(
        session
    )
    rows = [
        {
            "user_id": user_id,
            "reason": RecipientReason.escalation.value,
            "hospital_id": hospital_id,
            "created_at": now,
        }
        for user_id, hospital_id in await repository.hospital_admins(session, hospitals)
    ] + [
        {
            "user_id": doctor.user_id,
            "reason": RecipientReason.escalation.value,
            "hospital_id": doctor.hospital_id,
            "created_at": now,
        }
        for doctor in await repository.on_duty(session, at=now, hospital_ids=hospitals)
    ]
    added = await repository.add_recipients(session, alert_id, rows)
    for user_id in added:
        outbox.enqueue(
            session,
            TOPIC_ALERT,
            _notice_payload(
                user_id=user_id,
                alert_id=alert_id,
                kind=NoticeKind.escalated,
                scale=scale,
                score=response.score,
                band_zh=band.zh,
                band_en=band.en,
                patient_id=alert.patient_id,
            ),
        )
    if not added:
        log.error("scale alert %d escalated but nobody could be told (no admin, no doctor on duty)", alert_id)
    await audit.record(
        session,
        SYSTEM,
        "scale_alert.escalate",
        object_type="scale_alert",
        object_id=alert_id,
        details={"hospital_ids": hospitals, "recipients": added, "patient_id": alert.patient_id},
    )
    return True


async def escalate_due(*, db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Escalates every raised alert past its time (the timed job); returns how many."""
    now = now or utcnow()
    total = 0
    async with db.sessionmaker() as session:
        due = await repository.due_for_escalation(session, now=now, limit=ESCALATE_BATCH)
        await session.commit()
        for alert_id in due:
            # One transaction per alert: a failure leaves the others escalated and this one due.
            async with transaction(session):
                total += await _escalate_one(session, settings, alert_id, now)
    return total


async def escalate_job(db: Database, settings: Settings) -> None:
    """The timed job: escalate unacknowledged alerts."""
    count = await escalate_due(db=db, settings=settings)
    if count:
        log.warning("escalated %d unacknowledged scale alerts", count)


# ---- notices (站内信) ---------------------------------------------------------------------------------------


async def store_notice(*, db: Database, message: outbox.Message) -> bool:
    """The outbox handler's write: one notice per message, however often it is delivered."""
    payload = message.payload
    async with db.sessionmaker() as session, transaction(session):
        return await repository.add_notice(
            session,
            {
                "user_id": int(payload["user_id"]),
                "alert_id": int(payload["alert_id"]),
                "kind": str(payload["kind"]),
                "text_zh": str(payload["text_zh"]),
                "text_en": str(payload["text_en"]),
                "outbox_message_id": message.id,
                "created_at": utcnow(),
            },
        )


async def notices(*, session: AsyncSession, principal: Principal, language: str = "zh-CN") -> list[NoticeOut]:
    """The signed-in person's alert notices, newest first."""
    if not principal.is_person or principal.user_id is None:
        return []
    zh = is_zh(language)
    async with transaction(session):
        rows = await repository.notices_of(session, principal.user_id)
        if rows:
            await audit.record(
                session,
                principal,
                "scale_alert_notice.list",
                object_type="scale_alert",
                object_id=None,
                details={"alert_ids": sorted({row.alert_id for row in rows})},
            )
    return [
        NoticeOut(
            id=row.id,
            alert_id=row.alert_id,
            kind=row.kind,
            text=row.text_zh if zh else row.text_en,
            created_at=row.created_at,
            read_at=row.read_at,
        )
        for row in rows
    ]
