"""Clinical records' only writer: drafts, ICD-10 diagnoses under the visit-type rule, signing, amendments,
prior offline diagnoses, first-visit policies, retention; and the reads, each audited.

Every write is one transaction with its audit entry. A signed version is locked by construction: every
UPDATE of a version carries `signed_at IS NULL` in its WHERE, and signing names the draft revision it
hashed, so two signatures at once (or an edit racing a signature) are decided by the database. On
SQLite a write transaction begins with BEGIN IMMEDIATE, so nothing it read can go stale before it writes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.consultation.enums import Status as ConsultationStatus
from regio.care.consultation.models import Consultation
from regio.care.patients import service as patients_service
from regio.care.records import errors, icd10, policies, repository
from regio.care.records.enums import VISIT_TYPE_LABELS, PriorSource, RetentionKind
from regio.care.records.models import ClinicalRecord, FirstVisitPolicy, PriorDiagnosis, RecordVersion
from regio.care.records.policies import (
    Action,
    Decision,
    Facts,
    PolicyFacts,
    PriorFacts,
    Target,
    VisitDecision,
)
from regio.care.records.schemas import (
    AttendanceIn,
    DiagnosisOut,
    DraftIn,
    EditorOut,
    Icd10Out,
    PolicyIn,
    PolicyOut,
    PrescribingDecisionOut,
    PriorIn,
    PriorOut,
    ReasonOut,
    RecordOut,
    RecordSummaryOut,
    VersionOut,
    VisitDecisionOut,
)
from regio.care.registry import errors as registry_errors
from regio.care.registry import service as registry_service
from regio.core import audit
from regio.core.access import SYSTEM, Principal, Role
from regio.core.db import transaction, utcnow, write_transaction
from regio.core.errors import Forbidden

__all__ = ["SYSTEM", "Decision", "diagnosis_codes", "prescribing_allowed"]

POLICY_FILE = Path(__file__).resolve().parent / "data" / "first_visit_policies.json"
# The record may be written once the doctor has started the consultation, and finished after it ends.
WRITABLE = frozenset({ConsultationStatus.in_progress.value, ConsultationStatus.completed.value})
_CATEGORY = re.compile(r"^[A-Z][0-9]{2}$")
_DRAFT_RETRIES = 3


def today() -> date:
    """Today's calendar day in China: policies, ages and retention count Chinese days."""
    return policies.shanghai_day(utcnow())


# ---- reference data ----------------------------------------------------------------------------------


def search_icd10(query: str, *, limit: int = 20) -> list[Icd10Out]:
    """Diagnoses by code prefix, Chinese name or English name (public reference data, not personal)."""
    return [_icd_view(entry) for entry in icd10.index().search(query, limit=limit)]


def _icd_view(entry: icd10.Icd10Entry) -> Icd10Out:
    return Icd10Out(code=entry.code, name_zh=entry.name_zh, name_en=entry.name_en, category=entry.category)


def _known_code(raw: str) -> icd10.Icd10Entry:
    entry = icd10.index().get(raw)
    if entry is None:
        raise errors.UnknownIcd10(value=raw[:20])
    return entry


@lru_cache(maxsize=1)
def _policy_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    return data


def symptoms() -> dict[str, tuple[str, str]]:
    """The symptom codes a record and a policy scope may name, with their Chinese and English names."""
    return {code: (names[0], names[1]) for code, names in _policy_file()["symptoms"].items()}


def _check_symptoms(codes: Iterable[str]) -> list[str]:
    known = symptoms()
    cleaned: list[str] = []
    for code in codes:
        if code not in known:
            raise errors.UnknownSymptom(value=code[:40])
        if code not in cleaned:
            cleaned.append(code)
    return cleaned


# ---- who is asking -----------------------------------------------------------------------------------


async def _facts(session: AsyncSession, principal: Principal) -> Facts:
    """The principal's own doctor record and the patients they may act for."""
    own_doctor_id = None
    if principal.is_person and principal.user_id is not None and principal.has_role(Role.doctor):
        doctor = await registry_service.doctor_for_user(session=session, user_id=principal.user_id)
        own_doctor_id = doctor.id if doctor else None
    actable: frozenset[int] = frozenset()
    if principal.has_role(Role.patient):
        actable = await patients_service.actable_patient_ids(session=session, principal=principal)
    return Facts(own_doctor_id=own_doctor_id, actable_patient_ids=actable)


def _target(consultation: Consultation | ClinicalRecord) -> Target:
    return Target(
        doctor_id=consultation.doctor_id,
        hospital_id=consultation.hospital_id,
        patient_id=consultation.patient_id,
    )


async def _consultation(session: AsyncSession, consultation_id: int) -> Consultation:
    found = await repository.consultation(session, consultation_id)
    if found is None:
        raise errors.ConsultationNotFound(consultation_id=consultation_id)
    return found


async def _writable_consultation(
    session: AsyncSession, principal: Principal, consultation_id: int
) -> Consultation:
    """The consultation, if the principal is its doctor and it has started."""
    found = await _consultation(session, consultation_id)
    facts = await _facts(session, principal)
    if not policies.may(principal, Action.write, _target(found), facts):
        raise errors.NotTheAttendingDoctor(consultation_id=consultation_id)
    if found.status not in WRITABLE:
        raise errors.ConsultationNotOpenForRecord(consultation_id=consultation_id, status=found.status)
    return found


# ---- views -------------------------------------------------------------------------------------------


def _diagnosis_view(item: dict[str, Any]) -> DiagnosisOut:
    return DiagnosisOut(**item)


def _version_view(row: RecordVersion) -> VersionOut:
    return VersionOut(
        version=row.version,
        notes=row.notes,
        advice=row.advice,
        diagnoses=[_diagnosis_view(item) for item in row.diagnoses],
        amendment_reason=row.amendment_reason,
        revision=row.revision,
        created_at=row.created_at,
        signed=row.signed_at is not None,
        signed_at=row.signed_at,
        signed_by_user_id=row.signed_by_user_id,
        content_hash=row.content_hash,
    )


def _completed_on(consultation: Consultation, rows: list[RecordVersion], record: ClinicalRecord) -> date:
    """The day retention counts from: the consultation's completion, else the first signature, else opening."""
    signed = [row.signed_at for row in rows if row.signed_at is not None]
    instant = consultation.completed_at or (min(signed) if signed else None) or record.created_at
    return policies.shanghai_day(instant)


def _record_view(
    record: ClinicalRecord,
    rows: list[RecordVersion],
    *,
    under_six: bool,
    earliest: date | None,
) -> RecordOut:
    return RecordOut(
        id=record.id,
        consultation_id=record.consultation_id,
        patient_id=record.patient_id,
        doctor_id=record.doctor_id,
        hospital_id=record.hospital_id,
        symptom_codes=list(record.symptom_codes),
        patient_under_six=under_six,
        guardian_present=record.guardian_present,
        specialist_present=record.specialist_present,
        specialist_name=record.specialist_name,
        latest_version=record.latest_version,
        versions=[_version_view(row) for row in rows],
        earliest_deletion=earliest,
    )


async def _under_six(session: AsyncSession, patient_id: int) -> bool:
    born = await repository.patient_birth_date(session, patient_id)
    return born is not None and policies.is_under_six(born, today())


async def _full_view(
    session: AsyncSession, consultation: Consultation, record: ClinicalRecord, *, drafts: bool
) -> RecordOut:
    rows = await repository.versions(session, record.id)
    earliest = policies.earliest_deletion(
        RetentionKind.medical_record, _completed_on(consultation, rows, record)
    )
    shown = rows if drafts else [row for row in rows if row.signed_at is not None]
    return _record_view(
        record, shown, under_six=await _under_six(session, record.patient_id), earliest=earliest
    )


def _decision_view(decision: VisitDecision) -> VisitDecisionOut:
    return VisitDecisionOut(
        visit_type=decision.visit_type,
        allows_diagnosis=decision.allows_diagnosis,
        reasons=[ReasonOut(code=r.code, zh=r.zh, en=r.en) for r in decision.reasons],
        prior_id=decision.prior_id,
        policy_key=decision.policy_key,
        policy_version=decision.policy_version,
    )


# ---- reading a record --------------------------------------------------------------------------------


async def get_record(*, session: AsyncSession, principal: Principal, consultation_id: int) -> RecordOut:
    """The consultation's record: every version for its doctor, signed versions for the patient's side
    and the hospital's quality control; audited."""
    async with transaction(session):
        consultation = await repository.consultation(session, consultation_id)
        record = await repository.record_for_consultation(session, consultation_id)
        if consultation is None or record is None:
            raise errors.RecordNotFound(consultation_id=consultation_id)
        facts = await _facts(session, principal)
        target = _target(record)
        drafts = policies.may(principal, Action.read_draft, target, facts)
        if not drafts and not policies.may(principal, Action.read_signed, target, facts):
            raise errors.RecordNotFound(consultation_id=consultation_id)
        view = await _full_view(session, consultation, record, drafts=drafts)
        if not view.versions:
            raise errors.RecordNotFound(consultation_id=consultation_id)  # nothing signed yet
        await audit.record(
            session,
            principal,
            "record.read",
            object_type="clinical_record",
            object_id=record.id,
            details={"consultation_id": consultation_id, "versions": [v.version for v in view.versions]},
        )
    return view


async def patient_history(*, session: AsyncSession, principal: Principal) -> list[RecordSummaryOut]:
    """The signed records of every patient the principal may act for, newest first; audited."""
    async with transaction(session):
        facts = await _facts(session, principal)
        if not principal.has_role(Role.patient):
            raise Forbidden(action="read_history")
        rows = await repository.signed_records_of_patients(session, facts.actable_patient_ids)
        items = [
            RecordSummaryOut(
                id=record.id,
                consultation_id=record.consultation_id,
                patient_id=record.patient_id,
                hospital_id=record.hospital_id,
                doctor_id=record.doctor_id,
                version=row.version,
                signed_at=row.signed_at or record.created_at,
                diagnoses=[_diagnosis_view(item) for item in row.diagnoses],
            )
            for record, row in rows
        ]
        if items:
            await audit.record(
                session,
                principal,
                "record.list",
                object_type="clinical_record",
                object_id=None,
                details={"record_ids": [item.id for item in items]},
            )
    return items


# ---- writing a draft ---------------------------------------------------------------------------------


async def _ensure_draft(
    session: AsyncSession, principal: Principal, consultation: Consultation
) -> tuple[ClinicalRecord, RecordVersion]:
    """The record (opened now if needed) and its newest version, which must still be a draft."""
    region = await repository.hospital_region(session, consultation.hospital_id) or ""
    now = utcnow()
    record = await repository.open_record(
        session,
        {
            "consultation_id": consultation.id,
            "patient_id": consultation.patient_id,
            "doctor_id": consultation.doctor_id,
            "hospital_id": consultation.hospital_id,
            "region_adcode": region,
            "symptom_codes": [],
            "specialist_name": "",
            "latest_version": 1,
            "created_at": now,
            "updated_at": now,
        },
    )
    latest = await repository.version(session, record.id, record.latest_version)
    if latest is None and record.latest_version == 1:
        await repository.insert_version(
            session,
            {
                "record_id": record.id,
                "version": 1,
                "notes": "",
                "advice": "",
                "diagnoses": [],
                "amendment_reason": "",
                "revision": 0,
                "created_by_user_id": principal.user_id,
                "created_at": now,
            },
        )
        latest = await repository.version(session, record.id, 1)
    assert latest is not None
    if latest.signed_at is not None:
        raise errors.RecordSigned(version=latest.version)
    return record, latest


async def _edit_draft(
    session: AsyncSession,
    record: ClinicalRecord,
    draft: RecordVersion,
    change: Any,
    *,
    revision: int | None = None,
) -> RecordVersion:
    """Applies `change(draft) -> values` by a conditional UPDATE; retried on a concurrent edit unless
    the caller named the revision it saw."""
    for _ in range(_DRAFT_RETRIES):
        expected = draft.revision if revision is None else revision
        values = change(draft)
        if await repository.update_draft(session, draft.id, revision=expected, values=values):
            fresh = await repository.version(session, record.id, draft.version)
            assert fresh is not None
            return fresh
        current = await repository.version(session, record.id, draft.version)
        assert current is not None
        if current.signed_at is not None:
            raise errors.RecordSigned(version=current.version)
        if revision is not None:
            break
        draft = current
    raise errors.RecordChanged()


async def save_draft(
    *, session: AsyncSession, principal: Principal, consultation_id: int, data: DraftIn
) -> RecordOut:
    """Writes the notes, advice and presenting symptoms of the draft; refused once it is signed."""
    symptom_codes = _check_symptoms(data.symptom_codes) if data.symptom_codes is not None else None
    async with write_transaction(session):
        consultation = await _writable_consultation(session, principal, consultation_id)
        record, draft = await _ensure_draft(session, principal, consultation)
        await _edit_draft(
            session,
            record,
            draft,
            lambda _draft: {
                name: value
                for name, value in (("notes", data.notes), ("advice", data.advice))
                if value is not None
            },
            revision=data.revision,
        )
        changes: dict[str, Any] = {"updated_at": utcnow()}
        if symptom_codes is not None:
            changes["symptom_codes"] = symptom_codes
        await repository.update_record(session, record.id, changes)
        await audit.record(
            session,
            principal,
            "record.draft_saved",
            object_type="clinical_record",
            object_id=record.id,
            details={"consultation_id": consultation_id, "version": draft.version, "symptoms": symptom_codes},
        )
        record = await repository.record_by_id(session, record.id) or record
        view = await _full_view(session, consultation, record, drafts=True)
    return view


async def _visit_decision(session: AsyncSession, record: ClinicalRecord, code: str) -> VisitDecision:
    priors = await repository.priors_of_patient(session, record.patient_id)
    return policies.visit_type_decision(
        code=code,
        region_adcode=record.region_adcode,
        today=today(),
        priors=[_prior_facts(p) for p in priors],
        policies=await _policy_facts(session),
        symptoms=record.symptom_codes,
    )


async def check_visit_type(
    *, session: AsyncSession, principal: Principal, consultation_id: int, code: str
) -> VisitDecisionOut:
    """What diagnosing `code` in this consultation would count as, without writing it."""
    entry = _known_code(code)
    async with write_transaction(session):
        consultation = await _writable_consultation(session, principal, consultation_id)
        record, _ = await _ensure_draft(session, principal, consultation)
        decision = await _visit_decision(session, record, entry.code)
        await audit.record(
            session,
            principal,
            "record.visit_type_checked",
            object_type="clinical_record",
            object_id=record.id,
            details={"code": entry.code, "visit_type": decision.visit_type.value},
        )
    return _decision_view(decision)


async def add_diagnosis(
    *, session: AsyncSession, principal: Principal, consultation_id: int, code: str
) -> tuple[RecordOut, VisitDecisionOut]:
    """Adds an ICD-10 diagnosis to the draft, if the doctor may consult online and the visit type allows it.

    Refused with 409 follow_up_required when the patient has no prior offline diagnosis of the same
    condition and no first-visit policy covers the case: such a first visit gets advice only.
    """
    entry = _known_code(code)
    async with write_transaction(session):
        consultation = await _writable_consultation(session, principal, consultation_id)
        # 3 years of independent practice and real-name verification, counted today.
        await registry_service.require_may_consult_online(session=session, doctor_id=consultation.doctor_id)
        record, draft = await _ensure_draft(session, principal, consultation)
        decision = await _visit_decision(session, record, entry.code)
        if not decision.allows_diagnosis:
            raise errors.FollowUpRequired(
                category=entry.category,
                code=entry.code,
                visit_type=decision.visit_type.value,
                reasons=[{"code": r.code, "zh": r.zh, "en": r.en} for r in decision.reasons],
            )
        item = {
            "code": entry.code,
            "name_zh": entry.name_zh,
            "name_en": entry.name_en,
            "visit_type": decision.visit_type.value,
            "prior_id": decision.prior_id,
            "policy_key": decision.policy_key,
            "policy_version": decision.policy_version,
        }

        def change(current: RecordVersion) -> dict[str, Any]:
            kept = [d for d in current.diagnoses if d["code"] != entry.code]
            if len(kept) >= policies.MAX_DIAGNOSES:
                raise errors.TooManyDiagnoses(max=policies.MAX_DIAGNOSES)
            return {"diagnoses": [*kept, item]}

        await _edit_draft(session, record, draft, change)
        await audit.record(
            session,
            principal,
            "record.diagnosis_added",
            object_type="clinical_record",
            object_id=record.id,
            details={
                "consultation_id": consultation_id,
                "code": entry.code,
                "visit_type": decision.visit_type.value,
                "prior_id": decision.prior_id,
                "policy": decision.policy_key,
            },
        )
        view = await _full_view(session, consultation, record, drafts=True)
    return view, _decision_view(decision)


async def remove_diagnosis(
    *, session: AsyncSession, principal: Principal, consultation_id: int, code: str
) -> RecordOut:
    """Takes a diagnosis off the draft (a signed version keeps its diagnoses; amend it instead)."""
    wanted = icd10.normalise_code(code)
    async with write_transaction(session):
        consultation = await _writable_consultation(session, principal, consultation_id)
        record, draft = await _ensure_draft(session, principal, consultation)
        await _edit_draft(
            session,
            record,
            draft,
            lambda current: {"diagnoses": [d for d in current.diagnoses if d["code"] != wanted]},
        )
        await audit.record(
            session,
            principal,
            "record.diagnosis_removed",
            object_type="clinical_record",
            object_id=record.id,
            details={"consultation_id": consultation_id, "code": wanted},
        )
        view = await _full_view(session, consultation, record, drafts=True)
    return view


async def set_attendance(
    *, session: AsyncSession, principal: Principal, consultation_id: int, data: AttendanceIn
) -> RecordOut:
    """Records whether a guardian and a doctor of a relevant specialty attend (needed for a child under 6)."""
    async with write_transaction(session):
        consultation = await _writable_consultation(session, principal, consultation_id)
        record = await repository.record_for_consultation(session, consultation_id)
        if record is None:
            record, _ = await _ensure_draft(session, principal, consultation)
        now = utcnow()
        await repository.update_record(
            session,
            record.id,
            {
                "guardian_present": data.guardian_present,
                "specialist_present": data.specialist_present,
                "specialist_name": data.specialist_name.strip(),
                "attendance_recorded_at": now,
                "updated_at": now,
            },
        )
        await audit.record(
            session,
            principal,
            "record.attendance",
            object_type="clinical_record",
            object_id=record.id,
            details={
                "consultation_id": consultation_id,
                "guardian_present": data.guardian_present,
                "specialist_present": data.specialist_present,
            },
        )
        record = await repository.record_by_id(session, record.id) or record
        view = await _full_view(session, consultation, record, drafts=True)
    return view


# ---- signing and amending ----------------------------------------------------------------------------


def content_hash(
    record: ClinicalRecord, row: RecordVersion, *, previous_hash: str, signed_at: datetime, user_id: int
) -> str:
    """SHA-256 over what a signature vouches for, chained to the previous version's hash."""
    body = {
        "record_id": record.id,
        "consultation_id": record.consultation_id,
        "patient_id": record.patient_id,
        "doctor_id": record.doctor_id,
        "version": row.version,
        "notes": row.notes,
        "advice": row.advice,
        "diagnoses": row.diagnoses,
        "amendment_reason": row.amendment_reason,
        "previous_hash": previous_hash,
        "signed_by_user_id": user_id,
        "signed_at": signed_at.isoformat(),
    }
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def sign(
    *, session: AsyncSession, principal: Principal, consultation_id: int, revision: int | None = None
) -> RecordOut:
    """Signs and locks the newest version; of two signatures at once, one wins and the other gets 409."""
    async with write_transaction(session):
        consultation = await _writable_consultation(session, principal, consultation_id)
        record = await repository.record_for_consultation(session, consultation_id)
        if record is None:
            raise errors.RecordNotFound(consultation_id=consultation_id)
        draft = await repository.version(session, record.id, record.latest_version)
        assert draft is not None
        if draft.signed_at is not None:
            raise errors.RecordSigned(version=draft.version)
        if not (draft.notes.strip() or draft.advice.strip() or draft.diagnoses):
            raise errors.RecordEmpty(version=draft.version)
        expected = draft.revision if revision is None else revision
        previous = (
            await repository.version(session, record.id, draft.version - 1) if draft.version > 1 else None
        )
        now = utcnow()
        user_id = principal.user_id
        assert user_id is not None  # the policy admits only a person
        digest = content_hash(
            record,
            draft,
            previous_hash=(previous.content_hash or "") if previous else "",
            signed_at=now,
            user_id=user_id,
        )
        if not await repository.sign_version(
            session, draft.id, revision=expected, signed_at=now, user_id=user_id, content_hash=digest
        ):
            current = await repository.version(session, record.id, draft.version)
            if current is not None and current.signed_at is not None:
                raise errors.RecordSigned(version=current.version)
            raise errors.RecordChanged()
        await audit.record(
            session,
            principal,
            "record.signed",
            object_type="clinical_record",
            object_id=record.id,
            details={"consultation_id": consultation_id, "version": draft.version, "content_hash": digest},
        )
        view = await _full_view(session, consultation, record, drafts=True)
    return view


async def amend(
    *, session: AsyncSession, principal: Principal, consultation_id: int, reason: str
) -> RecordOut:
    """Opens a new draft version that corrects the signed one; the signed version stays as it was."""
    reason = reason.strip()
    if not reason:
        raise errors.AmendmentReasonMissing()
    async with write_transaction(session):
        consultation = await _writable_consultation(session, principal, consultation_id)
        record = await repository.record_for_consultation(session, consultation_id)
        if record is None:
            raise errors.RecordNotFound(consultation_id=consultation_id)
        latest = await repository.version(session, record.id, record.latest_version)
        assert latest is not None
        if latest.signed_at is None:
            raise errors.NothingToAmend(version=latest.version)
        number = latest.version + 1
        inserted = await repository.insert_version(
            session,
            {
                "record_id": record.id,
                "version": number,
                "previous_version_id": latest.id,
                "amendment_reason": reason,
                "notes": latest.notes,
                "advice": latest.advice,
                "diagnoses": latest.diagnoses,
                "revision": 0,
                "created_by_user_id": principal.user_id,
                "created_at": utcnow(),
            },
        )
        if not inserted or not await repository.advance_latest(session, record.id, to=number, now=utcnow()):
            raise errors.RecordChanged()
        await audit.record(
            session,
            principal,
            "record.amendment_opened",
            object_type="clinical_record",
            object_id=record.id,
            details={"consultation_id": consultation_id, "version": number, "amends": latest.version},
        )
        record = await repository.record_by_id(session, record.id) or record
        view = await _full_view(session, consultation, record, drafts=True)
    return view


# ---- retention ---------------------------------------------------------------------------------------


async def delete_record(*, session: AsyncSession, principal: Principal, consultation_id: int) -> None:
    """Deletes a record only after its retention period, and only as platform_admin; every attempt is audited.

    Within the period the answer is 409 retention_period with the earliest deletion date, whoever asks
    among those who may see the record.
    """
    refusal: Exception | None = None
    async with write_transaction(session):
        consultation = await repository.consultation(session, consultation_id)
        record = await repository.record_for_consultation(session, consultation_id)
        if consultation is None or record is None:
            raise errors.RecordNotFound(consultation_id=consultation_id)
        facts = await _facts(session, principal)
        target = _target(record)
        may_delete = policies.may(principal, Action.delete, target, facts)
        if not may_delete and not any(
            policies.may(principal, action, target, facts)
            for action in (Action.read_draft, Action.read_signed)
        ):
            raise errors.RecordNotFound(consultation_id=consultation_id)
        rows = await repository.versions(session, record.id)
        completed_on = _completed_on(consultation, rows, record)
        earliest = policies.earliest_deletion(RetentionKind.medical_record, completed_on)
        years = policies.RETENTION_YEARS[RetentionKind.medical_record]
        if not policies.may_delete_now(RetentionKind.medical_record, completed_on, today()):
            refusal = errors.RetentionPeriod(years=years, earliest=earliest.isoformat())
        elif not may_delete:
            refusal = Forbidden(action=Action.delete.value)
        await audit.record(
            session,
            principal,
            "record.delete_refused" if refusal else "record.deleted",
            object_type="clinical_record",
            object_id=record.id,
            details={"consultation_id": consultation_id, "earliest_deletion": earliest.isoformat()},
        )
        if refusal is None:
            await repository.delete_record(session, record.id)
    # The refusal is raised after commit: the attempt stays on the audit trail.
    if refusal is not None:
        raise refusal


def earliest_deletion(kind: RetentionKind, completed_at: datetime) -> date:
    """The first day a consultation's records (15 years) or its chat, audio and video (3 years) may go."""
    return policies.earliest_deletion(kind, policies.shanghai_day(completed_at))


# ---- prior offline diagnoses -------------------------------------------------------------------------


def _prior_facts(row: PriorDiagnosis) -> PriorFacts:
    return PriorFacts(
        id=row.id,
        icd10_code=row.icd10_code,
        source=PriorSource(row.source),
        diagnosed_on=row.diagnosed_on,
        confirmed=row.confirmed_by_doctor_id is not None,
    )


def _prior_view(row: PriorDiagnosis) -> PriorOut:
    entry = icd10.index().get(row.icd10_code)
    facts = _prior_facts(row)
    return PriorOut(
        id=row.id,
        patient_id=row.patient_id,
        icd10_code=row.icd10_code,
        name_zh=entry.name_zh if entry else row.icd10_code,
        name_en=entry.name_en if entry else row.icd10_code,
        category=row.category,
        diagnosed_on=row.diagnosed_on,
        hospital_name=row.hospital_name,
        hospital_id=row.hospital_id,
        source=PriorSource(row.source),
        attachment_ref=row.attachment_ref,
        confirmed=facts.confirmed,
        confirmed_by_doctor_id=row.confirmed_by_doctor_id,
        confirmed_at=row.confirmed_at,
        counts=facts.counts,
    )


async def add_prior(*, session: AsyncSession, principal: Principal, data: PriorIn) -> PriorOut:
    """Records an offline diagnosis: the hospital enters its own records; the patient's side uploads one."""
    entry = _known_code(data.icd10_code)
    if not date(1900, 1, 1) <= data.diagnosed_on <= today():
        raise errors.InvalidPrior(
            reason="the diagnosis date is not a real past day", reason_zh="诊断日期无效或晚于今天"
        )
    if data.source is PriorSource.uploaded_record and not data.attachment_ref:
        raise errors.InvalidPrior(reason="an upload needs its attachment", reason_zh="上传病历须附带文件")
    if data.source is PriorSource.hospital_record and data.hospital_id is None:
        raise errors.InvalidPrior(
            reason="a hospital record names its hospital", reason_zh="医院病历须注明医院"
        )
    async with write_transaction(session):
        facts = await _facts(session, principal)
        target = Target(hospital_id=data.hospital_id, patient_id=data.patient_id)
        action = (
            Action.add_prior_upload
            if data.source is PriorSource.uploaded_record
            else Action.add_prior_hospital_record
        )
        if not policies.may(principal, action, target, facts):
            raise Forbidden(action=action.value)
        if not await repository.patient_exists(session, data.patient_id):
            raise errors.InvalidPrior(reason="no such patient", reason_zh="患者不存在")
        if data.hospital_id is not None and not await repository.hospital_exists(session, data.hospital_id):
            raise errors.InvalidPrior(reason="no such hospital", reason_zh="医院不存在")
        row = await repository.add_prior(
            session,
            {
                "patient_id": data.patient_id,
                "icd10_code": entry.code,
                "category": entry.category,
                "diagnosed_on": data.diagnosed_on,
                "hospital_name": data.hospital_name.strip(),
                "hospital_id": data.hospital_id,
                "source": data.source.value,
                "attachment_ref": data.attachment_ref,
                "created_by_user_id": principal.user_id,
                "created_at": utcnow(),
            },
        )
        await audit.record(
            session,
            principal,
            "prior_diagnosis.added",
            object_type="prior_diagnosis",
            object_id=row.id,
            details={"patient_id": data.patient_id, "code": entry.code, "source": data.source.value},
        )
        view = _prior_view(row)
    return view


async def list_priors(*, session: AsyncSession, principal: Principal, patient_id: int) -> list[PriorOut]:
    """A patient's prior offline diagnoses, for the patient's side; audited."""
    async with transaction(session):
        facts = await _facts(session, principal)
        if not policies.may(principal, Action.read_priors, Target(patient_id=patient_id), facts):
            raise Forbidden(action=Action.read_priors.value)
        rows = await repository.priors_of_patient(session, patient_id)
        await audit.record(
            session, principal, "prior_diagnosis.list", object_type="patient", object_id=patient_id
        )
        views = [_prior_view(row) for row in rows]
    return views


async def consultation_priors(
    *, session: AsyncSession, principal: Principal, consultation_id: int
) -> list[PriorOut]:
    """The consultation's patient's prior offline diagnoses, for its doctor; audited."""
    async with transaction(session):
        consultation = await _consultation(session, consultation_id)
        facts = await _facts(session, principal)
        if not policies.may(principal, Action.read_priors, _target(consultation), facts):
            raise errors.NotTheAttendingDoctor(consultation_id=consultation_id)
        rows = await repository.priors_of_patient(session, consultation.patient_id)
        await audit.record(
            session,
            principal,
            "prior_diagnosis.list",
            object_type="patient",
            object_id=consultation.patient_id,
            details={"consultation_id": consultation_id},
        )
        views = [_prior_view(row) for row in rows]
    return views


async def confirm_prior(
    *, session: AsyncSession, principal: Principal, consultation_id: int, prior_id: int
) -> PriorOut:
    """The consultation's doctor confirms the patient's uploaded record; it then counts for follow-ups."""
    async with write_transaction(session):
        consultation = await _writable_consultation(session, principal, consultation_id)
        row = await repository.prior(session, prior_id)
        if row is None or row.patient_id != consultation.patient_id:
            raise errors.PriorNotFound(prior_id=prior_id)
        if row.source != PriorSource.uploaded_record.value:
            raise errors.PriorNotUpload(prior_id=prior_id)
        if not await repository.confirm_prior(
            session, prior_id, doctor_id=consultation.doctor_id, consultation_id=consultation_id, now=utcnow()
        ):
            raise errors.PriorAlreadyConfirmed(prior_id=prior_id)
        await audit.record(
            session,
            principal,
            "prior_diagnosis.confirmed",
            object_type="prior_diagnosis",
            object_id=prior_id,
            details={"consultation_id": consultation_id, "patient_id": consultation.patient_id},
        )
        row = await repository.prior(session, prior_id) or row
        view = _prior_view(row)
    return view


# ---- first-visit policies ----------------------------------------------------------------------------


def _file_policy_rows() -> list[dict[str, Any]]:
    rows = []
    for item in _policy_file()["policies"]:
        rows.append(
            {
                "key": item["key"],
                "version": int(item["version"]),
                "region_adcode": item["region_adcode"],
                "name_zh": item["name_zh"],
                "name_en": item.get("name_en", ""),
                "source": item["source"],
                "valid_from": date.fromisoformat(item["valid_from"]),
                "valid_to": date.fromisoformat(item["valid_to"]),
                "icd10_categories": list(item["icd10_categories"]),
                "symptom_codes": list(item["symptom_codes"]),
                "from_file": True,
            }
        )
    return rows


async def _load_file_policies(session: AsyncSession) -> None:
    """Adds the shipped policy versions the table lacks (inserting twice at once adds them once)."""
    present = await repository.policy_keys_versions(session)
    for row in _file_policy_rows():
        if (row["key"], row["version"]) not in present:
            await repository.insert_policy(session, {**row, "created_at": utcnow()})


def _policy_facts_of(row: FirstVisitPolicy) -> PolicyFacts:
    return PolicyFacts(
        key=row.key,
        version=row.version,
        region_adcode=row.region_adcode,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        icd10_categories=frozenset(row.icd10_categories),
        symptom_codes=frozenset(row.symptom_codes),
        name_zh=row.name_zh,
        name_en=row.name_en,
    )


async def _policy_facts(session: AsyncSession) -> list[PolicyFacts]:
    await _load_file_policies(session)
    return [_policy_facts_of(row) for row in await repository.policies(session)]


def _policy_view(row: FirstVisitPolicy, *, current: bool, on: date) -> PolicyOut:
    return PolicyOut(
        key=row.key,
        version=row.version,
        region_adcode=row.region_adcode,
        name_zh=row.name_zh,
        name_en=row.name_en,
        source=row.source,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        icd10_categories=list(row.icd10_categories),
        symptom_codes=list(row.symptom_codes),
        current=current,
        in_force_today=current and _policy_facts_of(row).in_force(row.region_adcode, on),
        from_file=row.from_file,
    )


async def list_policies(*, session: AsyncSession, principal: Principal) -> list[PolicyOut]:
    """Every version of every first-visit policy, newest version of each key marked current."""
    if not policies.may(principal, Action.list_policies, Target()):
        raise Forbidden(action=Action.list_policies.value)
    async with write_transaction(session):
        await _load_file_policies(session)
        rows = await repository.policies(session)
    newest = {(p.key, p.version) for p in policies.latest_versions(_policy_facts_of(r) for r in rows)}
    on = today()
    return [_policy_view(row, current=(row.key, row.version) in newest, on=on) for row in rows]


async def save_policy(*, session: AsyncSession, principal: Principal, data: PolicyIn) -> PolicyOut:
    """Saves a new version of a region's first-visit policy; earlier versions stay on record."""
    if data.valid_to < data.valid_from:
        raise errors.InvalidPolicy(reason="it ends before it starts", reason_zh="结束日期早于开始日期")
    categories = sorted({c.strip().upper() for c in data.icd10_categories})
    if any(not _CATEGORY.match(c) for c in categories):
        raise errors.InvalidPolicy(
            reason="scope categories are 3-character ICD-10 codes", reason_zh="范围须为 3 位 ICD-10 类目"
        )
    symptom_codes = _check_symptoms(data.symptom_codes)
    if not categories and not symptom_codes:
        raise errors.InvalidPolicy(reason="the scope is empty", reason_zh="适用范围为空")
    if not policies.may(principal, Action.manage_policies, Target(region_adcode=data.region_adcode)):
        raise Forbidden(action=Action.manage_policies.value)
    async with write_transaction(session):
        await _load_file_policies(session)
        number = await repository.newest_policy_version(session, data.key) + 1
        values = {
            "key": data.key,
            "version": number,
            "region_adcode": data.region_adcode,
            "name_zh": data.name_zh.strip(),
            "name_en": data.name_en.strip(),
            "source": data.source.strip(),
            "valid_from": data.valid_from,
            "valid_to": data.valid_to,
            "icd10_categories": categories,
            "symptom_codes": symptom_codes,
            "from_file": False,
            "created_by_user_id": principal.user_id,
            "created_at": utcnow(),
        }
        if not await repository.insert_policy(session, values):
            raise errors.PolicyVersionTaken(key=data.key)
        await audit.record(
            session,
            principal,
            "first_visit_policy.saved",
            object_type="first_visit_policy",
            object_id=f"{data.key}@{number}",
            details={"region": data.region_adcode, "from": data.valid_from, "to": data.valid_to},
        )
    row = FirstVisitPolicy(**values)
    return _policy_view(row, current=True, on=today())


# ---- for the prescription subdomain ------------------------------------------------------------------


async def prescribing_allowed(
    session: AsyncSession, *, consultation_id: int, principal: Principal = SYSTEM
) -> Decision:
    """Whether an online prescription may be written in this consultation now, with every reason if not.

    It needs diagnoses on the record that the visit-type rule allows (re-judged today: a policy may have
    ended), an attending doctor eligible to consult online, and for a patient under 6 a guardian and a
    relevant specialist recorded as present. Reads only: the audit entry it adds is committed with the
    caller's transaction.
    """
    consultation = await _consultation(session, consultation_id)
    record = await repository.record_for_consultation(session, consultation_id)
    visits: list[VisitDecision] = []
    if record is not None:
        latest = await repository.version(session, record.id, record.latest_version)
        codes = [item["code"] for item in (latest.diagnoses if latest else [])]
        if codes:
            priors = [_prior_facts(p) for p in await repository.priors_of_patient(session, record.patient_id)]
            stored = [_policy_facts_of(row) for row in await repository.policies(session)]
            # The shipped versions count even before anything copied them into the table.
            present = {(p.key, p.version) for p in stored}
            policy_facts = stored + [
                _policy_facts_of(FirstVisitPolicy(**row))
                for row in _file_policy_rows()
                if (row["key"], row["version"]) not in present
            ]
            visits = [
                policies.visit_type_decision(
                    code=code,
                    region_adcode=record.region_adcode,
                    today=today(),
                    priors=priors,
                    policies=policy_facts,
                    symptoms=record.symptom_codes,
                )
                for code in codes
            ]
    try:
        await registry_service.require_may_consult_online(session=session, doctor_id=consultation.doctor_id)
        eligible = True
    except (registry_errors.DoctorNotEligibleOnline, registry_errors.DoctorNotFound):
        eligible = False
    decision = policies.prescribing_decision(
        visits=visits,
        doctor_eligible=eligible,
        under_six=await _under_six(session, consultation.patient_id),
        guardian_present=record.guardian_present if record else None,
        specialist_present=record.specialist_present if record else None,
    )
    await audit.record(
        session,
        principal,
        "record.prescribing_checked",
        object_type="consultation",
        object_id=consultation_id,
        details={"allowed": decision.allowed, "reasons": [r.code for r in decision.reasons]},
    )
    return decision


async def diagnosis_codes(session: AsyncSession, *, consultation_id: int) -> list[str]:
    """The ICD-10 codes on the newest version of a consultation's record (what a prescription treats)."""
    record = await repository.record_for_consultation(session, consultation_id)
    if record is None:
        return []
    latest = await repository.version(session, record.id, record.latest_version)
    return [str(item["code"]) for item in (latest.diagnoses if latest else [])]


def visit_type_labels() -> dict[str, tuple[str, str]]:
    return {kind.value: label for kind, label in VISIT_TYPE_LABELS.items()}


async def prescribing_check(*, session: AsyncSession, principal: Principal, consultation_id: int) -> Decision:
    """The prescribing decision, asked by the consultation's doctor (the editor shows it before prescribing)."""
    async with transaction(session):
        consultation = await _consultation(session, consultation_id)
        facts = await _facts(session, principal)
        if not policies.may(principal, Action.read_draft, _target(consultation), facts):
            raise errors.NotTheAttendingDoctor(consultation_id=consultation_id)
        decision = await prescribing_allowed(session, consultation_id=consultation_id, principal=principal)
    return decision


async def editor(*, session: AsyncSession, principal: Principal, consultation_id: int) -> EditorOut:
    """Everything the doctor's record editor shows, for the consultation's doctor only; audited."""
    async with transaction(session):
        consultation = await _consultation(session, consultation_id)
        facts = await _facts(session, principal)
        if not policies.may(principal, Action.read_draft, _target(consultation), facts):
            raise errors.NotTheAttendingDoctor(consultation_id=consultation_id)
        record = await repository.record_for_consultation(session, consultation_id)
        view = await _full_view(session, consultation, record, drafts=True) if record else None
        priors = [
            _prior_view(row) for row in await repository.priors_of_patient(session, consultation.patient_id)
        ]
        decision = await prescribing_allowed(session, consultation_id=consultation_id, principal=principal)
        await audit.record(
            session,
            principal,
            "record.read",
            object_type="clinical_record",
            object_id=record.id if record else None,
            details={"consultation_id": consultation_id, "editor": True, "prior_ids": [p.id for p in priors]},
        )
        answer = EditorOut(
            consultation_id=consultation.id,
            consultation_status=consultation.status,
            patient_id=consultation.patient_id,
            patient_under_six=await _under_six(session, consultation.patient_id),
            record=view,
            priors=priors,
            prescribing=PrescribingDecisionOut(
                allowed=decision.allowed,
                visit_type=decision.visit_type,
                reasons=[ReasonOut(code=r.code, zh=r.zh, en=r.en) for r in decision.reasons],
            ),
        )
    return answer
