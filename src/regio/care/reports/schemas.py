"""Response models of reports and statistics; pushes are raw FHIR JSON read by reports.fhir, not Pydantic."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from regio.care.reports.enums import Flag, ReportKind, ReportStatus


class ObservationOut(BaseModel):
    position: int
    code_system: str
    code: str
    code_text: str
    value: float | None
    value_text: str | None
    value_display: str  # the number as written (5.1, not 5.1000000000000005), or the text result
    unit: str
    ucum_code: str
    low: float | None
    high: float | None
    range_display: str  # "4–10", "≥ 3.5", "≤ 5.2", or the range's text
    range_text: str
    flag: Flag
    interpretation: str  # the hospital's own code, if it sent one


class VersionSummaryOut(BaseModel):
    version: int
    status: ReportStatus
    issued_at: datetime
    received_at: datetime


class ReportOut(BaseModel):
    id: int
    hospital_id: int
    hospital_name: str
    identifier: str
    patient_id: int
    patient_name: str
    kind: ReportKind
    version: int  # the version shown
    latest_version: int
    status: ReportStatus
    code_system: str
    code: str
    code_text: str
    effective_at: datetime
    issued_at: datetime
    received_at: datetime
    conclusion: str
    observations: list[ObservationOut]
    out_of_range: int  # observations flagged H or L
    versions: list[VersionSummaryOut]  # newest first


class ReportSummaryOut(BaseModel):
    id: int
    patient_id: int
    patient_name: str
    hospital_id: int
    hospital_name: str
    kind: ReportKind
    title: str
    status: ReportStatus
    issued_at: datetime
    latest_version: int
    out_of_range: int


class PushOut(BaseModel):
    created: bool  # False: the same content was pushed before; nothing changed
    report: ReportOut


# ---- regional statistics ---------------------------------------------------------------------------


class DayOut(BaseModel):
    date: date
    services: int
    equivalent_hospitals: Decimal
    average_wait_minutes: float | None
    peak_hour: int | None
    prescriptions_approved: int


class RowOut(BaseModel):
    """One hospital's department on one day."""

    date: date
    hospital_id: int
    hospital_name: str
    department_code: str
    department_name: str
    services: int
    average_wait_minutes: float | None
    peak_hour: int | None


class GroupOut(BaseModel):
    """One hospital's department over the whole range."""

    hospital_id: int
    hospital_name: str
    department_code: str
    department_name: str
    services: int
    average_wait_minutes: float | None
    peak_hour: int | None


class StatisticsOut(BaseModel):
    from_date: date
    to_date: date
    region: str | None
    hospital_id: int | None
    services: int
    average_equivalent_hospitals: Decimal
    peak_equivalent_hospitals: Decimal
    average_wait_minutes: float | None
    peak_hour: int | None
    prescriptions_approved: int
    days: list[DayOut]
    rows: list[RowOut]
    groups: list[GroupOut]
