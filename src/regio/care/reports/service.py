"""Reports' only writer: hospitals' pushes of lab and imaging reports (checked whole, stored in one
transaction, versioned), and the reads, each audited.

A push is read completely before anything is written, so a malformed one stores nothing and answers
with every problem. The same content pushed again is recognised by its hash and changes nothing; new
content is a new version, decided by the database (unique version number and content hash per report).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.patients import service as patients_service
from regio.care.registry import service as registry_service
from regio.care.reports import errors, fhir, policies, repository
from regio.care.reports.enums import Flag, ReportKind, ReportStatus
from regio.care.reports.fhir import Problem, ReportFacts, show_number
from regio.care.reports.models import Observation, Report, ReportVersion
from regio.care.reports.policies import Action, Facts, Target
from regio.care.reports.schemas import (
    ObservationOut,
    PushOut,
    ReportOut,
    ReportSummaryOut,
    VersionSummaryOut,
)
from regio.core import audit
from regio.core.access import SYSTEM, Principal, Role
from regio.core.db import transaction, utcnow, write_transaction

__all__ = ["SYSTEM", "fhir_report", "get_report", "my_reports", "push"]

OBJECT_TYPE = "report"
_VERSION_RETRIES = 3


def _invalid(problems: list[Problem]) -> errors.ReportInvalid:
    return errors.ReportInvalid(
        count=len(problems),
        problems=[
            {"path": p.path, "code": p.code, "message_zh": p.message_zh, "message_en": p.message_en}
            for p in problems
        ],
    )


# ---- views -------------------------------------------------------------------------------------------


def range_display(low: float | None, high: float | None, text: str) -> str:
    if low is not None and high is not None:
        return f"{show_number(low)}–{show_number(high)}"
    if low is not None:
        return f"≥ {show_number(low)}"
    if high is not None:
        return f"≤ {show_number(high)}"
    return text


def _observation_view(row: Observation) -> ObservationOut:
    return ObservationOut(
        position=row.position,
        code_system=row.code_system,
        code=row.code,
        code_text=row.code_text,
        value=row.value,
        value_text=row.value_text,
        value_display=show_number(row.value) if row.value is not None else (row.value_text or ""),
        unit=row.unit,
        ucum_code=row.ucum_code,
        low=row.low,
        high=row.high,
        range_display=range_display(row.low, row.high, row.range_text),
        range_text=row.range_text,
        flag=Flag(row.flag),
        interpretation=row.interpretation,
    )


async def _view(session: AsyncSession, report: Report, shown: ReportVersion) -> ReportOut:
    rows = await repository.observations(session, shown.id)
    history = await repository.versions(session, report.id)
    hospitals = await repository.hospital_names(session, {report.hospital_id})
    patients = await repository.patient_names(session, {report.patient_id})
    observations = [_observation_view(row) for row in rows]
    return ReportOut(
        id=report.id,
        hospital_id=report.hospital_id,
        hospital_name=hospitals.get(report.hospital_id, ""),
        identifier=report.identifier,
        patient_id=report.patient_id,
        patient_name=patients.get(report.patient_id, ""),
        kind=ReportKind(report.kind),
        version=shown.version,
        latest_version=report.latest_version,
        status=ReportStatus(shown.status),
        code_system=shown.code_system,
        code=shown.code,
        code_text=shown.code_text,
        effective_at=shown.effective_at,
        issued_at=shown.issued_at,
        received_at=shown.received_at,
        conclusion=shown.conclusion,
        observations=observations,
        out_of_range=policies.out_of_range([item.flag for item in observations]),
        versions=[
            VersionSummaryOut(
                version=row.version,
                status=ReportStatus(row.status),
                issued_at=row.issued_at,
                received_at=row.received_at,
            )
            for row in history
        ],
    )


# ---- pushing -----------------------------------------------------------------------------------------


def _hospital_of(principal: Principal, facts: ReportFacts) -> int:
    """The hospital a push belongs to: the one named in performer, else the pusher's only hospital."""
    if facts.hospital_id is not None:
        return facts.hospital_id
    hospitals = policies.pushing_hospitals(principal)
    if len(hospitals) == 1:
        return next(iter(hospitals))
    raise _invalid([fhir.problem("/performer", "hospital_ambiguous")])


def _observation_rows(version_id: int, facts: ReportFacts) -> list[dict[str, Any]]:
    return [
        {
            "version_id": version_id,
            "position": position,
            "code_system": item.code_system,
            "code": item.code,
            "code_text": item.code_text,
            "value": item.value,
            "value_text": item.value_text,
            "unit": item.unit,
            "ucum_code": item.ucum_code,
            "low": item.low,
            "high": item.high,
            "range_text": item.range_text,
            "flag": policies.flag(item.value, item.low, item.high).value,
            "interpretation": item.interpretation,
        }
        for position, item in enumerate(facts.observations, start=1)
    ]


async def push(*, session: AsyncSession, principal: Principal, kind: ReportKind, raw: bytes) -> PushOut:
    """Stores a hospital's pushed DiagnosticReport as a new report or a new version of one; the same
    content again changes nothing (created False). Refused whole (422, every problem listed) if any
    part is malformed, or if the patient has never been cared for at the hospital."""
    if not principal.system and not policies.pushing_hospitals(principal):
        raise errors.NotTheHospital()
    now = utcnow()
    facts, problems = fhir.read_report(raw, kind=kind, now=now)
    if facts is None:
        raise _invalid(problems)
    hospital_id = _hospital_of(principal, facts)
    if not policies.may(principal, Action.push, Target(hospital_id=hospital_id)):
        raise errors.NotTheHospital(hospital_id=hospital_id)
    content_hash = facts.content_hash()
    rows_template = _observation_rows(0, facts)
    out_of_range = policies.out_of_range([Flag(row["flag"]) for row in rows_template])
    async with write_transaction(session):
        if not await repository.hospital_names(session, {hospital_id}):
            raise _invalid([fhir.problem("/performer", "unknown_hospital")])
        # The platform itself (demo, imports) needs only an existing patient; a hospital needs one it
        # has cared for. Unknown and not-cared-for read alike, so a hospital cannot probe for patients.
        known = (
            await repository.patient_exists(session, facts.patient_id)
            if principal.system
            else await repository.cared_for_at(session, facts.patient_id, hospital_id)
        )
        if not known:
            raise _invalid([fhir.problem("/subject", "unknown_patient")])
        report = await repository.report_by_identifier(session, hospital_id, facts.identifier)
        if report is None:
            report = await repository.open_report(
                session,
                {
                    "hospital_id": hospital_id,
                    "identifier": facts.identifier,
                    "patient_id": facts.patient_id,
                    "kind": kind.value,
                    "latest_version": 0,
                    "status": facts.status.value,
                    "title": facts.code_text,
                    "issued_at": facts.issued_at,
                    "out_of_range": out_of_range,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        if report.patient_id != facts.patient_id:
            raise errors.IdentifierTakenByOtherReport(
                identifier=facts.identifier, what="patient", what_zh="患者"
            )
        if report.kind != kind.value:
            raise errors.IdentifierTakenByOtherReport(
                identifier=facts.identifier, what="kind", what_zh="类别"
            )
        for _ in range(_VERSION_RETRIES):
            same = await repository.version_with_hash(session, report.id, content_hash)
            if same is not None:
                await audit.record(
                    session,
                    principal,
                    "report.push_repeated",
                    object_type=OBJECT_TYPE,
                    object_id=report.id,
                    details={"version": same.version, "identifier": report.identifier},
                )
                return PushOut(created=False, report=await _view(session, report, same))
            latest = report.latest_version
            previous = await repository.version(session, report.id, latest) if latest else None
            previous_status = ReportStatus(previous.status) if previous else None
            if not policies.may_follow(previous_status, facts.status):
                raise _invalid(
                    [fhir.problem("/status", "amendment_status_required", previous=previous_status)]
                )
            version_id = await repository.insert_version(
                session,
                {
                    "report_id": report.id,
                    "version": latest + 1,
                    "status": facts.status.value,
                    "code_system": facts.code_system,
                    "code": facts.code,
                    "code_text": facts.code_text,
                    "effective_at": facts.effective_at,
                    "issued_at": facts.issued_at,
                    "conclusion": facts.conclusion,
                    "content_hash": content_hash,
                    "pushed_by_user_id": principal.user_id,
                    "pushed_by_client_id": principal.client_id,
                    "received_at": now,
                },
            )
            if version_id is None:
                fresh = await repository.report_by_id(session, report.id)
                assert fresh is not None
                report = fresh
                continue
            advanced = await repository.advance(
                session,
                report.id,
                after=latest,
                values={
                    "status": facts.status.value,
                    "title": facts.code_text,
                    "issued_at": facts.issued_at,
                    "out_of_range": out_of_range,
                    "updated_at": now,
                },
            )
            if not advanced:
                raise errors.ReportChanged()
            await repository.add_observations(session, _observation_rows(version_id, facts))
            await audit.record(
                session,
                principal,
                "report.pushed" if latest == 0 else "report.new_version",
                object_type=OBJECT_TYPE,
                object_id=report.id,
                details={
                    "version": latest + 1,
                    "status": facts.status.value,
                    "identifier": report.identifier,
                    "hospital_id": hospital_id,
                    "patient_id": facts.patient_id,
                    "out_of_range": out_of_range,
                },
            )
            fresh = await repository.report_by_id(session, report.id)
            shown = await repository.version(session, report.id, latest + 1)
            assert fresh is not None and shown is not None
            return PushOut(created=True, report=await _view(session, fresh, shown))
        raise errors.ReportChanged()


# ---- reading -----------------------------------------------------------------------------------------


async def _facts(session: AsyncSession, principal: Principal, report: Report | None) -> Facts:
    own_doctor_id = None
    treating: frozenset[int] = frozenset()
    if principal.is_person and principal.user_id is not None and principal.has_role(Role.doctor):
        doctor = await registry_service.doctor_for_user(session=session, user_id=principal.user_id)
        own_doctor_id = doctor.id if doctor else None
        if own_doctor_id is not None and report is not None:
            treating = await repository.treating_doctor_ids(session, report.patient_id, report.hospital_id)
    actable: frozenset[int] = frozenset()
    if principal.has_role(Role.patient):
        actable = await patients_service.actable_patient_ids(session=session, principal=principal)
    return Facts(own_doctor_id=own_doctor_id, actable_patient_ids=actable, treating_doctor_ids=treating)


async def _readable(
    session: AsyncSession, principal: Principal, report_id: int, version: int | None
) -> tuple[Report, ReportVersion]:
    report = await repository.report_by_id(session, report_id)
    if report is None or report.latest_version < 1:
        raise errors.ReportNotFound(report_id=report_id)
    facts = await _facts(session, principal, report)
    target = Target(hospital_id=report.hospital_id, patient_id=report.patient_id)
    if not policies.may(principal, Action.read, target, facts):
        raise errors.ReportNotFound(report_id=report_id)
    shown = await repository.version(session, report.id, version or report.latest_version)
    if shown is None:
        raise errors.ReportNotFound(report_id=report_id)
    return report, shown


async def get_report(
    *, session: AsyncSession, principal: Principal, report_id: int, version: int | None = None
) -> ReportOut:
    """One report (its newest version unless another is asked for), for those who may read it; audited."""
    async with transaction(session):
        report, shown = await _readable(session, principal, report_id, version)
        view = await _view(session, report, shown)
        await audit.record(
            session,
            principal,
            "report.read",
            object_type=OBJECT_TYPE,
            object_id=report.id,
            details={"version": shown.version},
        )
    return view


async def fhir_report(
    *, session: AsyncSession, principal: Principal, report_id: int, version: int | None = None
) -> dict[str, Any]:
    """The report as a FHIR R4 DiagnosticReport with its Observations contained; audited."""
    async with transaction(session):
        report, shown = await _readable(session, principal, report_id, version)
        view = await _view(session, report, shown)
        await audit.record(
            session,
            principal,
            "report.read_fhir",
            object_type=OBJECT_TYPE,
            object_id=report.id,
            details={"version": shown.version},
        )
    return fhir.diagnostic_report(view)


async def my_reports(*, session: AsyncSession, principal: Principal) -> list[ReportSummaryOut]:
    """The reports of every patient the principal may act for, newest first; audited."""
    if not policies.may(principal, Action.list_own, Target()):
        raise errors.ReportsOfPatientsOnly()
    async with transaction(session):
        facts = await _facts(session, principal, None)
        rows = await repository.reports_of_patients(session, facts.actable_patient_ids)
        hospitals = await repository.hospital_names(session, {row.hospital_id for row in rows})
        patients = await repository.patient_names(session, {row.patient_id for row in rows})
        items = [
            ReportSummaryOut(
                id=row.id,
                patient_id=row.patient_id,
                patient_name=patients.get(row.patient_id, ""),
                hospital_id=row.hospital_id,
                hospital_name=hospitals.get(row.hospital_id, ""),
                kind=ReportKind(row.kind),
                title=row.title,
                status=ReportStatus(row.status),
                issued_at=row.issued_at,
                latest_version=row.latest_version,
                out_of_range=row.out_of_range,
            )
            for row in rows
        ]
        if items:
            await audit.record(
                session,
                principal,
                "report.list",
                object_type=OBJECT_TYPE,
                object_id=None,
                details={"report_ids": [item.id for item in items]},
            )
    return items
