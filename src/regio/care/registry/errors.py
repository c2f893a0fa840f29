"""Refusals of the registry, each with a stable code and a message in Chinese and English."""

from __future__ import annotations

from regio.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, PreconditionFailed


class InvalidAdcode(InvalidInput):
    code = "invalid_adcode"
    message_en = (
        "City code {value} is not valid: give a 6-digit prefecture-level adcode (e.g. 330100 Hangzhou)."
    )
    message_zh = "城市行政区划代码 {value} 无效：应为 6 位地级市代码（如 330100 杭州市）。"


class InvalidLicencePeriod(InvalidInput):
    code = "invalid_licence_period"
    message_en = "The licence must be valid from a date on or before the date it is valid to."
    message_zh = "许可证有效期无效：起始日期不能晚于截止日期。"


class InvalidLevel(InvalidInput):
    code = "invalid_level"
    message_en = "Hospital level {value} is not one of the standard levels (e.g. 三级甲等)."
    message_zh = "医院等级“{value}”不是标准等级（如 三级甲等）。"


class InvalidStatus(InvalidInput):
    code = "invalid_status"
    message_en = "Status {value} is not one of approved, suspended, revoked."
    message_zh = "状态“{value}”无效，应为 approved（已批准）、suspended（暂停）或 revoked（注销）。"


class UnknownDepartment(InvalidInput):
    code = "unknown_department"
    message_en = "Department {value} is not on the standard department list."
    message_zh = "科室“{value}”不在标准科室目录中。"


class InvalidTitle(InvalidInput):
    code = "invalid_title"
    message_en = "Title {value} is not one of 主任医师, 副主任医师, 主治医师, 住院医师."
    message_zh = "职称“{value}”无效，应为 主任医师、副主任医师、主治医师 或 住院医师。"


class InvalidLicenceNumber(InvalidInput):
    code = "invalid_licence_no"
    message_en = "The licence number must be 4 to 64 characters without spaces."
    message_zh = "许可证/执业证编号应为 4 至 64 个字符，且不含空格。"


class InvalidName(InvalidInput):
    code = "invalid_name"
    message_en = "A name is required (at most {max} characters, no control characters)."
    message_zh = "名称必填（最多 {max} 个字符，不含控制字符）。"


class InvalidText(InvalidInput):
    code = "invalid_text"
    message_en = "This text is too long (at most {max} characters) or has control characters."
    message_zh = "文字过长（最多 {max} 个字符）或含有控制字符。"


class InvalidPracticeStart(InvalidInput):
    code = "invalid_practice_start"
    message_en = "The start of independent practice must be a real date that is not in the future."
    message_zh = "独立执业起始日期必须是真实且不晚于今天的日期。"


class InvalidDate(InvalidInput):
    code = "invalid_date"
    message_en = "{value} is not a date; write it as YYYY-MM-DD."
    message_zh = "“{value}”不是有效日期，请写成 YYYY-MM-DD。"


class InvalidFlag(InvalidInput):
    code = "invalid_flag"
    message_en = "{value} is not yes or no."
    message_zh = "“{value}”应为 是/否（yes/no）。"


class MissingField(InvalidInput):
    code = "missing_field"
    message_en = "This field is required."
    message_zh = "该字段必填。"


class DuplicateInFile(InvalidInput):
    code = "duplicate_in_file"
    message_en = "Licence number {value} already appears in row {first_row} of this file."
    message_zh = "编号 {value} 已在本文件第 {first_row} 行出现。"


class UnknownHospital(InvalidInput):
    code = "unknown_hospital"
    message_en = "No registered hospital has licence number {value}."
    message_zh = "没有许可证编号为 {value} 的已登记医院。"


class InvalidSites(InvalidInput):
    code = "invalid_sites"
    message_en = "Write extra practice sites as HOSPITAL_LICENCE:DEPARTMENT|DEPARTMENT; separated by ';'."
    message_zh = "其他执业地点格式应为 医院许可证编号:科室|科室，多个地点以“;”分隔。"


class EmptyChange(InvalidInput):
    code = "empty_change"
    message_en = "Nothing to change was given."
    message_zh = "未提供需要修改的内容。"


class InvalidImportFile(InvalidInput):
    code = "invalid_import_file"
    message_en = "The file cannot be imported: {reason_en}"
    message_zh = "文件无法导入：{reason_zh}"


class InvalidIfMatch(DomainError):
    status = 400
    code = "invalid_if_match"
    message_en = 'If-Match must carry the version number you read, e.g. "3".'
    message_zh = 'If-Match 请求头应为读取到的版本号，例如 "3"。'


class HospitalNotFound(NotFound):
    code = "hospital_not_found"
    message_en = "No such hospital."
    message_zh = "未找到该医院。"


class DoctorNotFound(NotFound):
    code = "doctor_not_found"
    message_en = "No such doctor."
    message_zh = "未找到该医生。"


class PharmacistNotFound(NotFound):
    code = "pharmacist_not_found"
    message_en = "No such pharmacist."
    message_zh = "未找到该药师。"


class HospitalExists(Conflict):
    code = "hospital_exists"
    message_en = "A hospital with licence number {licence_no} is already registered."
    message_zh = "许可证编号为 {licence_no} 的医院已登记。"


class DoctorExists(Conflict):
    code = "doctor_exists"
    message_en = "A doctor with this practising licence number is already registered."
    message_zh = "该执业证书编号的医生已登记。"


class PharmacistExists(Conflict):
    code = "pharmacist_exists"
    message_en = "A pharmacist with this licence number is already registered."
    message_zh = "该执业药师注册证编号的药师已登记。"


class PracticeSiteExists(Conflict):
    code = "practice_site_exists"
    message_en = "The doctor already practises in this department of this hospital."
    message_zh = "该医生已在此医院的该科室执业。"


class UserAlreadyLinked(Conflict):
    code = "user_already_linked"
    message_en = "This user account is already linked to another doctor or pharmacist."
    message_zh = "该用户账号已关联其他医生或药师。"


class InvalidStatusTransition(Conflict):
    code = "invalid_status_transition"
    message_en = "A hospital that is {current} cannot become {requested}; a revoked licence is final."
    message_zh = "医院当前状态为 {current}，不能改为 {requested}；已注销的许可不可恢复。"


class StaleVersion(PreconditionFailed):
    code = "stale_version"
    message_en = "This hospital was changed in the meantime (now version {current}); reload and try again."
    message_zh = "该医院信息已被他人修改（当前版本 {current}），请刷新后重试。"


class DoctorNotEligibleOnline(Forbidden):
    code = "doctor_not_eligible_online"
    message_en = (
        "This doctor may not consult online: the Measures for the Administration of Internet Diagnosis "
        "and Treatment (Trial) require real-name verification and at least 3 years of independent "
        "clinical practice."
    )
    message_zh = "该医生暂不可在线问诊：根据《互联网诊疗管理办法(试行)》，医师须经实名认证并具有 3 年以上独立临床工作经验。"


class DepartmentNotOffered(InvalidInput):
    code = "department_not_offered"
    message_en = "The hospital does not offer department {value}; add the department to the hospital first."
    message_zh = "该医院未开设科室“{value}”，请先为医院添加该科室。"


class UnknownUser(InvalidInput):
    code = "unknown_user"
    message_en = "No user account has id {value}."
    message_zh = "不存在编号为 {value} 的用户账号。"


class StaffManagedElsewhere(Forbidden):
    code = "staff_managed_elsewhere"
    message_en = (
        "Licence number {value} belongs to someone who also works at a hospital you do not manage; "
        "their record cannot be changed from here."
    )
    message_zh = "编号 {value} 对应的人员也在您无权管理的医院执业，不能在此修改其信息。"
