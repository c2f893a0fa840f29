"""Refusals of fees, insurance and payment, each with a stable code and a message in Chinese and English."""

from __future__ import annotations

from regio.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class OrderNotFound(NotFound):
    code = "order_not_found"
    message_en = "There is no order {order_id} that you may see."
    message_zh = "未找到您可查看的订单 {order_id}。"


class NotYourPatient(NotFound):
    code = "patient_not_found"
    message_en = "Patient {patient_id} is not someone you act for."
    message_zh = "就诊人 {patient_id} 不是您可代办的人。"


class DateOutOfRange(InvalidInput):
    code = "date_out_of_range"
    message_en = "Choose a date between 2000 and 2100."
    message_zh = "请选择 2000 年至 2100 年之间的日期。"


class NothingToPay(NotFound):
    code = "nothing_to_pay"
    message_en = "There is nothing of yours to pay for here: {reason}"
    message_zh = "没有可支付的项目：{reason_zh}"


class AlreadyOrdered(Conflict):
    code = "already_ordered"
    message_en = "An order for this is already open or paid (order {order_id})."
    message_zh = "该项目已有待支付或已支付的订单（订单 {order_id}）。"


class OrderNotPayable(Conflict):
    code = "order_not_payable"
    message_en = "This order cannot be paid now (status: {status})."
    message_zh = "该订单当前不能支付（状态：{status_zh}）。"


class PriceMissing(Conflict):
    code = "price_missing"
    message_en = "The pharmacy has no price for: {drugs}. Ask the pharmacy or choose another one."
    message_zh = "该药房未登记以下药品价格：{drugs}。请咨询药房或更换药房。"


class NoInsurancePolicy(InvalidInput):
    code = "no_insurance_policy"
    message_en = "No insurance policy applies to region {region} on {on}."
    message_zh = "{on} 地区 {region} 没有适用的医保政策。"


class InsuranceInputInvalid(InvalidInput):
    code = "insurance_input_invalid"
    message_en = "The insurance preview cannot be worked out: {problem}"
    message_zh = "无法计算医保结算预览：{problem}"


class RefundTooLarge(Conflict):
    code = "refund_too_large"
    message_en = "At most {left_fen} fen of this order can still be refunded."
    message_zh = "该订单最多还可退 {left_yuan} 元。"


class NotRefundable(Conflict):
    code = "not_refundable"
    message_en = "This order cannot be refunded (status: {status})."
    message_zh = "该订单不能退款（状态：{status_zh}）。"


class RefundForbidden(Forbidden):
    code = "refund_forbidden"
    message_en = "Refunds are made by the hospital (or by you, for a booking you cancel in time)."
    message_zh = "退款由医院办理（或在规定时间内取消预约时自动退款）。"


class PricingForbidden(Forbidden):
    code = "pricing_forbidden"
    message_en = "A hospital's fees are set by its administrators; a pharmacy's prices by its own staff."
    message_zh = "诊察费由本院管理员设置，药品价格由本药房人员设置。"


class UnknownDrug(InvalidInput):
    code = "unknown_drug"
    message_en = "{drug_code} is not in the drug catalog."
    message_zh = "药品目录中没有“{drug_code}”。"


class ReconciliationForbidden(Forbidden):
    code = "reconciliation_forbidden"
    message_en = "The reconciliation report is for the hospital's administrators."
    message_zh = "对账报表仅向本院管理员开放。"


class BadGatewayNotification(InvalidInput):
    code = "bad_payment_notification"
    message_en = "The payment notification is malformed: {problem}"
    message_zh = "支付通知格式错误：{problem}"


class SimulationOff(Forbidden):
    code = "payment_simulation_off"
    message_en = "The demonstration payment page works only with the in-memory gateway."
    message_zh = "模拟支付仅在演示环境可用。"
