"""Kinds, FHIR statuses and reference-range flags of reports, stored as strings and guarded by check constraints."""

from __future__ import annotations

from enum import StrEnum


class ReportKind(StrEnum):
    lab = "lab"  # 检验报告: a DiagnosticReport with Observations
    imaging = "imaging"  # 检查报告 (影像): a DiagnosticReport with a conclusion


KIND_LABELS = {
    ReportKind.lab: ("检验报告", "Lab report"),
    ReportKind.imaging: ("影像检查报告", "Imaging report"),
}


class ReportStatus(StrEnum):
    """FHIR R4 DiagnosticReport.status (value set diagnostic-report-status, minus entered-in-error)."""

    registered = "registered"
    partial = "partial"
    preliminary = "preliminary"
    final = "final"
    amended = "amended"
    corrected = "corrected"
    cancelled = "cancelled"

    @property
    def settled(self) -> bool:
        """A released result: changing it later is an amendment, which must say so."""
        return self in (ReportStatus.final, ReportStatus.amended, ReportStatus.corrected)


STATUS_LABELS = {
    ReportStatus.registered: ("已登记", "Registered"),
    ReportStatus.partial: ("部分结果", "Partial"),
    ReportStatus.preliminary: ("初步报告", "Preliminary"),
    ReportStatus.final: ("已出报告", "Final"),
    ReportStatus.amended: ("已修订", "Amended"),
    ReportStatus.corrected: ("已更正", "Corrected"),
    ReportStatus.cancelled: ("已取消", "Cancelled"),
}


class Flag(StrEnum):
    """Where a value stands against its reference range; "no_range" is never shown as normal."""

    high = "H"
    low = "L"
    normal = "N"
    no_range = "no_range"


FLAG_LABELS = {
    Flag.high: ("偏高", "High"),
    Flag.low: ("偏低", "Low"),
    Flag.normal: ("正常", "Normal"),
    Flag.no_range: ("无参考范围", "No reference range"),
}
