"""Refusals of reports and statistics, each with a stable code and a message in Chinese and English."""

from __future__ import annotations

from regio.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class ReportInvalid(InvalidInput):
    # details: {"problems": [{"path", "code", "message_zh", "message_en"}]}: every problem, not the first.
    code = "report_invalid"
    message_en = "The report was not stored: {count} problem(s) found; see details.problems."
    message_zh = "报告未保存：发现 {count} 处问题，详见 details.problems。"


class ReportNotFound(NotFound):
    code = "report_not_found"
    message_en = "There is no report {report_id} that you may see."
    message_zh = "未找到您可查看的报告 {report_id}。"


class NotTheHospital(Forbidden):
    code = "not_reporting_hospital"
    message_en = "Only the hospital's own system or administrator may push its reports."
    message_zh = "只有本院系统或医院管理员可以推送本院报告。"


class ReportsOfPatientsOnly(Forbidden):
    code = "reports_for_patients"
    message_en = "The report list is for patients and the family members bound to them."
    message_zh = "报告列表仅供患者本人及绑定家人查看。"


class IdentifierTakenByOtherReport(Conflict):
    code = "report_identifier_mismatch"
    message_en = (
        "Report number {identifier} already belongs to a report of another {what}; "
        "a new version must keep the patient and the kind of report."
    )
    message_zh = "报告编号 {identifier} 已用于另一{what_zh}的报告；新版本须保持患者和报告类别不变。"


class ReportChanged(Conflict):
    code = "report_changed"
    message_en = "Another version of this report was stored at the same moment; push again."
    message_zh = "该报告的另一版本刚被保存，请重新推送。"


# ---- regional statistics ---------------------------------------------------------------------------


class StatisticsForbidden(Forbidden):
    code = "statistics_forbidden"
    message_en = (
        "Service statistics are shown to the region's health commission, regulators, platform admins, "
        "and to a hospital's admin for that hospital only."
    )
    message_zh = "服务统计仅向本区域卫生健康委、监管人员、平台管理员开放；医院管理员仅可查看本院。"


class StatisticsRangeReversed(InvalidInput):
    code = "statistics_range_reversed"
    message_en = "The end date is before the start date."
    message_zh = "结束日期早于开始日期。"


class StatisticsRangeTooLong(InvalidInput):
    code = "statistics_range_too_long"
    message_en = "A range covers at most {max_days} days."
    message_zh = "统计区间最长 {max_days} 天。"


class StatisticsDateOutOfRange(InvalidInput):
    code = "statistics_date_out_of_range"
    message_en = "Choose dates between 2000 and 2100."
    message_zh = "请选择 2000 年至 2100 年之间的日期。"


class StatisticsHospitalNotFound(NotFound):
    code = "statistics_hospital_not_found"
    message_en = "No hospital has this id."
    message_zh = "未找到该医院。"
