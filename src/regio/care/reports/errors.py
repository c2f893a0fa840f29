"""Refusals of reports, each with a stable code and a message in Chinese and English."""

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
