"""Refusals of clinical records, each with a stable code and a message in Chinese and English."""

from __future__ import annotations

from regio.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class RecordNotFound(NotFound):
    code = "record_not_found"
    message_en = "There is no clinical record for this consultation that you may see."
    message_zh = "未找到您可查看的该问诊病历。"


class ConsultationNotFound(NotFound):
    code = "consultation_not_found"
    message_en = "Consultation {consultation_id} was not found."
    message_zh = "未找到问诊 {consultation_id}。"


class NotTheAttendingDoctor(Forbidden):
    code = "not_attending_doctor"
    message_en = "Only the doctor of this consultation may write its record."
    message_zh = "只有本次问诊的接诊医生可以书写病历。"


class ConsultationNotOpenForRecord(Conflict):
    code = "consultation_not_open"
    message_en = "The record can be written only once the consultation has started (status now: {status})."
    message_zh = "问诊开始后才能书写病历（当前状态：{status}）。"


class UnknownIcd10(InvalidInput):
    code = "unknown_icd10"
    message_en = (
        "{value} is not an ICD-10 code on the platform's list; search for the diagnosis and pick one."
    )
    message_zh = "“{value}”不在平台的 ICD-10 编码表中，请搜索诊断并从结果中选择。"


class UnknownSymptom(InvalidInput):
    code = "unknown_symptom"
    message_en = "{value} is not a known symptom code."
    message_zh = "“{value}”不是已知的症状代码。"


class TooManyDiagnoses(InvalidInput):
    code = "too_many_diagnoses"
    message_en = "A record holds at most {max} diagnoses."
    message_zh = "一份病历最多 {max} 个诊断。"


class FollowUpRequired(Conflict):
    code = "follow_up_required"
    message_en = (
        "An online diagnosis requires a follow-up visit: the patient needs a prior offline diagnosis of "
        "the same condition ({category}) from the hospital's records or a doctor-confirmed upload, or a "
        "regional first-visit policy covering it (互联网诊疗管理办法(试行), Art. 16). Give advice only."
    )
    message_zh = (
        "根据《互联网诊疗管理办法（试行）》第十六条，互联网诊疗只能为常见病、慢性病患者提供复诊："
        "患者须有同一疾病（{category}）的线下诊断（医院病历，或经医生确认的上传病历），"
        "或有适用的区域首诊政策。本次仅可提供咨询建议，不能作出诊断或开具处方。"
    )


class RecordSigned(Conflict):
    code = "record_signed"
    message_en = "Version {version} of this record is signed and locked; write an amendment instead."
    message_zh = "病历第 {version} 版已签名锁定，不能修改，请另写更正版本。"


class RecordChanged(Conflict):
    code = "record_changed"
    message_en = "The record was changed in the meantime; reload it and try again."
    message_zh = "病历已被修改，请刷新后重试。"


class RecordEmpty(Conflict):
    code = "record_empty"
    message_en = "An empty record cannot be signed: write notes, advice or a diagnosis first."
    message_zh = "病历为空，不能签名：请先书写病情记录、医嘱或诊断。"


class NothingToAmend(Conflict):
    code = "nothing_to_amend"
    message_en = "Only a signed record can be amended; the current version is still a draft."
    message_zh = "只有已签名的病历才能更正，当前版本仍是草稿。"


class AmendmentReasonMissing(InvalidInput):
    code = "amendment_reason_missing"
    message_en = "An amendment must say why the signed record is corrected."
    message_zh = "更正病历须说明更正理由。"


class RetentionPeriod(Conflict):
    code = "retention_period"
    message_en = (
        "Medical records are kept at least {years} years; this one may not be deleted before {earliest}."
    )
    message_zh = "病历须至少保存 {years} 年，此病历在 {earliest} 之前不得删除。"


class PriorNotFound(NotFound):
    code = "prior_diagnosis_not_found"
    message_en = "Prior diagnosis {prior_id} was not found for this patient."
    message_zh = "未找到该患者的既往诊断 {prior_id}。"


class PriorAlreadyConfirmed(Conflict):
    code = "prior_already_confirmed"
    message_en = "This uploaded record was already confirmed."
    message_zh = "该上传病历已被确认。"


class PriorNotUpload(Conflict):
    code = "prior_not_upload"
    message_en = "Only an uploaded record needs a doctor's confirmation; hospital records count as they are."
    message_zh = "只有上传的病历需要医生确认，医院病历无需确认。"


class InvalidPrior(InvalidInput):
    code = "invalid_prior_diagnosis"
    message_en = "The prior diagnosis is not valid: {reason}."
    message_zh = "既往诊断无效：{reason_zh}。"


class InvalidPolicy(InvalidInput):
    code = "invalid_first_visit_policy"
    message_en = "The first-visit policy is not valid: {reason}."
    message_zh = "首诊政策无效：{reason_zh}。"


class PolicyVersionTaken(Conflict):
    code = "policy_version_taken"
    message_en = "Someone saved a new version of policy {key} at the same time; reload and try again."
    message_zh = "政策 {key} 刚被他人保存了新版本，请刷新后重试。"
