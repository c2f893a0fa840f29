"""Refusals of prescribing, review and dispensing, each with a stable code and a message in Chinese and English."""

from __future__ import annotations

from regio.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests


class PrescriptionNotFound(NotFound):
    code = "prescription_not_found"
    message_en = "There is no prescription {prescription_id} that you may see."
    message_zh = "未找到您可查看的处方 {prescription_id}。"


class ConsultationNotFound(NotFound):
    code = "consultation_not_found"
    message_en = "Consultation {consultation_id} was not found."
    message_zh = "未找到问诊 {consultation_id}。"


class NotTheAttendingDoctor(Forbidden):
    code = "not_attending_doctor"
    message_en = "Only the attending doctor of the consultation writes its prescription, personally."
    message_zh = "处方只能由本次问诊的接诊医师本人开具。"


class ConsultationNotOpen(Conflict):
    code = "consultation_not_open"
    message_en = "A prescription is written once the consultation has started (status now: {status})."
    message_zh = "问诊开始后才能开具处方（当前状态：{status}）。"


class PrescribingNotAllowed(Conflict):
    code = "prescribing_not_allowed"
    message_en = "No online prescription may be written in this consultation: {reasons}"
    message_zh = "本次问诊不能开具互联网处方：{reasons_zh}"


class UnknownDrug(InvalidInput):
    code = "unknown_drug"
    message_en = "Not in the drug catalog: {codes}. Search the catalog and pick a drug by its code."
    message_zh = "药品目录中没有：{codes}。请在药品目录中搜索并按编码选择。"


class UnknownFrequency(InvalidInput):
    code = "unknown_frequency"
    message_en = "{value} is not a known frequency; use one of {allowed}."
    message_zh = "“{value}”不是已知的用药频次，可用：{allowed}。"


class UnknownRoute(InvalidInput):
    code = "unknown_route"
    message_en = "{value} is not a known route; use one of {allowed}."
    message_zh = "“{value}”不是已知的给药途径，可用：{allowed}。"


class PrescriptionBlocked(Conflict):
    code = "prescription_blocked"
    message_en = "The safety checks found problems that forbid this prescription; change it first."
    message_zh = "安全审查发现禁止开具的问题，请修改处方后再提交。"


class OverrideReasonRequired(Conflict):
    code = "override_reason_required"
    message_en = "Each serious finding needs your reason before you sign: {keys}"
    message_zh = "以下严重提示须填写理由后才能签名：{keys}"


class IllegalTransition(Conflict):
    code = "illegal_transition"
    message_en = "The prescription is {status}; this step is not possible now."
    message_zh = "处方当前为“{status}”，不能进行此操作。"


class PrescriptionChanged(Conflict):
    code = "prescription_changed"
    message_en = "The prescription changed meanwhile (revision {current}); reload it and try again."
    message_zh = "处方已被修改（版本 {current}），请刷新后重试。"


class SigningKeyMissing(Conflict):
    code = "signing_key_missing"
    message_en = "Set up your signing key (choose a signing PIN) before you sign prescriptions."
    message_zh = "请先设置签名密钥（设置签名 PIN 码）再签署处方。"


class SigningKeyExists(Conflict):
    code = "signing_key_exists"
    message_en = "You already have a signing key; replace it with your current PIN."
    message_zh = "您已有签名密钥；如需更换，请输入当前 PIN 码。"


class SigningPinWeak(InvalidInput):
    code = "signing_pin_weak"
    message_en = "Choose a signing PIN of 6 to 64 characters that is not a repeated or sequential run."
    message_zh = "签名 PIN 码须为 6–64 位，且不能是重复或连续的数字。"


class SigningPinWrong(Forbidden):
    code = "signing_pin_wrong"
    message_en = "The signing PIN is wrong; {attempts_left} attempts left before signing is locked."
    message_zh = "签名 PIN 码错误，再错 {attempts_left} 次将锁定签名。"


class SigningLocked(TooManyRequests):
    code = "signing_locked"
    message_en = "Signing is locked after repeated wrong PINs until {until}."
    message_zh = "签名 PIN 码多次错误，已锁定至 {until}。"


class SignatureInvalid(Conflict):
    code = "signature_invalid"
    message_en = (
        "The prescription's signature does not verify: it was changed after signing. It cannot be approved."
    )
    message_zh = "处方签名验证失败（签名后被改动），不能审核通过。"


class NotAPharmacist(Forbidden):
    code = "not_reviewing_pharmacist"
    message_en = "Only a pharmacist of the prescribing hospital reviews its prescriptions."
    message_zh = "只有开方医院的药师可以审核该处方。"


class OwnPrescription(Forbidden):
    code = "own_prescription"
    message_en = "A pharmacist does not review a prescription they wrote themselves."
    message_zh = "药师不能审核本人开具的处方。"


class StatisticsRange(InvalidInput):
    code = "statistics_range"
    message_en = "Choose a start no later than the end, at most {max_days} days apart."
    message_zh = "开始日期不能晚于结束日期，跨度不超过 {max_days} 天。"


class ReviewClaimed(Conflict):
    code = "review_claimed"
    message_en = "Another pharmacist has already taken this prescription for review."
    message_zh = "该处方已由其他药师领取审核。"


class NotYourReview(Forbidden):
    code = "not_your_review"
    message_en = "Take the prescription for review first; another pharmacist holds it or nobody does."
    message_zh = "请先领取该处方再审核（它未被领取或由其他药师审核中）。"


class ReasonRequired(InvalidInput):
    code = "reason_required"
    message_en = "Give a reason the doctor and patient can read."
    message_zh = "请填写医生和患者能看懂的理由。"


class RepeatNotAllowed(Conflict):
    code = "repeat_not_allowed"
    message_en = "A repeat prescription needs an earlier approved prescription of the same patient for a chronic disease ({reason})."
    message_zh = "续方须基于同一患者此前审核通过的慢性病处方（{reason_zh}）。"


class PharmacyNotFound(NotFound):
    code = "pharmacy_not_found"
    message_en = "Pharmacy {pharmacy_id} was not found."
    message_zh = "未找到药房 {pharmacy_id}。"


class NotApproved(Conflict):
    code = "not_approved"
    message_en = "Only an approved prescription can be dispensed (status now: {status})."
    message_zh = "处方审核通过后才能取药或配送（当前状态：{status}）。"


class PaymentRequired(Conflict):
    code = "payment_required"
    message_en = "The drugs are handed over or shipped only once they are paid for."
    message_zh = "药品须支付后才能取药或配送。"


class FulfilmentChosen(Conflict):
    code = "fulfilment_chosen"
    message_en = "Pickup or delivery was already chosen for this prescription."
    message_zh = "该处方已选择取药方式。"


class OutOfStock(Conflict):
    code = "out_of_stock"
    message_en = "The pharmacy does not have enough of: {drugs}. Choose another pharmacy."
    message_zh = "该药房库存不足：{drugs}。请选择其他药房。"


class DeliveryUnavailable(Conflict):
    code = "delivery_unavailable"
    message_en = (
        "This pharmacy cannot deliver this prescription ({reason}); choose pickup or another pharmacy."
    )
    message_zh = "该药房无法配送本处方（{reason_zh}），请选择自取或其他药房。"


class AddressRequired(InvalidInput):
    code = "address_required"
    message_en = "Delivery needs the recipient's name, phone and address."
    message_zh = "配送须填写收件人姓名、电话和地址。"


class PickupCodeInvalid(NotFound):
    code = "pickup_code_invalid"
    message_en = "No prescription waits at this pharmacy for that pickup code, or it was used already."
    message_zh = "本药房没有与该取药码对应的待取处方，或该取药码已使用。"


class NotThisPharmacy(Forbidden):
    code = "not_pharmacy_staff"
    message_en = "Only the pharmacy's own pharmacists dispense there."
    message_zh = "只有该药房的药师可以发药。"


class UnknownShipment(NotFound):
    code = "unknown_shipment"
    message_en = "No delivery has tracking id {tracking_id}."
    message_zh = "没有运单号为 {tracking_id} 的配送。"


class BadCourierEvent(InvalidInput):
    code = "bad_courier_event"
    message_en = "The courier event is malformed: {problem}"
    message_zh = "快递状态消息格式错误：{problem}"


class StatisticsForbidden(Forbidden):
    code = "prescribing_statistics_forbidden"
    message_en = (
        "Per-doctor prescribing statistics are shown only to the hospital's own quality role "
        "(no 统方: 医疗机构从业人员行为规范)."
    )
    message_zh = "按医师统计的处方数据仅向本院质控岗位开放（禁止统方）。"
