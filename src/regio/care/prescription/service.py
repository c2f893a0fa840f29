"""Prescriptions' only writer: the catalog, safety checks, drafting, signing with the doctor's own key,
pharmacist review, pickup and delivery, dispensing; and the reads, each audited.

Every write is one transaction with its audit entry and its outbox messages. Status changes are
conditional UPDATEs naming the status (and revision, and reviewer) they start from, so two pharmacists
claiming at once, or a doctor editing while a signature lands, are decided by the database.

What the doctor signs is the canonical JSON (RFC 8785) of the prescription's content; the signature is
verified on every read, and a pharmacist cannot approve one that no longer verifies.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.consultation.enums import Status as ConsultationStatus
from regio.care.consultation.models import Consultation
from regio.care.patients import service as patients_service
from regio.care.prescription import catalog, checks, errors, policies, repository, signing
from regio.care.prescription.couriers import (
    Courier,
    CourierUnavailable,
    ShipmentRequest,
    courier_secret,
)
from regio.care.prescription.enums import (
    DELIVERY_FINAL,
    DELIVERY_LABELS,
    DELIVERY_ORDER,
    FHIR_STATUS,
    STATUS_LABELS,
    Delivery,
    Method,
    Status,
)
from regio.care.prescription.interactions import InteractionTable, shipped_interactions
from regio.care.prescription.models import Drug, Fulfilment, Pharmacy, Prescription, SigningKey
from regio.care.prescription.policies import Action, Facts, Target
from regio.care.prescription.schemas import (
    CheckIn,
    CheckOut,
    CourierEventOut,
    DispenseOut,
    DoctorStatsOut,
    DrugOut,
    FindingOut,
    FulfilmentIn,
    FulfilmentOut,
    KeyIn,
    KeyOut,
    LineIn,
    LineOut,
    PatientFactsIn,
    PharmacyOut,
    PrescriptionIn,
    PrescriptionOut,
    QueueItemOut,
    StatsOut,
)
from regio.care.records import policies as records_policies
from regio.care.records import service as records_service
from regio.care.registry import service as registry_service
from regio.config import Settings
from regio.core import audit, outbox, webhooks
from regio.core.access import SYSTEM, Principal, Role, ScopeKind
from regio.core.db import Database, transaction, utcnow, write_transaction
from regio.core.errors import Forbidden

log = logging.getLogger("regio.prescription")

# A prescription may be written while the consultation runs and after it ends.
PRESCRIBABLE = frozenset({ConsultationStatus.in_progress.value, ConsultationStatus.completed.value})
MAX_LIST = 200
MAX_STATISTICS_DAYS = 366
# A courier's clock may be a little ahead; an event far in the future would freeze a delivery.
COURIER_CLOCK_SKEW = timedelta(minutes=10)
COURIER_EVENT_MAX_AGE = timedelta(days=30)
TOPIC_NOTICE = "care.prescription.notice"
TOPIC_SHIP = "care.prescription.ship"
TOPIC_OVERDUE = "care.prescription.review_overdue"
TOPICS = (TOPIC_NOTICE, TOPIC_OVERDUE)


# ---- the catalog ---------------------------------------------------------------------------------


def _row_values(drug: catalog.Drug) -> dict[str, Any]:
    return {
        "code": drug.code,
        "name_zh": drug.name_zh,
        "name_en": drug.name_en,
        "brands": list(drug.brands),
        "dosage_form": drug.dosage_form,
        "strength": drug.strength,
        "atc": drug.atc,
        "rx": drug.rx,
        "insurance_class": drug.insurance_class,
        "control": drug.control.value,
        "dose_unit": drug.dose_unit,
        "adult_usual_daily": drug.adult_usual_daily,
        "adult_max_daily": drug.adult_max_daily,
        "child_mg_per_kg_daily_max": drug.child_mg_per_kg_daily_max,
        "child_min_age_years": drug.child_min_age_years,
        "pregnancy": drug.pregnancy.value if drug.pregnancy else None,
        "lactation": drug.lactation.value if drug.lactation else None,
        "cold_chain": drug.cold_chain,
        "source": drug.source,
        "search_text": " ".join(
            [drug.name_zh, drug.name_en.lower(), *drug.brands, *(b.lower() for b in drug.brands), drug.pinyin]
        ),
        "updated_at": utcnow(),
    }


def _entry(row: Drug) -> catalog.Drug:
    return catalog.Drug(
        code=row.code,
        name_zh=row.name_zh,
        name_en=row.name_en,
        brands=tuple(row.brands),
        dosage_form=row.dosage_form,
        strength=row.strength,
        atc=row.atc,
        rx=row.rx,
        insurance_class=row.insurance_class,
        control=catalog.Control(row.control),
        dose_unit=row.dose_unit,
        adult_usual_daily=row.adult_usual_daily,
        adult_max_daily=row.adult_max_daily,
        child_mg_per_kg_daily_max=row.child_mg_per_kg_daily_max,
        child_min_age_years=row.child_min_age_years,
        pregnancy=catalog.Caution(row.pregnancy) if row.pregnancy else None,
        lactation=catalog.Caution(row.lactation) if row.lactation else None,
        cold_chain=row.cold_chain,
        source=row.source,
        pinyin="",
    )


async def import_drugs(session: AsyncSession, drugs: Sequence[catalog.Drug], *, principal: Principal) -> int:
    """Adds and updates catalog entries in one transaction (the caller validated every row first)."""
    async with write_transaction(session):
        for start in range(0, len(drugs), 200):
            await repository.upsert_drugs(session, [_row_values(d) for d in drugs[start : start + 200]])
        await audit.record(
            session,
            principal,
            "prescription.catalog_imported",
            object_type="drug_catalog",
            object_id=None,
            details={"rows": len(drugs)},
        )
    _catalog_cache.clear()
    return len(drugs)


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    updated: int
    errors: list[catalog.RowError]


def decode_upload(data: bytes) -> str:
    """UTF-8 (with or without BOM) or GB18030, as spreadsheet programs in China save CSV."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


async def import_catalog_file(
    *, session: AsyncSession, data: bytes, principal: Principal = SYSTEM
) -> ImportResult:
    """Validates every row of a catalog CSV; writes all of it or, with any problem, nothing."""
    report = catalog.parse_catalog(decode_upload(data))
    if not report.ok:
        return ImportResult(added=0, updated=0, errors=list(report.errors))
    existing = await repository.existing_codes(session, (drug.code for drug in report.drugs))
    await import_drugs(session, report.drugs, principal=principal)
    return ImportResult(added=len(report.drugs) - len(existing), updated=len(existing), errors=[])


async def ensure_catalog(db: Database) -> int:
    """Loads the shipped catalog into an empty database (the platform's start, the demo, tests)."""
    async with db.sessionmaker() as session:
        if await repository.drug_count(session) > 0:
            return 0
        return await import_drugs(session, catalog.shipped_catalog(), principal=SYSTEM)


_catalog_cache: dict[tuple[int, str], dict[str, catalog.Drug]] = {}


async def _catalog(session: AsyncSession) -> dict[str, catalog.Drug]:
    """The whole catalog for the checks (allergies name drugs anywhere in it), re-read only when an
    import changed it: one small aggregate per check instead of every row."""
    count, newest = (await session.execute(select(func.count(Drug.id), func.max(Drug.updated_at)))).one()
    key = (int(count or 0), str(newest))
    cached = _catalog_cache.get(key)
    if cached is None:
        rows = (await session.scalars(select(Drug))).all()
        cached = {row.code: _entry(row) for row in rows}
        _catalog_cache.clear()
        _catalog_cache[key] = cached
    return cached


async def known_drug(session: AsyncSession, code: str) -> bool:
    """Whether a code is in the catalog (payment prices only catalog drugs)."""
    return code in await _catalog(session)


def _interactions() -> InteractionTable:
    return shipped_interactions()


def _drug_view(row: Drug) -> DrugOut:
    return DrugOut(
        code=row.code,
        name_zh=row.name_zh,
        name_en=row.name_en,
        brands=list(row.brands),
        dosage_form=row.dosage_form,
        strength=row.strength,
        atc=row.atc,
        rx=row.rx,
        insurance_class=row.insurance_class,
        control=row.control,
        dose_unit=row.dose_unit,
        adult_usual_daily=row.adult_usual_daily,
        adult_max_daily=row.adult_max_daily,
        cold_chain=row.cold_chain,
    )


async def search_drugs(
    *, session: AsyncSession, principal: Principal, query: str, limit: int
) -> list[DrugOut]:
    if not principal.is_authenticated:
        raise Forbidden()
    return [_drug_view(row) for row in await repository.search_drugs(session, query, limit=limit)]


# ---- safety checks -------------------------------------------------------------------------------


def _check_line_codes(lines: Sequence[LineIn]) -> None:
    for line in lines:
        if line.frequency not in checks.FREQUENCIES:
            raise errors.UnknownFrequency(value=line.frequency, allowed=", ".join(checks.FREQUENCIES))
        if line.route not in checks.ROUTES:
            raise errors.UnknownRoute(value=line.route, allowed=", ".join(checks.ROUTES))


def _engine_lines(lines: Sequence[LineIn] | Sequence[dict[str, Any]]) -> list[checks.Line]:
    out = []
    for line in lines:
        item = line.model_dump() if isinstance(line, LineIn) else line
        out.append(
            checks.Line(
                drug_code=item["drug_code"],
                dose=float(item["dose"]),
                dose_unit=item["dose_unit"],
                route=item["route"],
                frequency=item["frequency"],
                days=int(item["days"]),
                prn_max_per_day=item.get("prn_max_per_day"),
            )
        )
    return out


def _finding_view(finding: checks.Finding) -> FindingOut:
    return FindingOut(
        key=finding.key,
        check=finding.check,
        severity=finding.severity.value,
        drugs=list(finding.drugs),
        message_zh=finding.message_zh,
        message_en=finding.message_en,
        source=finding.source,
        management_zh=finding.management_zh,
    )


def _check_out(findings: Sequence[checks.Finding]) -> CheckOut:
    return CheckOut(
        findings=[_finding_view(f) for f in findings],
        blocking=[f.key for f in checks.blocking(findings)],
        needs_override=[f.key for f in checks.needing_override(findings)],
    )


async def _known_codes(session: AsyncSession, codes: Iterable[str]) -> dict[str, catalog.Drug]:
    table = await _catalog(session)
    unknown = sorted({code for code in codes if code not in table})
    if unknown:
        raise errors.UnknownDrug(codes=", ".join(unknown))
    return table


async def check(*, session: AsyncSession, principal: Principal, data: CheckIn) -> CheckOut:
    """The safety checks on their own, for a doctor's screen or a pharmacy's system; stores nothing."""
    if not principal.is_authenticated:
        raise Forbidden()
    _check_line_codes(data.lines)
    table = await _known_codes(session, (line.drug_code for line in data.lines))
    profile = data.patient
    patient = checks.Patient(
        age_years=profile.age_years,
        sex=profile.sex,
        weight_kg=profile.weight_kg,
        pregnant=profile.pregnant,
        trimester=profile.trimester,
        lactating=profile.lactating,
        allergies=tuple(profile.allergies),
        diagnoses=tuple(code.upper() for code in profile.diagnoses),
    )
    findings = checks.check(
        patient,
        _engine_lines(data.lines),
        kind=checks.Kind(data.kind),
        catalog=table,
        interactions=_interactions(),
    )
    return _check_out(findings)


# ---- facts and access ----------------------------------------------------------------------------


async def _facts(session: AsyncSession, principal: Principal) -> Facts:
    own_doctor_id = None
    if principal.is_person and principal.user_id is not None and principal.has_role(Role.doctor):
        doctor = await registry_service.doctor_for_user(session=session, user_id=principal.user_id)
        own_doctor_id = doctor.id if doctor else None
    actable: frozenset[int] = frozenset()
    if principal.has_role(Role.patient):
        actable = await patients_service.actable_patient_ids(session=session, principal=principal)
    return Facts(own_doctor_id=own_doctor_id, actable_patient_ids=actable)


def _target(row: Prescription | Consultation, pharmacy_id: int | None = None) -> Target:
    return Target(
        doctor_id=row.doctor_id,
        hospital_id=row.hospital_id,
        patient_id=row.patient_id,
        pharmacy_id=pharmacy_id,
        signed=not isinstance(row, Prescription) or row.signed_at is not None,
    )


async def _prescription(session: AsyncSession, prescription_id: int) -> Prescription:
    found = await repository.get(session, prescription_id)
    if found is None:
        raise errors.PrescriptionNotFound(prescription_id=prescription_id)
    return found


async def _readable(
    session: AsyncSession, principal: Principal, prescription_id: int, action: Action = Action.read
) -> tuple[Prescription, Facts]:
    row = await _prescription(session, prescription_id)
    facts = await _facts(session, principal)
    fulfilment = await repository.fulfilment_of(session, row.id)
    target = _target(row, fulfilment.pharmacy_id if fulfilment else None)
    if not policies.may(principal, action, target, facts):
        # Not found rather than forbidden: nobody learns which prescription ids exist.
        raise errors.PrescriptionNotFound(prescription_id=prescription_id)
    return row, facts


async def _patient_profile(
    session: AsyncSession, patient_id: int, facts: dict[str, Any], diagnoses: Sequence[str]
) -> tuple[checks.Patient, int, str, str]:
    person = await repository.patient(session, patient_id)
    if person is None:
        raise errors.PrescriptionNotFound(prescription_id=0)
    today = records_policies.shanghai_day(utcnow())
    age = records_policies.full_years(person.birth_date, today)
    # Age in years with the fraction, so the paediatric rules see a 5-month-old as 0.4, not 0.
    exact_age = max(0.0, (today - person.birth_date).days / 365.25)
    sex = getattr(person.sex, "value", str(person.sex))
    patient = checks.Patient(
        age_years=exact_age,
        sex=sex if sex in ("male", "female") else "unknown",
        weight_kg=facts.get("weight_kg"),
        pregnant=facts.get("pregnant"),
        trimester=facts.get("trimester"),
        lactating=facts.get("lactating"),
        allergies=tuple(facts.get("allergies") or ()),
        diagnoses=tuple(diagnoses),
    )
    return patient, age, sex, person.name


# ---- signing keys --------------------------------------------------------------------------------


async def _own_doctor(session: AsyncSession, principal: Principal) -> int:
    facts = await _facts(session, principal)
    if facts.own_doctor_id is None:
        raise errors.NotTheAttendingDoctor()
    return facts.own_doctor_id


def _key_view(row: SigningKey | None) -> KeyOut:
    if row is None:
        return KeyOut(has_key=False)
    locked = row.locked_until
    return KeyOut(
        has_key=True,
        key_id=row.key_id,
        created_at=row.created_at,
        certified=row.certificate_pem is not None,
        locked_until=locked if locked and locked > utcnow() else None,
    )


def _sealed(row: SigningKey) -> signing.SealedKey:
    return signing.SealedKey(
        key_id=row.key_id,
        public_key=row.public_key,
        sealed_private_key=row.sealed_private_key,
        salt=row.salt,
        nonce=row.nonce,
        kdf=row.kdf,
    )


async def key_status(*, session: AsyncSession, principal: Principal) -> KeyOut:
    doctor_id = await _own_doctor(session, principal)
    return _key_view(await repository.active_key(session, doctor_id))


def _pepper(settings: Settings) -> bytes:
    """The server-held half of the signing key's wrapping: see signing._wrapping_key."""
    return hmac.new(
        settings.data_key.encode("utf-8"), b"regio prescription signing pepper", hashlib.sha256
    ).digest()


async def _open_with_pin(
    session: AsyncSession,
    principal: Principal,
    key: SigningKey,
    pin: str,
    document: object,
    settings: Settings,
) -> bytes:
    """Signs with the doctor's key, at most MAX_PIN_FAILURES tries per lock period.

    Each try is counted before the PIN is tested, by one conditional UPDATE, so tries sent in parallel
    cannot all slip in before the count catches up; a wrong PIN keeps its count, a right one resets it
    (in the caller's transaction).
    """
    key_pk, key_id, owner, sealed = key.id, key.key_id, f"doctor:{key.doctor_id}", _sealed(key)
    if session.in_transaction():
        await session.commit()
    now = utcnow()
    locked: datetime | None = None
    async with write_transaction(session):
        attempt = await repository.reserve_pin_attempt(session, key_pk, now=now)
        if attempt is None or attempt > policies.MAX_PIN_FAILURES:
            locked = await repository.lock_key(
                session, key_pk, until=now + timedelta(minutes=policies.PIN_LOCK_MINUTES), now=now
            )
    if attempt is None or locked is not None:
        until = locked or now
        raise errors.SigningLocked(until=until.isoformat(timespec="minutes"))
    try:
        # scrypt takes a tenth of a second on purpose: off the event loop.
        return await asyncio.to_thread(
            signing.sign, sealed, pin, owner=owner, document=document, pepper=_pepper(settings)
        )
    except signing.WrongPin:
        pass
    locked_until = (
        now + timedelta(minutes=policies.PIN_LOCK_MINUTES) if attempt >= policies.MAX_PIN_FAILURES else None
    )
    async with write_transaction(session):
        if locked_until is not None:
            await repository.lock_key(session, key_pk, until=locked_until)
        await audit.record(
            session,
            principal,
            "prescription.signing_pin_wrong",
            object_type="signing_key",
            object_id=key_id,
            details={"failures": attempt, "locked": locked_until is not None},
        )
    if locked_until is not None:
        raise errors.SigningLocked(until=locked_until.isoformat(timespec="minutes"))
    raise errors.SigningPinWrong(attempts_left=policies.MAX_PIN_FAILURES - attempt)


async def create_key(
    *, session: AsyncSession, principal: Principal, data: KeyIn, settings: Settings
) -> KeyOut:
    """Makes the doctor's signing key; replacing one needs the current PIN (the platform cannot)."""
    doctor_id = await _own_doctor(session, principal)
    try:
        signing.validate_pin(data.pin)
    except signing.PinRejected as exc:
        raise errors.SigningPinWeak(reason=exc.reason) from None
    current = await repository.active_key(session, doctor_id)
    if current is not None:
        if data.current_pin is None:
            raise errors.SigningKeyExists()
        await _open_with_pin(
            session, principal, current, data.current_pin, {"purpose": "replace-key"}, settings
        )
    sealed = await asyncio.to_thread(
        signing.new_key, data.pin, owner=f"doctor:{doctor_id}", pepper=_pepper(settings)
    )
    try:
        await _store_key(session, principal, doctor_id=doctor_id, current=current, sealed=sealed)
    except IntegrityError:
        # Two set-ups at once: the one-active-key index let the first win.
        raise errors.SigningKeyExists() from None
    return _key_view(await repository.active_key(session, doctor_id))


async def _store_key(
    session: AsyncSession,
    principal: Principal,
    *,
    doctor_id: int,
    current: SigningKey | None,
    sealed: signing.SealedKey,
) -> None:
    current_pk, current_key_id = (current.id, current.key_id) if current else (None, None)
    async with write_transaction(session):
        if current_pk is not None and not await repository.revoke_key(session, current_pk, utcnow()):
            raise errors.SigningKeyExists()
        session.add(
            SigningKey(
                doctor_id=doctor_id,
                key_id=sealed.key_id,
                public_key=sealed.public_key,
                sealed_private_key=sealed.sealed_private_key,
                salt=sealed.salt,
                nonce=sealed.nonce,
                kdf=sealed.kdf,
                failed_attempts=0,
                created_at=utcnow(),
            )
        )
        await audit.record(
            session,
            principal,
            "prescription.signing_key_created",
            object_type="signing_key",
            object_id=sealed.key_id,
            details={"doctor_id": doctor_id, "replaced": current_key_id},
        )


# ---- the signed document -------------------------------------------------------------------------


def signed_document(row: Prescription) -> dict[str, Any]:
    """Exactly what the doctor signs and every read verifies: the content, never the workflow state."""
    signed_at = row.signed_at
    return {
        "type": "regio.prescription/1",
        "id": row.id,
        "consultation_id": row.consultation_id,
        "patient_id": row.patient_id,
        "doctor_id": row.doctor_id,
        "hospital_id": row.hospital_id,
        "kind": row.kind,
        "diagnoses": list(row.diagnoses),
        "patient_facts": dict(row.patient_facts),
        "lines": [dict(line) for line in row.lines],
        "overrides": dict(row.overrides),
        "note": row.note,
        "revision": row.revision,
        "repeat_of_id": row.repeat_of_id,
        "key_id": row.key_id,
        "signed_at": signed_at.isoformat() if signed_at else None,
    }


def _signature_valid(row: Prescription, keys: Mapping[str, SigningKey]) -> bool | None:
    if row.signature is None or row.key_id is None:
        return None
    key = keys.get(row.key_id)
    if key is None or key.doctor_id != row.doctor_id:
        return False
    return signing.verify(key.public_key, signed_document(row), row.signature)


# ---- views ---------------------------------------------------------------------------------------


def _line_view(line: dict[str, Any], table: Mapping[str, catalog.Drug]) -> LineOut:
    drug = table.get(line["drug_code"])
    frequency = checks.FREQUENCIES.get(line["frequency"])
    return LineOut(
        drug_code=line["drug_code"],
        name_zh=drug.name_zh if drug else line["drug_code"],
        name_en=drug.name_en if drug else line["drug_code"],
        strength=drug.strength if drug else "",
        dosage_form=drug.dosage_form if drug else "",
        dose=line["dose"],
        dose_unit=line["dose_unit"],
        route=line["route"],
        frequency=line["frequency"],
        frequency_zh=frequency[1] if frequency else line["frequency"],
        days=line["days"],
        quantity=line.get("quantity"),
        prn_max_per_day=line.get("prn_max_per_day"),
        instructions=line.get("instructions", ""),
        cold_chain=bool(drug and drug.cold_chain),
    )


def _overdue(row: Prescription, now: datetime) -> bool:
    due = row.review_due_at
    return row.status in (Status.submitted.value, Status.in_review.value) and due is not None and due < now


def _pharmacy_view(row: Pharmacy, *, has_stock: bool) -> PharmacyOut:
    return PharmacyOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        address=row.address,
        phone=row.phone,
        delivers=row.delivers,
        cold_chain=row.cold_chain,
        hospital_id=row.hospital_id,
        has_stock=has_stock,
    )


async def _fulfilment_view(
    session: AsyncSession, fulfilment: Fulfilment, *, show_code: bool
) -> FulfilmentOut:
    pharmacy = await repository.pharmacy(session, fulfilment.pharmacy_id)
    assert pharmacy is not None
    events = (
        await repository.courier_events(session, fulfilment.tracking_id) if fulfilment.tracking_id else []
    )
    status = Delivery(fulfilment.delivery_status) if fulfilment.delivery_status else None
    return FulfilmentOut(
        method=fulfilment.method,
        pharmacy=_pharmacy_view(pharmacy, has_stock=True),
        pickup_code=fulfilment.pickup_code if show_code and fulfilment.pickup_used_at is None else None,
        pickup_used_at=fulfilment.pickup_used_at,
        recipient_name=fulfilment.recipient_name,
        recipient_phone=fulfilment.recipient_phone,
        address=fulfilment.address,
        cold_chain=fulfilment.cold_chain,
        tracking_id=fulfilment.tracking_id,
        delivery_status=status.value if status else None,
        delivery_label_zh=DELIVERY_LABELS[status][0] if status else None,
        delivery_label_en=DELIVERY_LABELS[status][1] if status else None,
        events=[
            CourierEventOut(
                status=event.status,
                label_zh=DELIVERY_LABELS[Delivery(event.status)][0],
                label_en=DELIVERY_LABELS[Delivery(event.status)][1],
                occurred_at=event.occurred_at,
                applied=event.applied,
            )
            for event in events
        ],
    )


async def _view(
    session: AsyncSession, row: Prescription, *, facts: Facts, principal: Principal
) -> PrescriptionOut:
    table = await _catalog(session)
    person = await repository.patient(session, row.patient_id)
    assert person is not None
    names = await repository.doctor_names(session, [row.doctor_id])
    hospital = await repository.hospital(session, row.hospital_id)
    keys = await repository.keys_by_id(session, [row.key_id] if row.key_id else [])
    fulfilment = await repository.fulfilment_of(session, row.id)
    dispense = await repository.dispense_of(session, row.id)
    reviewer = None
    if row.reviewer_user_id is not None:
        reviewer = await _user_name(session, row.reviewer_user_id)
    status = Status(row.status)
    valid = _signature_valid(row, keys)
    is_patient = row.patient_id in facts.actable_patient_ids
    today = records_policies.shanghai_day(utcnow())
    return PrescriptionOut(
        id=row.id,
        consultation_id=row.consultation_id,
        patient_id=row.patient_id,
        patient_name=person.name,
        patient_age=records_policies.full_years(person.birth_date, today),
        patient_sex=getattr(person.sex, "value", str(person.sex)),
        doctor_id=row.doctor_id,
        doctor_name=names.get(row.doctor_id, ""),
        hospital_id=row.hospital_id,
        hospital_name=hospital.name if hospital else "",
        kind=row.kind,
        status=status.value,
        status_zh=STATUS_LABELS[status][0],
        status_en=STATUS_LABELS[status][1],
        fhir_status=FHIR_STATUS[status],
        diagnoses=list(row.diagnoses),
        patient_facts=dict(row.patient_facts),
        lines=[_line_view(line, table) for line in row.lines],
        findings=[FindingOut(**finding) for finding in row.findings],
        overrides=dict(row.overrides),
        note=row.note,
        revision=row.revision,
        repeat_of_id=row.repeat_of_id,
        key_id=row.key_id,
        signed_at=row.signed_at,
        signature_valid=valid,
        fingerprint=signing.document_digest(signed_document(row)) if row.signature is not None else None,
        submitted_at=row.submitted_at,
        review_due_at=row.review_due_at,
        overdue=_overdue(row, utcnow()),
        reviewer_name=reviewer,
        reviewed_at=row.reviewed_at,
        review_note=row.review_note,
        created_at=row.created_at,
        fulfilment=await _fulfilment_view(
            session, fulfilment, show_code=is_patient and row.paid_at is not None
        )
        if fulfilment
        else None,
        paid_at=row.paid_at,
        dispense=DispenseOut(
            pharmacy_id=dispense.pharmacy_id,
            method=dispense.method,
            dispensed_at=dispense.dispensed_at,
            quantities=list(dispense.quantities),
        )
        if dispense
        else None,
    )


async def _user_name(session: AsyncSession, user_id: int) -> str:
    from regio.core.identity.models import User

    user = await session.get(User, user_id)
    return (user.display_name or user.username) if user else ""


# ---- drafting --------------------------------------------------------------------------------------


async def _prescribable_consultation(
    session: AsyncSession, principal: Principal, consultation_id: int
) -> Consultation:
    found = await repository.consultation(session, consultation_id)
    if found is None:
        raise errors.ConsultationNotFound(consultation_id=consultation_id)
    facts = await _facts(session, principal)
    if not policies.may(principal, Action.prescribe, _target(found), facts):
        raise errors.NotTheAttendingDoctor()
    if found.status not in PRESCRIBABLE:
        raise errors.ConsultationNotOpen(status=found.status)
    return found


async def _require_allowed(session: AsyncSession, principal: Principal, consultation_id: int) -> None:
    decision = await records_service.prescribing_allowed(
        session, consultation_id=consultation_id, principal=principal
    )
    if not decision.allowed:
        raise errors.PrescribingNotAllowed(
            reasons=" ".join(reason.en for reason in decision.reasons),
            reasons_zh="".join(reason.zh for reason in decision.reasons),
            codes=[reason.code for reason in decision.reasons],
        )


def _line_values(lines: Sequence[LineIn]) -> list[dict[str, Any]]:
    return [
        {
            "drug_code": line.drug_code,
            "dose": line.dose,
            "dose_unit": line.dose_unit,
            "route": line.route,
            "frequency": line.frequency,
            "days": line.days,
            "quantity": line.quantity,
            "prn_max_per_day": line.prn_max_per_day,
            "instructions": line.instructions,
        }
        for line in lines
    ]


async def _findings(
    session: AsyncSession,
    *,
    patient_id: int,
    patient_facts: dict[str, Any],
    diagnoses: Sequence[str],
    lines: Sequence[dict[str, Any]],
    kind: str,
) -> list[checks.Finding]:
    table = await _known_codes(session, (line["drug_code"] for line in lines))
    patient, _, _, _ = await _patient_profile(session, patient_id, patient_facts, diagnoses)
    return checks.check(
        patient, _engine_lines(lines), kind=checks.Kind(kind), catalog=table, interactions=_interactions()
    )


def _stored_findings(findings: Sequence[checks.Finding]) -> list[dict[str, Any]]:
    return [_finding_view(f).model_dump() for f in findings]


async def create(
    *,
    session: AsyncSession,
    principal: Principal,
    consultation_id: int,
    data: PrescriptionIn,
    repeat_of_id: int | None = None,
) -> PrescriptionOut:
    """A draft written by the attending doctor; its findings show at once, nothing takes effect yet."""
    _check_line_codes(data.lines)
    async with write_transaction(session):
        consultation = await _prescribable_consultation(session, principal, consultation_id)
        await _require_allowed(session, principal, consultation_id)
        diagnoses = await records_service.diagnosis_codes(session, consultation_id=consultation_id)
        facts = data.patient.model_dump()
        lines = _line_values(data.lines)
        findings = await _findings(
            session,
            patient_id=consultation.patient_id,
            patient_facts=facts,
            diagnoses=diagnoses,
            lines=lines,
            kind=data.kind,
        )
        now = utcnow()
        row = Prescription(
            consultation_id=consultation.id,
            patient_id=consultation.patient_id,
            doctor_id=consultation.doctor_id,
            hospital_id=consultation.hospital_id,
            repeat_of_id=repeat_of_id,
            kind=data.kind,
            status=Status.draft.value,
            diagnoses=diagnoses,
            patient_facts=facts,
            lines=lines,
            findings=_stored_findings(findings),
            overrides={},
            note=data.note,
            revision=1,
            created_by_user_id=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        await audit.record(
            session,
            principal,
            "prescription.drafted",
            object_type="prescription",
            object_id=row.id,
            details={
                "consultation_id": consultation_id,
                "drugs": [line["drug_code"] for line in lines],
                "repeat_of_id": repeat_of_id,
            },
        )
        view = await _view(session, row, facts=await _facts(session, principal), principal=principal)
    return view


async def update(
    *, session: AsyncSession, principal: Principal, prescription_id: int, data: PrescriptionIn
) -> PrescriptionOut:
    """Changes a draft (or one returned by the pharmacist); the revision guards against a lost edit."""
    _check_line_codes(data.lines)
    async with write_transaction(session):
        row, facts = await _readable(session, principal, prescription_id, Action.prescribe)
        if Status(row.status) not in policies.allowed_from("edit"):
            raise errors.IllegalTransition(status=STATUS_LABELS[Status(row.status)][0])
        expected = data.revision if data.revision is not None else row.revision
        await _require_allowed(session, principal, row.consultation_id)
        diagnoses = await records_service.diagnosis_codes(session, consultation_id=row.consultation_id)
        patient_facts = data.patient.model_dump()
        lines = _line_values(data.lines)
        findings = await _findings(
            session,
            patient_id=row.patient_id,
            patient_facts=patient_facts,
            diagnoses=diagnoses,
            lines=lines,
            kind=data.kind,
        )
        changed = await repository.change_status(
            session,
            row.id,
            from_statuses=[s.value for s in policies.allowed_from("edit")],
            revision=expected,
            values={
                "status": Status.draft.value,
                "kind": data.kind,
                "diagnoses": diagnoses,
                "patient_facts": patient_facts,
                "lines": lines,
                "findings": _stored_findings(findings),
                "overrides": {},
                "note": data.note,
                "revision": expected + 1,
                "updated_at": utcnow(),
            },
        )
        if not changed:
            current = await _prescription(session, row.id)
            raise errors.PrescriptionChanged(current=current.revision)
        await audit.record(
            session,
            principal,
            "prescription.changed",
            object_type="prescription",
            object_id=row.id,
            details={"revision": expected + 1, "drugs": [line["drug_code"] for line in lines]},
        )
        view = await _view(session, await _prescription(session, row.id), facts=facts, principal=principal)
    return view


async def repeat(
    *, session: AsyncSession, principal: Principal, prescription_id: int, consultation_id: int
) -> PrescriptionOut:
    """续方: a new draft in a new consultation from an earlier approved prescription for a chronic
    disease of the same patient; the doctor still checks and signs it personally."""
    consultation = await _prescribable_consultation(session, principal, consultation_id)
    earlier = await repository.get(session, prescription_id)
    # Another hospital's or another patient's prescription is not shown to exist at all.
    if (
        earlier is None
        or earlier.patient_id != consultation.patient_id
        or earlier.hospital_id != consultation.hospital_id
    ):
        raise errors.PrescriptionNotFound(prescription_id=prescription_id)
    await audit.record(
        session,
        principal,
        "prescription.read_for_repeat",
        object_type="prescription",
        object_id=earlier.id,
        details={"consultation_id": consultation_id},
    )
    if earlier.status not in (Status.approved.value, Status.dispensed.value):
        raise errors.RepeatNotAllowed(reason="not approved", reason_zh="原处方未审核通过")
    chronic = {catalog.icd10_category(code) for code in earlier.diagnoses} & catalog.CHRONIC_CATEGORIES
    if not chronic:
        raise errors.RepeatNotAllowed(reason="no chronic disease diagnosed", reason_zh="原处方无慢性病诊断")
    try:
        data = PrescriptionIn(
            kind="long_term" if earlier.kind == "long_term" else "ordinary",
            lines=[LineIn(**line) for line in earlier.lines],
            patient=PatientFactsIn(**earlier.patient_facts),
            note=earlier.note,
        )
    except ValidationError:
        # Written under older rules than today's: the doctor writes it afresh instead.
        raise errors.RepeatNotAllowed(
            reason="written under older rules", reason_zh="原处方格式已过时"
        ) from None
    if session.in_transaction():
        await session.commit()
    return await create(
        session=session,
        principal=principal,
        consultation_id=consultation_id,
        data=data,
        repeat_of_id=earlier.id,
    )


async def sign(
    *,
    session: AsyncSession,
    principal: Principal,
    prescription_id: int,
    pin: str,
    revision: int,
    overrides: Mapping[str, str],
    settings: Settings,
) -> PrescriptionOut:
    """Signs the draft with the doctor's own key and sends it to the hospital's review queue.

    Refused while any finding is contraindicated, or a major one has no reason. The checks run again
    here on today's facts: the draft's stored findings may be stale.
    """
    row, facts = await _readable(session, principal, prescription_id, Action.prescribe)
    if Status(row.status) not in policies.allowed_from("sign"):
        raise errors.IllegalTransition(status=STATUS_LABELS[Status(row.status)][0])
    if row.revision != revision:
        raise errors.PrescriptionChanged(current=row.revision)
    await _require_allowed(session, principal, row.consultation_id)
    findings = await _findings(
        session,
        patient_id=row.patient_id,
        patient_facts=dict(row.patient_facts),
        diagnoses=list(row.diagnoses),
        lines=list(row.lines),
        kind=row.kind,
    )
    blocked = checks.blocking(findings)
    if blocked:
        raise errors.PrescriptionBlocked(findings=[_finding_view(f).model_dump() for f in blocked])
    major = checks.needing_override(findings)
    missing = [f.key for f in major if not (overrides.get(f.key) or "").strip()]
    if missing:
        raise errors.OverrideReasonRequired(keys=", ".join(missing), missing=missing)
    kept = {f.key: overrides[f.key].strip() for f in major}
    key = await repository.active_key(session, row.doctor_id)
    if key is None:
        raise errors.SigningKeyMissing()
    now = utcnow().replace(microsecond=0)
    # What the UPDATE below stores, signed before it is stored: the same function rebuilds it on reads.
    document = {**signed_document(row), "overrides": kept, "key_id": key.key_id, "signed_at": now.isoformat()}
    key_pk, key_id = key.id, key.key_id  # the commit below expires the loaded row
    signature = await _open_with_pin(session, principal, key, pin, document, settings)
    if session.in_transaction():
        await session.commit()
    async with write_transaction(session):
        changed = await repository.change_status(
            session,
            prescription_id,
            from_statuses=[s.value for s in policies.allowed_from("sign")],
            revision=revision,
            values={
                "status": Status.submitted.value,
                "findings": _stored_findings(findings),
                "overrides": kept,
                "key_id": key_id,
                "signature": signature,
                "signed_at": now,
                "submitted_at": now,
                "review_due_at": now + timedelta(minutes=settings.prescription_review_sla_minutes),
                "reviewer_user_id": None,
                "claimed_at": None,
                "updated_at": now,
            },
        )
        if not changed:
            current = await _prescription(session, prescription_id)
            raise errors.PrescriptionChanged(current=current.revision)
        await repository.set_key_failures(session, key_pk, failed_attempts=0, locked_until=None)
        await audit.record(
            session,
            principal,
            "prescription.signed",
            object_type="prescription",
            object_id=prescription_id,
            details={
                "key_id": key_id,
                "digest": signing.document_digest(document),
                "overrides": sorted(kept),
            },
        )
        fresh = await _prescription(session, prescription_id)
        view = await _view(session, fresh, facts=facts, principal=principal)
    return view


async def withdraw(*, session: AsyncSession, principal: Principal, prescription_id: int) -> PrescriptionOut:
    async with write_transaction(session):
        row, facts = await _readable(session, principal, prescription_id, Action.prescribe)
        allowed = policies.allowed_from("withdraw")
        if not await repository.change_status(
            session,
            row.id,
            from_statuses=[s.value for s in allowed],
            values={"status": Status.cancelled.value, "updated_at": utcnow()},
        ):
            current = await _prescription(session, row.id)
            raise errors.IllegalTransition(status=STATUS_LABELS[Status(current.status)][0])
        await audit.record(
            session, principal, "prescription.withdrawn", object_type="prescription", object_id=row.id
        )
        view = await _view(session, await _prescription(session, row.id), facts=facts, principal=principal)
    return view


# ---- reads -----------------------------------------------------------------------------------------


async def get(*, session: AsyncSession, principal: Principal, prescription_id: int) -> PrescriptionOut:
    """One prescription, its signature verified on this read; the read is audited."""
    async with transaction(session):
        row, facts = await _readable(session, principal, prescription_id)
        view = await _view(session, row, facts=facts, principal=principal)
        await audit.record(
            session,
            principal,
            "prescription.read",
            object_type="prescription",
            object_id=row.id,
            details={"signature_valid": view.signature_valid},
        )
    return view


async def list_mine(*, session: AsyncSession, principal: Principal) -> list[PrescriptionOut]:
    """A patient's (and bound family members') signed prescriptions, or a doctor's own."""
    async with transaction(session):
        facts = await _facts(session, principal)
        rows: list[Prescription] = []
        if facts.actable_patient_ids:
            rows.extend(await repository.of_patients(session, facts.actable_patient_ids, limit=MAX_LIST))
        if facts.own_doctor_id is not None:
            seen = {row.id for row in rows}
            rows.extend(
                row
                for row in await repository.of_doctor(session, facts.own_doctor_id, limit=MAX_LIST)
                if row.id not in seen
            )
        views = [await _view(session, row, facts=facts, principal=principal) for row in rows]
        if views:
            await audit.record(
                session,
                principal,
                "prescription.listed",
                object_type="prescription",
                object_id=None,
                details={"ids": [view.id for view in views]},
            )
    return views


async def of_consultation(
    *, session: AsyncSession, principal: Principal, consultation_id: int
) -> list[PrescriptionOut]:
    async with transaction(session):
        facts = await _facts(session, principal)
        rows = await repository.of_consultation(session, consultation_id)
        views = []
        for row in rows:
            fulfilment = await repository.fulfilment_of(session, row.id)
            target = _target(row, fulfilment.pharmacy_id if fulfilment else None)
            if policies.may(principal, Action.read, target, facts):
                views.append(await _view(session, row, facts=facts, principal=principal))
        if views:
            await audit.record(
                session,
                principal,
                "prescription.listed",
                object_type="consultation",
                object_id=consultation_id,
                details={"ids": [view.id for view in views]},
            )
    return views


def fhir_bundle(view: PrescriptionOut) -> dict[str, Any]:
    """The prescription as a FHIR R4 Bundle: a MedicationRequest per line and, once handed over, a
    MedicationDispense per line (completed at pickup; in progress while a courier carries it)."""
    entries = []
    for number, line in enumerate(view.lines, start=1):
        frequency = checks.FREQUENCIES.get(line.frequency)
        timing: dict[str, Any] = {"code": {"text": line.frequency}}
        if frequency and frequency[0] is not None:
            timing["repeat"] = {"frequency": 1, "period": round(1 / frequency[0], 4), "periodUnit": "d"}
        entries.append(
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": f"{view.id}-{number}",
                    "groupIdentifier": {"system": "urn:regio:prescription", "value": str(view.id)},
                    "status": view.fhir_status,
                    "intent": "order",
                    "medicationCodeableConcept": {
                        "coding": [
                            {"system": "urn:regio:drug", "code": line.drug_code, "display": line.name_zh}
                        ],
                        "text": f"{line.name_zh} {line.strength}",
                    },
                    "subject": {"reference": f"Patient/{view.patient_id}"},
                    "encounter": {"reference": f"Encounter/{view.consultation_id}"},
                    "requester": {"reference": f"Practitioner/{view.doctor_id}"},
                    "authoredOn": view.signed_at.isoformat() if view.signed_at else None,
                    "reasonCode": [
                        {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]}
                        for code in view.diagnoses
                    ],
                    "dosageInstruction": [
                        {
                            "text": line.instructions or f"{line.dose}{line.dose_unit} {line.frequency_zh}",
                            "timing": timing,
                            "route": {"text": line.route},
                            "doseAndRate": [{"doseQuantity": {"value": line.dose, "unit": line.dose_unit}}],
                        }
                    ],
                    "dispenseRequest": {
                        "expectedSupplyDuration": {"value": line.days, "unit": "d"},
                        **({"quantity": {"value": line.quantity}} if line.quantity else {}),
                    },
                }
            }
        )
    if view.dispense is not None:
        delivering = view.fulfilment is not None and view.fulfilment.delivery_status not in (
            None,
            "delivered",
        )
        quantities = {str(item["drug_code"]): item["quantity"] for item in view.dispense.quantities}
        for number, line in enumerate(view.lines, start=1):
            dispense: dict[str, Any] = {
                "resource": {
                    "resourceType": "MedicationDispense",
                    "id": f"{view.id}-{number}-dispense",
                    "status": "in-progress" if delivering else "completed",
                    "medicationCodeableConcept": {
                        "coding": [
                            {"system": "urn:regio:drug", "code": line.drug_code, "display": line.name_zh}
                        ]
                    },
                    "subject": {"reference": f"Patient/{view.patient_id}"},
                    "authorizingPrescription": [{"reference": f"MedicationRequest/{view.id}-{number}"}],
                    "type": {"text": view.dispense.method},
                    "quantity": {"value": quantities.get(line.drug_code, line.quantity or 1)},
                    "daysSupply": {"value": line.days, "unit": "d"},
                    "whenHandedOver": view.dispense.dispensed_at.isoformat(),
                    "location": {"reference": f"Location/pharmacy-{view.dispense.pharmacy_id}"},
                }
            }
            entries.append(dispense)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


# ---- pharmacist review -----------------------------------------------------------------------------


def _pharmacist_hospitals(principal: Principal) -> list[int]:
    return sorted(
        int(grant.scope_id)
        for grant in principal.grants
        if grant.role is Role.pharmacist
        and grant.scope_kind is ScopeKind.hospital
        and grant.scope_id.isdigit()
    )


async def review_queue(*, session: AsyncSession, principal: Principal) -> list[QueueItemOut]:
    """Signed prescriptions of the pharmacist's hospitals, oldest first, overdue ones flagged."""
    hospitals = _pharmacist_hospitals(principal)
    if not principal.is_person or not hospitals:
        raise errors.NotAPharmacist()
    async with transaction(session):
        rows = await repository.review_queue(session, hospitals, limit=MAX_LIST)
        names = await repository.doctor_names(session, (row.doctor_id for row in rows))
        table = await _catalog(session)
        now = utcnow()
        today = records_policies.shanghai_day(now)
        items = []
        for row in rows:
            person = await repository.patient(session, row.patient_id)
            assert person is not None
            items.append(
                QueueItemOut(
                    id=row.id,
                    status=row.status,
                    kind=row.kind,
                    # The queue shows a surname and the rest masked; the review screen shows the person.
                    patient_name=person.name[:1] + "*" * max(1, len(person.name) - 1),
                    patient_age=records_policies.full_years(person.birth_date, today),
                    patient_sex=getattr(person.sex, "value", str(person.sex)),
                    doctor_name=names.get(row.doctor_id, ""),
                    drugs=[
                        table[line["drug_code"]].name_zh if line["drug_code"] in table else line["drug_code"]
                        for line in row.lines
                    ],
                    submitted_at=row.submitted_at,
                    review_due_at=row.review_due_at,
                    overdue=_overdue(row, now),
                    claimed_by_me=row.reviewer_user_id == principal.user_id,
                    major=sum(1 for f in row.findings if f["severity"] == "major"),
                    no_data=sum(1 for f in row.findings if f["severity"] == "no_data"),
                )
            )
        await audit.record(
            session,
            principal,
            "prescription.queue_read",
            object_type="prescription",
            object_id=None,
            details={"ids": [item.id for item in items]},
        )
    return items


def _notice(
    session: AsyncSession,
    user_ids: Iterable[int | None],
    *,
    kind: str,
    zh: str,
    en: str,
    prescription_id: int,
) -> None:
    for user_id in {u for u in user_ids if u is not None}:
        outbox.enqueue(
            session,
            TOPIC_NOTICE,
            {
                "user_id": user_id,
                "kind": kind,
                "text_zh": zh,
                "text_en": en,
                "data": {"prescription_id": prescription_id},
            },
        )


async def _parties(session: AsyncSession, row: Prescription) -> tuple[int | None, int | None]:
    """The doctor's and the patient's user accounts, to tell them the outcome."""
    from regio.care.registry.models import Doctor

    doctor = await session.get(Doctor, row.doctor_id)
    person = await repository.patient(session, row.patient_id)
    consultation = await repository.consultation(session, row.consultation_id)
    patient_user = (
        person.user_id
        if person and person.user_id
        else (consultation.requester_user_id if consultation else None)
    )
    return (doctor.user_id if doctor else None), patient_user


async def _review_step(
    *,
    session: AsyncSession,
    principal: Principal,
    prescription_id: int,
    step: str,
    to: Status,
    reason: str = "",
) -> PrescriptionOut:
    async with write_transaction(session):
        row, facts = await _readable(session, principal, prescription_id, Action.review)
        now = utcnow()
        values: dict[str, Any] = {"status": to.value, "updated_at": now}
        reviewer: int | None = principal.user_id
        if step == "claim":
            values.update(reviewer_user_id=principal.user_id, claimed_at=now)
            reviewer = None  # anyone may claim an unclaimed one; the status decides who wins
        elif step == "release":
            values.update(reviewer_user_id=None, claimed_at=None)
        else:
            values.update(reviewed_at=now, review_note=reason)
        if step == "approve":
            keys = await repository.keys_by_id(session, [row.key_id] if row.key_id else [])
            if not _signature_valid(row, keys):
                raise errors.SignatureInvalid()
        if step in ("claim", "approve", "reject", "return"):
            doctor_user, _ = await _parties(session, row)
            if doctor_user is not None and doctor_user == principal.user_id:
                raise errors.OwnPrescription()
        if not await repository.change_status(
            session,
            row.id,
            from_statuses=[s.value for s in policies.allowed_from(step)],
            values=values,
            reviewer_user_id=reviewer,
        ):
            current = await _prescription(session, row.id)
            if step == "claim" and current.status == Status.in_review.value:
                raise errors.ReviewClaimed()
            if current.status == Status.in_review.value and current.reviewer_user_id != principal.user_id:
                raise errors.NotYourReview()
            raise errors.IllegalTransition(status=STATUS_LABELS[Status(current.status)][0])
        await audit.record(
            session,
            principal,
            f"prescription.review_{step}",
            object_type="prescription",
            object_id=row.id,
            details={"reason": reason} if reason else None,
        )
        if step in ("approve", "reject", "return"):
            doctor_user, patient_user = await _parties(session, row)
            label = STATUS_LABELS[to]
            _notice(
                session,
                [doctor_user],
                kind=f"prescription_{step}",
                zh=f"处方 {row.id} 审方结果：{label[0]}" + (f"（{reason}）" if reason else ""),
                en=f"Prescription {row.id} review: {label[1]}" + (f" ({reason})" if reason else ""),
                prescription_id=row.id,
            )
            if step != "return":
                _notice(
                    session,
                    [patient_user],
                    kind=f"prescription_{step}",
                    zh=f"您的处方审方结果：{label[0]}"
                    + ("，请选择取药方式。" if step == "approve" else f"（{reason}）"),
                    en=f"Your prescription was reviewed: {label[1]}"
                    + (". Choose pickup or delivery." if step == "approve" else f" ({reason})"),
                    prescription_id=row.id,
                )
        view = await _view(session, await _prescription(session, row.id), facts=facts, principal=principal)
    return view


async def claim(*, session: AsyncSession, principal: Principal, prescription_id: int) -> PrescriptionOut:
    return await _review_step(
        session=session,
        principal=principal,
        prescription_id=prescription_id,
        step="claim",
        to=Status.in_review,
    )


async def release(*, session: AsyncSession, principal: Principal, prescription_id: int) -> PrescriptionOut:
    return await _review_step(
        session=session,
        principal=principal,
        prescription_id=prescription_id,
        step="release",
        to=Status.submitted,
    )


async def approve(*, session: AsyncSession, principal: Principal, prescription_id: int) -> PrescriptionOut:
    return await _review_step(
        session=session,
        principal=principal,
        prescription_id=prescription_id,
        step="approve",
        to=Status.approved,
    )


async def reject(
    *, session: AsyncSession, principal: Principal, prescription_id: int, reason: str
) -> PrescriptionOut:
    if not reason.strip():
        raise errors.ReasonRequired()
    return await _review_step(
        session=session,
        principal=principal,
        prescription_id=prescription_id,
        step="reject",
        to=Status.rejected,
        reason=reason.strip(),
    )


async def send_back(
    *, session: AsyncSession, principal: Principal, prescription_id: int, reason: str
) -> PrescriptionOut:
    if not reason.strip():
        raise errors.ReasonRequired()
    return await _review_step(
        session=session,
        principal=principal,
        prescription_id=prescription_id,
        step="return",
        to=Status.returned,
        reason=reason.strip(),
    )


async def flag_overdue(*, db: Database, settings: Settings) -> int:
    """The SLA timer: each review past its due time is flagged once and the hospital's pharmacists told."""
    async with db.sessionmaker() as session, write_transaction(session):
        flagged = await repository.flag_overdue(session, utcnow())
        for row in flagged:
            outbox.enqueue(
                session,
                TOPIC_OVERDUE,
                {"prescription_id": row.id, "hospital_id": row.hospital_id, "due_at": row.review_due_at},
            )
            await audit.record(
                session,
                SYSTEM,
                "prescription.review_overdue",
                object_type="prescription",
                object_id=row.id,
                details={"hospital_id": row.hospital_id},
            )
    return len(flagged)


async def flag_overdue_job(db: Database, settings: Settings) -> None:
    await flag_overdue(db=db, settings=settings)


# ---- statistics (no 统方) ---------------------------------------------------------------------------


async def statistics(
    *, session: AsyncSession, principal: Principal, hospital_id: int, from_date: date, to_date: date
) -> StatsOut:
    """Per-doctor prescribing figures, for the hospital's quality officers only; each read audited."""
    if not policies.may(principal, Action.statistics, Target(hospital_id=hospital_id)):
        raise errors.StatisticsForbidden()
    if (
        to_date < from_date
        or (to_date - from_date).days > MAX_STATISTICS_DAYS
        or not 2000 <= from_date.year <= to_date.year <= 2100
    ):
        raise errors.StatisticsRange(max_days=MAX_STATISTICS_DAYS)
    start = datetime(from_date.year, from_date.month, from_date.day, tzinfo=records_policies.SHANGHAI)
    end = datetime(to_date.year, to_date.month, to_date.day, tzinfo=records_policies.SHANGHAI) + timedelta(
        days=1
    )
    async with transaction(session):
        rows = await repository.hospital_prescriptions(session, hospital_id, start=start, end=end)
        names = await repository.doctor_names(session, {row.doctor_id for row in rows})
        table = await _catalog(session)
        per: dict[int, dict[str, Any]] = {}
        for row in rows:
            entry = per.setdefault(
                row.doctor_id, {"n": 0, "approved": 0, "rejected": 0, "returned": 0, "lines": 0, "drugs": {}}
            )
            entry["n"] += 1
            if row.status in (Status.approved.value, Status.dispensed.value):
                entry["approved"] += 1
            elif row.status == Status.rejected.value:
                entry["rejected"] += 1
            elif row.status == Status.returned.value:
                entry["returned"] += 1
            for line in row.lines:
                entry["lines"] += 1
                entry["drugs"][line["drug_code"]] = entry["drugs"].get(line["drug_code"], 0) + 1
        doctors = [
            DoctorStatsOut(
                doctor_id=doctor_id,
                doctor_name=names.get(doctor_id, ""),
                prescriptions=entry["n"],
                approved=entry["approved"],
                rejected=entry["rejected"],
                returned=entry["returned"],
                lines=entry["lines"],
                top_drugs=[
                    table[code].name_zh if code in table else code
                    for code, _ in sorted(entry["drugs"].items(), key=lambda item: (-item[1], item[0]))[:5]
                ],
            )
            for doctor_id, entry in sorted(per.items())
        ]
        await audit.record(
            session,
            principal,
            "prescription.statistics_read",
            object_type="hospital",
            object_id=hospital_id,
            details={"from": from_date.isoformat(), "to": to_date.isoformat()},
        )
    return StatsOut(
        hospital_id=hospital_id, from_date=from_date.isoformat(), to_date=to_date.isoformat(), doctors=doctors
    )


# ---- pickup and delivery ---------------------------------------------------------------------------


def _needed(row: Prescription) -> dict[str, int]:
    needed: dict[str, int] = {}
    for line in row.lines:
        needed[line["drug_code"]] = needed.get(line["drug_code"], 0) + int(line.get("quantity") or 1)
    return needed


async def pharmacies_for(
    *, session: AsyncSession, principal: Principal, prescription_id: int
) -> list[PharmacyOut]:
    """Where the patient may collect it: the hospital's pharmacy and the region's retail pharmacies,
    those holding enough of every drug first."""
    async with transaction(session):
        row, _ = await _readable(session, principal, prescription_id, Action.fulfil)
        hospital = await repository.hospital(session, row.hospital_id)
        region = hospital.region_adcode if hospital else ""
        found = await repository.pharmacies_in(session, region, row.hospital_id)
        needed = _needed(row)
        stock = await repository.stock_of(session, (p.id for p in found), needed)
        views = [
            _pharmacy_view(p, has_stock=all(stock.get((p.id, code), 0) >= n for code, n in needed.items()))
            for p in found
        ]
        await audit.record(
            session, principal, "prescription.pharmacies_read", object_type="prescription", object_id=row.id
        )
    return sorted(views, key=lambda view: (not view.has_stock, view.kind != "hospital", view.id))


async def choose_fulfilment(
    *, session: AsyncSession, principal: Principal, prescription_id: int, data: FulfilmentIn, courier: Courier
) -> PrescriptionOut:
    """The patient picks pickup (a one-time code) or delivery; the pharmacy's stock is taken now, so
    two patients cannot both be promised the last box."""
    if data.method == Method.delivery.value:
        if not (data.recipient_name and data.recipient_phone and data.address):
            raise errors.AddressRequired()
        if courier.name == "unconfigured":
            raise CourierUnavailable(reason="not_configured")
    async with write_transaction(session):
        row, facts = await _readable(session, principal, prescription_id, Action.fulfil)
        if row.status != Status.approved.value:
            raise errors.NotApproved(status=STATUS_LABELS[Status(row.status)][0])
        pharmacy = await repository.pharmacy(session, data.pharmacy_id)
        hospital = await repository.hospital(session, row.hospital_id)
        eligible = pharmacy is not None and (
            pharmacy.hospital_id == row.hospital_id
            or (
                pharmacy.kind == "retail"
                and hospital is not None
                and pharmacy.region_adcode == hospital.region_adcode
            )
        )
        if pharmacy is None or not eligible:
            raise errors.PharmacyNotFound(pharmacy_id=data.pharmacy_id)
        table = await _catalog(session)
        cold = any(table.get(line["drug_code"]) and table[line["drug_code"]].cold_chain for line in row.lines)
        if data.method == Method.delivery.value:
            if not pharmacy.delivers:
                raise errors.DeliveryUnavailable(
                    reason="the pharmacy does not deliver", reason_zh="该药房不提供配送"
                )
            if cold and not pharmacy.cold_chain:
                raise errors.DeliveryUnavailable(
                    reason="a cold-chain item needs 2–8 °C transport",
                    reason_zh="含冷链药品，需 2–8 °C 冷链配送",
                )
        short = []
        for code, quantity in sorted(_needed(row).items()):
            if not await repository.take_stock(session, pharmacy.id, code, quantity):
                short.append(table[code].name_zh if code in table else code)
        if short:
            raise errors.OutOfStock(drugs="、".join(short))
        delivery = data.method == Method.delivery.value
        values = {
            "prescription_id": row.id,
            "pharmacy_id": pharmacy.id,
            "method": data.method,
            "pickup_code": None if delivery else policies.new_pickup_code(),
            "recipient_name": data.recipient_name,
            "recipient_phone": data.recipient_phone,
            "address": data.address,
            "cold_chain": cold,
            "delivery_status": Delivery.requested.value if delivery else None,
            "created_by_user_id": principal.user_id,
            "created_at": utcnow(),
        }
        for _ in range(3):
            try:
                added = await repository.add_fulfilment(session, values)
                break
            except IntegrityError:
                values["pickup_code"] = policies.new_pickup_code()  # that code is open there already
        else:
            raise RuntimeError("no free pickup code after three tries")
        if not added:
            raise errors.FulfilmentChosen()
        if delivery and row.paid_at is not None:
            # Paid already (a first delivery failed before pick-up): book the new one straight away.
            outbox.enqueue(session, TOPIC_SHIP, {"prescription_id": row.id})
        await audit.record(
            session,
            principal,
            "prescription.fulfilment_chosen",
            object_type="prescription",
            object_id=row.id,
            details={"pharmacy_id": pharmacy.id, "method": data.method, "cold_chain": cold},
        )
        view = await _view(session, row, facts=facts, principal=principal)
    return view


@dataclass(frozen=True, slots=True)
class PayableFacts:
    """What payment needs to price a prescription: where, which drugs, how many, how delivered."""

    prescription_id: int
    patient_id: int
    hospital_id: int
    pharmacy_id: int
    method: str
    cold_chain: bool
    diagnoses: list[str]
    quantities: dict[str, int]  # drug code → units
    insurance_classes: dict[str, str | None]
    names: dict[str, str]


async def payable(session: AsyncSession, *, prescription_id: int) -> PayableFacts | None:
    """An approved prescription with its pharmacy chosen and not yet paid; None otherwise (for payment)."""
    row = await repository.get(session, prescription_id)
    if row is None or row.status != Status.approved.value or row.paid_at is not None:
        return None
    fulfilment = await repository.fulfilment_of(session, prescription_id)
    if fulfilment is None:
        return None
    table = await _catalog(session)
    quantities = _needed(row)
    return PayableFacts(
        prescription_id=row.id,
        patient_id=row.patient_id,
        hospital_id=row.hospital_id,
        pharmacy_id=fulfilment.pharmacy_id,
        method=fulfilment.method,
        cold_chain=fulfilment.cold_chain,
        diagnoses=list(row.diagnoses),
        quantities=quantities,
        insurance_classes={
            code: table[code].insurance_class if code in table else None for code in quantities
        },
        names={code: table[code].name_zh if code in table else code for code in quantities},
    )


async def mark_paid(session: AsyncSession, *, prescription_id: int, principal: Principal = SYSTEM) -> bool:
    """Payment's call, inside its own transaction: the drugs are paid for, so the pickup code shows and a
    delivery is booked. Once only; False when it was paid already or is no longer approved."""
    now = utcnow()
    row = await _prescription(session, prescription_id)
    if not await repository.set_paid(session, prescription_id, at=now):
        return False
    fulfilment = await repository.fulfilment_of(session, prescription_id)
    if fulfilment is not None and fulfilment.method == Method.delivery.value:
        outbox.enqueue(session, TOPIC_SHIP, {"prescription_id": prescription_id})
    await audit.record(session, principal, "prescription.paid", object_type="prescription", object_id=row.id)
    return True


async def book_shipment(*, db: Database, prescription_id: int, courier: Courier) -> str | None:
    """The outbox's work after a delivery was chosen: book the courier (retried until it answers)."""
    async with db.sessionmaker() as session:
        fulfilment = await repository.fulfilment_of(session, prescription_id)
        if fulfilment is None or fulfilment.tracking_id is not None:
            return fulfilment.tracking_id if fulfilment else None
        if (await _prescription(session, prescription_id)).paid_at is None:
            raise errors.PaymentRequired()  # never shipped unpaid, even if a message says so
        pharmacy = await repository.pharmacy(session, fulfilment.pharmacy_id)
        assert pharmacy is not None
        row = await _prescription(session, prescription_id)
        request = ShipmentRequest(
            reference=f"rx-{prescription_id}",
            pickup_name=pharmacy.name,
            pickup_address=pharmacy.address,
            pickup_phone=pharmacy.phone,
            recipient_name=fulfilment.recipient_name,
            recipient_phone=fulfilment.recipient_phone,
            address=fulfilment.address,
            cold_chain=fulfilment.cold_chain,
            items=sum(_needed(row).values()),
        )
        await session.commit()
        tracking = await courier.create_shipment(request)
        async with write_transaction(session):
            if not await repository.set_tracking(
                session, fulfilment.id, courier=courier.name, tracking_id=tracking
            ):
                # Another worker stored its booking first; the courier's idempotency key made it the same parcel.
                return (await repository.fulfilment_of(session, prescription_id) or fulfilment).tracking_id
            await audit.record(
                session,
                SYSTEM,
                "prescription.shipment_booked",
                object_type="prescription",
                object_id=prescription_id,
                details={"courier": courier.name, "tracking_id": tracking},
            )
    return tracking


async def _dispense(
    session: AsyncSession, principal: Principal, row: Prescription, fulfilment: Fulfilment
) -> bool:
    """Records the hand-over once (FHIR MedicationDispense) and marks the prescription dispensed."""
    if not await repository.add_dispense(
        session,
        {
            "prescription_id": row.id,
            "pharmacy_id": fulfilment.pharmacy_id,
            "method": fulfilment.method,
            "dispensed_by_user_id": principal.user_id,
            "quantities": [{"drug_code": code, "quantity": n} for code, n in sorted(_needed(row).items())],
            "dispensed_at": utcnow(),
        },
    ):
        return False
    await repository.change_status(
        session,
        row.id,
        from_statuses=[s.value for s in policies.allowed_from("dispense")],
        values={"status": Status.dispensed.value, "updated_at": utcnow()},
    )
    await audit.record(
        session,
        principal,
        "prescription.dispensed",
        object_type="prescription",
        object_id=row.id,
        details={"pharmacy_id": fulfilment.pharmacy_id, "method": fulfilment.method},
    )
    return True


async def pickup(
    *, session: AsyncSession, principal: Principal, pharmacy_id: int, code: str
) -> PrescriptionOut:
    """The pharmacist enters (or scans) the patient's one-time code; it works once, at that pharmacy."""
    pharmacy = await repository.pharmacy(session, pharmacy_id)
    if pharmacy is None:
        raise errors.PharmacyNotFound(pharmacy_id=pharmacy_id)
    if not policies.pharmacy_staff(principal, pharmacy_id=pharmacy.id, hospital_id=pharmacy.hospital_id):
        raise errors.NotThisPharmacy()
    async with write_transaction(session):
        fulfilment = await repository.fulfilment_by_code(session, pharmacy.id, code.strip())
        if fulfilment is None:
            raise errors.PickupCodeInvalid()
        row = await _prescription(session, fulfilment.prescription_id)
        if row.status != Status.approved.value:
            raise errors.NotApproved(status=STATUS_LABELS[Status(row.status)][0])
        if row.paid_at is None:
            raise errors.PaymentRequired()
        keys = await repository.keys_by_id(session, [row.key_id] if row.key_id else [])
        if not _signature_valid(row, keys):
            raise errors.SignatureInvalid()
        if not await repository.use_pickup_code(session, fulfilment.id, utcnow()):
            raise errors.PickupCodeInvalid()
        await _dispense(session, principal, row, fulfilment)
        _, patient_user = await _parties(session, row)
        _notice(
            session,
            [patient_user],
            kind="prescription_dispensed",
            zh=f"处方 {row.id} 的药品已在{pharmacy.name}取走。",
            en=f"The drugs of prescription {row.id} were collected at {pharmacy.name}.",
            prescription_id=row.id,
        )
        facts = await _facts(session, principal)
        view = await _view(session, await _prescription(session, row.id), facts=facts, principal=principal)
    return view


def _parse_event(body: bytes) -> tuple[str, str, Delivery, datetime]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise errors.BadCourierEvent(problem="not JSON") from None
    if not isinstance(document, dict):
        raise errors.BadCourierEvent(problem="not a JSON object")
    event_id, tracking, status, occurred = (
        document.get("event_id"),
        document.get("tracking_id"),
        document.get("status"),
        document.get("occurred_at"),
    )
    for name, value in (("event_id", event_id), ("tracking_id", tracking)):
        if not isinstance(value, str) or not 1 <= len(value) <= 64:
            raise errors.BadCourierEvent(problem=f"{name} must be a string of 1 to 64 characters")
    if status not in {d.value for d in Delivery} or status == Delivery.requested.value:
        raise errors.BadCourierEvent(
            problem="status must be accepted, picked_up, in_transit, delivered or failed"
        )
    try:
        moment = datetime.fromisoformat(str(occurred))
    except ValueError:
        raise errors.BadCourierEvent(problem="occurred_at must be an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise errors.BadCourierEvent(problem="occurred_at needs a time zone")
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise errors.BadCourierEvent(problem="occurred_at is out of range") from None
    now = utcnow()
    if not now - COURIER_EVENT_MAX_AGE <= moment <= now + COURIER_CLOCK_SKEW:
        raise errors.BadCourierEvent(
            problem="occurred_at must be within the last 30 days and not in the future"
        )
    return str(event_id), str(tracking), Delivery(str(status)), moment


async def courier_event(
    *, session: AsyncSession, settings: Settings, courier_name: str, body: bytes, signature: str | None
) -> dict[str, Any]:
    """A courier's signed status report. A repeated event, or one older than what was applied, is kept
    for the record and changes nothing; a bad signature is refused and logged."""
    async with write_transaction(session):
        await webhooks.verify(
            session=session,
            settings=settings,
            body=body,
            header=signature,
            secret=courier_secret(settings),
            sender=f"courier {courier_name}",
        )
        event_id, tracking, status, occurred = _parse_event(body)
        fulfilment = await repository.fulfilment_by_tracking(session, tracking)
        # A courier reports only on its own shipments: the name in the address must be the booking's.
        if fulfilment is None or fulfilment.courier != courier_name:
            raise errors.UnknownShipment(tracking_id=tracking)
        fresh = await repository.add_courier_event(
            session,
            {
                "courier": courier_name,
                "event_id": event_id,
                "tracking_id": tracking,
                "status": status.value,
                "occurred_at": occurred,
                "applied": False,
                "received_at": utcnow(),
            },
        )
        if not fresh:
            return {"applied": False, "reason": "repeated"}
        earlier = [
            d.value
            for d in Delivery
            if DELIVERY_ORDER[d] < DELIVERY_ORDER[status] and d not in DELIVERY_FINAL
        ]
        applied = await repository.advance_delivery(
            session, fulfilment.id, status=status.value, occurred_at=occurred, later_than=earlier
        )
        if not applied:
            return {"applied": False, "reason": "stale"}
        await repository.mark_event_applied(session, courier_name, event_id)
        row = await _prescription(session, fulfilment.prescription_id)
        if status is Delivery.failed and await repository.dispense_of(session, row.id) is None:
            # The parcel never left the pharmacy: its units go back on the shelf, and the patient may
            # choose again (the paid order stands).
            for code, quantity in _needed(row).items():
                await repository.return_stock(session, fulfilment.pharmacy_id, code, quantity)
            await repository.end_fulfilment(session, fulfilment.id, at=utcnow())
        if DELIVERY_ORDER[status] >= DELIVERY_ORDER[Delivery.picked_up] and status is not Delivery.failed:
            await _dispense(session, SYSTEM, row, fulfilment)
        await audit.record(
            session,
            SYSTEM,
            "prescription.delivery_status",
            object_type="prescription",
            object_id=row.id,
            details={"status": status.value, "tracking_id": tracking, "event_id": event_id},
        )
        _, patient_user = await _parties(session, row)
        label = DELIVERY_LABELS[status]
        _notice(
            session,
            [patient_user],
            kind="prescription_delivery",
            zh=f"处方 {row.id} 配送状态：{label[0]}",
            en=f"Prescription {row.id} delivery: {label[1]}",
            prescription_id=row.id,
        )
    return {"applied": True, "status": status.value}


async def set_stock(
    *, session: AsyncSession, principal: Principal, pharmacy_id: int, drug_code: str, quantity: int
) -> None:
    """A pharmacy's staff set what is on the shelf (their stock system would push this)."""
    pharmacy = await repository.pharmacy(session, pharmacy_id)
    if pharmacy is None:
        raise errors.PharmacyNotFound(pharmacy_id=pharmacy_id)
    if not policies.pharmacy_staff(principal, pharmacy_id=pharmacy.id, hospital_id=pharmacy.hospital_id):
        raise errors.NotThisPharmacy()
    async with write_transaction(session):
        await _known_codes(session, [drug_code])
        await repository.set_stock(session, pharmacy_id, drug_code, quantity)
        await audit.record(
            session,
            principal,
            "prescription.stock_set",
            object_type="pharmacy",
            object_id=pharmacy_id,
            details={"drug_code": drug_code, "quantity": quantity},
        )
