"""Refusals of triage, each with a stable code and a message in Chinese and English."""

from __future__ import annotations

from regio.core.errors import Conflict, InvalidInput, NotFound


class UnknownCodes(InvalidInput):
    code = "triage_unknown_codes"
    message_en = "Unknown codes: {unknown}. GET /api/care/triage/codes lists the valid ones."
    message_zh = "未知代码：{unknown}。有效代码见 GET /api/care/triage/codes。"


class ValueOutOfRange(InvalidInput):
    code = "triage_value_out_of_range"
    message_en = "{field} = {value} is outside the possible range {minimum}–{maximum}."
    message_zh = "{field} = {value} 超出可能范围 {minimum}–{maximum}。"


class AgeRequired(InvalidInput):
    code = "triage_age_required"
    message_en = "Give the age: age_years, or age_months for a child under 3 (not both)."
    message_zh = "请填写年龄：age_years（岁），3 岁以下可用 age_months（月龄），二者只填其一。"


class ContradictoryAnswers(InvalidInput):
    code = "triage_contradictory"
    message_en = "The answers contradict each other: {problem}."
    message_zh = "填写内容相互矛盾：{problem}。"


class AssessmentNotFound(NotFound):
    code = "triage_assessment_not_found"
    message_en = "No such triage assessment for you."
    message_zh = "未找到您的这次分诊评估。"


class GoOffline(Conflict):
    code = "triage_go_offline"
    message_en = (
        "The triage found danger signs: go to an emergency department now. "
        "Online booking and quick questions are not offered for this complaint."
    )
    message_zh = "分诊发现危险征象：请立即前往急诊。此情况不提供线上预约或极速提问。"


class NoRulesInForce(Conflict):
    code = "triage_no_rules_in_force"
    message_en = "No triage rule set is valid today; please call 120 for an emergency."
    message_zh = "今日无有效的分诊规则；如有急症请拨打 120。"
