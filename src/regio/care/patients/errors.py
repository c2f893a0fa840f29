"""Refusals of the patients subdomain, each with a stable code and both languages."""

from __future__ import annotations

from regio.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests

# details.reason is one of these stable words; the sentence tells a person what to fix.
ID_NUMBER_REASONS: dict[str, tuple[str, str]] = {
    "length": ("身份证号码应为 18 位。", "A resident identity number has exactly 18 characters."),
    "characters": (
        "身份证号码前 17 位应为数字，最后一位为数字或 X。",
        "The first 17 characters must be digits and the last a digit or X.",
    ),
    "region": (
        "身份证号码前两位不是有效的省级行政区划代码。",
        "The first two digits are not a valid province-level region code.",
    ),
    "birth_date": (
        "身份证号码中的出生日期（第 7 至 14 位）不是 1900 年以后的真实日期。",
        "The birth date in digits 7 to 14 is not a real past date from 1900 on.",
    ),
    "check_digit": (
        "身份证号码校验位不正确，请核对是否输错。",
        "The check character does not match; please look for a typing mistake.",
    ),
}


class InvalidIdNumber(InvalidInput):
    code = "invalid_id_number"
    message_en = "This is not a valid resident identity number."
    message_zh = "身份证号码无效。"

    def message(self, language: str) -> str:
        reason = ID_NUMBER_REASONS.get(str(self.details.get("reason")))
        if reason is None:
            return super().message(language)
        return reason[0] if language.startswith("zh") else reason[1]


class InvalidPhone(InvalidInput):
    code = "invalid_phone"
    message_en = "Please enter a mainland mobile number of 11 digits starting with 1."
    message_zh = "请输入以 1 开头的 11 位中国大陆手机号码。"


class InvalidName(InvalidInput):
    code = "invalid_name"
    message_en = "Please enter the real name as on the identity card (1 to 50 characters)."
    message_zh = "请填写与身份证一致的真实姓名（1 至 50 个字符）。"


class PatientExists(Conflict):
    code = "patient_exists"
    message_en = (
        "This person is already registered. Send a binding request instead; "
        "the person (or a guardian) must accept it. If it is you, claim your record "
        "with the code sent to the phone on it."
    )
    message_zh = (
        "此人已登记为就诊人，请改为发送绑定申请，经本人（或监护人）同意后生效；"
        "如是您本人，可凭发送到登记手机的验证码认领。"
    )


class SelfAlreadyRegistered(Conflict):
    code = "self_already_registered"
    message_en = "Your own record is already registered on this account."
    message_zh = "本账户已登记过本人信息。"


class BindingExists(Conflict):
    code = "binding_exists"
    message_en = "This person is already bound to your account, or a request is waiting."
    message_zh = "此就诊人已绑定到您的账户，或绑定申请正在等待处理。"


class BindingNotPending(Conflict):
    code = "binding_not_pending"
    message_en = "This binding request has already been answered or withdrawn."
    message_zh = "该绑定申请已处理或已撤回。"


class BindingAlreadyEnded(Conflict):
    code = "binding_already_ended"
    message_en = "This binding has already ended."
    message_zh = "该绑定已解除。"


class SelfBindingPermanent(Conflict):
    code = "self_binding_permanent"
    message_en = "Your own record stays bound to your account; only family members can be unbound."
    message_zh = "本人信息不能与本账户解绑，只能解绑家人。"


class BindingNotFound(NotFound):
    code = "binding_not_found"
    message_en = "No such binding."
    message_zh = "未找到该绑定记录。"


class NotBoundToPatient(Forbidden):
    code = "not_bound_to_patient"
    message_en = "You may act only for yourself and family members bound to your account."
    message_zh = "您只能为本人及已绑定的家人办理。"


class ClaimRequired(InvalidInput):
    code = "claim_required"
    message_en = (
        "Nobody can approve a claim to be someone: to register an existing record as yourself, "
        "confirm with the code sent to the phone on it (POST /api/care/patients/claims)."
    )
    message_zh = (
        "认领本人信息无需他人同意，而须凭发送到登记手机的验证码确认（POST /api/care/patients/claims）。"
    )


class InvalidCode(InvalidInput):
    code = "invalid_code"
    message_en = "This code is not right. Check the latest text message and try again."
    message_zh = "验证码不正确，请核对最新一条短信后重试。"


class CodeExpired(InvalidInput):
    code = "code_expired"
    message_en = "This code has expired or was already used; ask for a new one."
    message_zh = "验证码已过期或已使用，请重新获取。"


class TooManyCodeAttempts(TooManyRequests):
    code = "too_many_code_attempts"
    message_en = "Too many wrong codes; ask for a new code."
    message_zh = "验证码错误次数过多，请重新获取验证码。"


class ClaimNotFound(NotFound):
    code = "claim_not_found"
    message_en = "No such code request."
    message_zh = "未找到该验证请求。"


class ClaimOutdated(Conflict):
    code = "claim_outdated"
    message_en = "The record changed after this code was sent; ask for a new code."
    message_zh = "发送验证码后该就诊人信息已变更，请重新获取验证码。"


class BindingRequestNotFound(NotFound):
    code = "binding_request_not_found"
    message_en = "No such binding request of yours."
    message_zh = "未找到您的该条绑定申请。"


class FormExpired(InvalidInput):
    code = "form_expired"
    message_en = "This form has expired (after 10 minutes); please fill it in again."
    message_zh = "表单已过期（10 分钟有效），请重新填写。"


class IdentityMissing(InvalidInput):
    code = "identity_missing"
    message_en = "Give the identity number (and phone, where asked)."
    message_zh = "请填写身份证号码（及要求填写的手机号码）。"
